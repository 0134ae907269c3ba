/*
 * check_addr.c - address parsing, formatting and the UDP loop guard.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "unit.h"

static struct sockaddr_storage
sa(const char *text, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_msg(addr_parse(text, &ss, &len) == 0, "parse %s", text);
	addr_set_port((struct sockaddr *)&ss, port);
	return ss;
}

START_TEST(test_parse_valid)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(addr_parse("127.0.0.1", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_int_eq(addr_parse("::", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert(addr_is_any((struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse("0.0.0.0", &ss, &len), 0);
	ck_assert(addr_is_any((struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse("::1", &ss, &len), 0);
	ck_assert(!addr_is_any((struct sockaddr *)&ss));
	ck_assert_uint_eq(addr_port((struct sockaddr *)&ss), 0);
	ck_assert_int_eq(addr_parse("fe80::1%lo", &ss, &len), 0);
	ck_assert_uint_ne(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 0);
}
END_TEST

START_TEST(test_parse_invalid)
{
	struct sockaddr_storage ss;
	socklen_t len;
	static const char *const bad[] = { "", "localhost", "1.2.3", "::g",
	    "1.2.3.4:80", "[::1]", "256.1.1.1", " 1.2.3.4", "*" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(addr_parse(bad[i], &ss, &len) == -1, "%s",
		    bad[i]);
	ck_assert_int_eq(addr_parse(NULL, &ss, &len), -1);
}
END_TEST

START_TEST(test_format)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];

	ss = sa("192.0.2.7", 8008);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.7:8008");
	ss = sa("2001:db8::1", 65535);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8::1]:65535");
	ss = sa("::ffff:10.1.2.3", 9);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.1.2.3:9");
}
END_TEST

START_TEST(test_udp_guard_ports)
{
	static const uint16_t own[] = { 8008, 9000 };
	struct sockaddr_storage ss;

	ss = sa("192.0.2.1", 40000);
	ck_assert(addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 1024);
	ck_assert(addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 1023);
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 7);	/* echo */
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 19);	/* chargen */
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 0);
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("192.0.2.1", 8008);	/* another upcased */
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("2001:db8::5", 9000);
	ck_assert(!addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ss = sa("2001:db8::5", 9001);
	ck_assert(addr_udp_source_ok((struct sockaddr *)&ss, own, 2));
	ck_assert(addr_udp_source_ok((struct sockaddr *)&ss, NULL, 0));
}
END_TEST

START_TEST(test_udp_guard_addresses)
{
	static const char *const bad[] = { "0.0.0.0", "255.255.255.255",
	    "224.0.0.1", "239.255.255.250", "::", "ff02::1",
	    "::ffff:255.255.255.255", "::ffff:224.0.0.251", "::ffff:0.0.0.0" };
	static const char *const good[] = { "127.0.0.1", "192.0.2.1", "::1",
	    "2001:db8::1", "::ffff:127.0.0.1", "fe80::1" };
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ss = sa(bad[i], 40000);
		ck_assert_msg(!addr_udp_source_ok((struct sockaddr *)&ss,
		    NULL, 0), "%s", bad[i]);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ss = sa(good[i], 40000);
		ck_assert_msg(addr_udp_source_ok((struct sockaddr *)&ss,
		    NULL, 0), "%s", good[i]);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_invalid);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_udp_guard_ports);
	tcase_add_test(tc, test_udp_guard_addresses);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
