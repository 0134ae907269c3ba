/*
 * check_prefix.c - network prefixes: parse, format, contain.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "prefix.h"
#include "unit.h"
#include "unit_acl.h"

/* text parses to a prefix of family fam and length len; returns it. */
static struct prefix
pfx_is(const char *text, unsigned fam, unsigned len)
{
	struct prefix p = unit_prefix(text);

	ck_assert_msg(p.family == fam, "%s: family %u, want %u", text,
	    p.family, fam);
	ck_assert_msg(p.len == len, "%s: /%u, want /%u", text, p.len, len);
	return p;
}

static void
fmt_is(const char *text, const char *want)
{
	struct prefix p = unit_prefix(text);
	char buf[PREFIX_STRLEN];

	prefix_format(&p, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, want) == 0, "%s: got %s, want %s", text,
	    buf, want);
}

static void
err_has(const char *text, const char *want)
{
	struct prefix p;
	char err[128] = "";

	memset(&p, 0xa5, sizeof(p));
	ck_assert_msg(prefix_parse(text, &p, err, sizeof(err)) == -1,
	    "%s parsed", text);
	ck_assert_msg(strstr(err, want) != NULL, "%s: got \"%s\", want \"%s\"",
	    text, err, want);
}

START_TEST(test_parse_v4)
{
	struct prefix p;

	p = pfx_is("192.0.2.0/24", AF_INET, 24);
	ck_assert_uint_eq(p.addr[0], 192);
	ck_assert_uint_eq(p.addr[1], 0);
	ck_assert_uint_eq(p.addr[2], 2);
	ck_assert_uint_eq(p.addr[3], 0);
	p = unit_prefix("192.0.2.1");
	ck_assert_uint_eq(p.len, 32);
	ck_assert_uint_eq(p.addr[3], 1);
	pfx_is("0.0.0.0/0", AF_INET, 0);
	p = unit_prefix("255.255.255.255/32");
	ck_assert_uint_eq(p.addr[0], 255);
	p = unit_prefix("10.0.0.0/8");
	ck_assert_uint_eq(p.len, 8);
}
END_TEST

START_TEST(test_parse_v6)
{
	struct prefix p;
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	p = pfx_is("2001:db8::/32", AF_INET6, 32);
	ck_assert_mem_eq(p.addr, db8, 16);
	p = unit_prefix("::1");
	ck_assert_uint_eq(p.len, 128);
	ck_assert_uint_eq(p.addr[15], 1);
	pfx_is("::/0", AF_INET6, 0);
	p = unit_prefix("fd00::/8");
	ck_assert_uint_eq(p.addr[0], 0xfd);
	/* The deprecated IPv4-compatible form is plain IPv6. */
	p = unit_prefix("::10.1.2.3");
	ck_assert_uint_eq(p.family, AF_INET6);
}
END_TEST

START_TEST(test_parse_mapped)
{
	struct prefix p;

	p = pfx_is("::ffff:10.1.2.3", AF_INET, 32);
	ck_assert_uint_eq(p.addr[0], 10);
	ck_assert_uint_eq(p.addr[3], 3);
	ck_assert_uint_eq(p.addr[4], 0);
	ck_assert_uint_eq(p.addr[15], 0);
	pfx_is("::ffff:10.0.0.0/104", AF_INET, 8);
	pfx_is("::ffff:0:0/96", AF_INET, 0);
	p = unit_prefix("::FFFF:c000:0201");
	ck_assert_uint_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.addr[0], 192);
	ck_assert_uint_eq(p.addr[3], 1);
	err_has("::ffff:0:0/95", "/96 or longer");
	err_has("::ffff:0:0/0", "/96 or longer");
	err_has("::ffff:10.1.2.3/104", "did you mean 10.0.0.0/8?");
}
END_TEST

START_TEST(test_host_bits)
{
	err_has("10.1.2.3/8", "host bits set: did you mean 10.0.0.0/8?");
	err_has("192.0.2.1/24", "did you mean 192.0.2.0/24?");
	err_has("192.0.2.128/24", "did you mean 192.0.2.0/24?");
	err_has("1.0.0.0/0", "did you mean 0.0.0.0/0?");
	err_has("10.0.0.1/31", "did you mean 10.0.0.0/31?");
	err_has("2001:db8::1/32", "did you mean 2001:db8::/32?");
	err_has("2001:db8:4000::/33", "did you mean 2001:db8::/33?");
	err_has("::1/127", "did you mean ::/127?");
	/* Just inside: no host bit. */
	unit_prefix("10.0.0.2/31");
	unit_prefix("2001:db8:8000::/33");
}
END_TEST

START_TEST(test_parse_invalid)
{
	static const char *const bad[] = { "", "/", "/8", "10.0.0.0/",
	    "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/+8", "10.0.0.0/-8",
	    "10.0.0.0/ 8", "10.0.0.0/8 ", " 10.0.0.0/8", "10.0.0.0 /8",
	    "10.0.0.0/8/8", "10.0.0.0//8", "10.0.0.0/0x8", "10.0.0.0/1000",
	    "10.0.0.0/0008", "10/8", "10.1/16", "010.0.0.0/8", "1.2.3.4.5",
	    "256.0.0.0/8", "::/129", "::/00", "fe80::1%lo", "fe80::/10%lo",
	    "fe80::%1/10", "[::1]", "[::1]/128", "::g", "1:2:3:4:5:6:7:8:9",
	    "localhost", "*", "any", "1.2.3.4:80", "0x0a000000/8",
	    "10.0.0.0/8\n", "2001:db8::/32 ",
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999/128" };
	struct prefix p;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(prefix_parse(bad[i], &p, err, sizeof(err)) == -1,
		    "\"%s\" parsed", bad[i]);
		ck_assert_msg(err[0] != '\0', "\"%s\": no reason", bad[i]);
	}
	ck_assert_int_eq(prefix_parse(NULL, &p, err, sizeof(err)), -1);
	/* err may be NULL or tiny. */
	ck_assert_int_eq(prefix_parse("10.1.0.0/8", &p, NULL, 0), -1);
	ck_assert_int_eq(prefix_parse("10.1.0.0/8", &p, err, 1), -1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(prefix_parse("10.1.0.0/8", &p, err, 5), -1);
	ck_assert_str_eq(err, "host");
}
END_TEST

START_TEST(test_errors)
{
	err_has("10.0.0.0/33", "from 0 to 32");
	err_has("::/129", "from 0 to 128");
	err_has("fe80::1%eth0", "zone id");
	err_has("example.com", "not an IPv4 address");
	err_has("::x", "not an IPv6 address");
	err_has("", "empty");
	err_has("/24", "no address");
}
END_TEST

START_TEST(test_format)
{
	fmt_is("192.0.2.0/24", "192.0.2.0/24");
	fmt_is("192.0.2.1", "192.0.2.1/32");
	fmt_is("0.0.0.0/0", "0.0.0.0/0");
	fmt_is("2001:DB8::/32", "2001:db8::/32");
	fmt_is("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128");
	fmt_is("::1", "::1/128");
	fmt_is("::/0", "::/0");
	fmt_is("::ffff:192.0.2.0/120", "192.0.2.0/24");
	fmt_is("::10.1.2.3", "::10.1.2.3/128");
}
END_TEST

START_TEST(test_round_trip)
{
	static const char *const in[] = { "0.0.0.0/0", "128.0.0.0/1",
	    "10.0.0.0/8", "172.16.0.0/12", "192.0.2.7", "::/0", "8000::/1",
	    "2001:db8::/32", "fe80::/10", "::1", "::", "::10.1.2.3",
	    "::ffff:0:0/96", "1:2:3:4:5:6:7:8", "ff02::1:ff00:0/104",
	    "64:ff9b::/96", "64:ff9b::192.0.2.1" };
	char buf[PREFIX_STRLEN];
	struct prefix a, b;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		a = unit_prefix(in[i]);
		prefix_format(&a, buf, sizeof(buf));
		b = unit_prefix(buf);
		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s -> %s",
		    in[i], buf);
	}
}
END_TEST

/* The address text (with a port) as a sockaddr is the prefix want. */
static void
from_sa_is(const char *text, const char *want)
{
	struct sockaddr_storage ss;
	struct prefix p, q = unit_prefix(want);
	socklen_t len;

	ck_assert_int_eq(addr_parse(text, &ss, &len), 0);
	addr_set_port((struct sockaddr *)&ss, 4242);
	ck_assert(prefix_from_sockaddr((struct sockaddr *)&ss, &p));
	ck_assert_mem_eq(&p, &q, sizeof(p));
}

START_TEST(test_from_sockaddr)
{
	struct sockaddr_storage ss;
	struct prefix p;

	from_sa_is("192.0.2.9", "192.0.2.9/32");
	from_sa_is("::ffff:192.0.2.9", "192.0.2.9/32");
	from_sa_is("2001:db8::5", "2001:db8::5/128");
	/* The scope is not part of it. */
	from_sa_is("fe80::1%lo", "fe80::1");

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert(!prefix_from_sockaddr((struct sockaddr *)&ss, &p));
}
END_TEST

static bool
contains(const char *net, const char *addr)
{
	struct prefix n = unit_prefix(net), a = unit_prefix(addr);

	return prefix_contains(&n, &a);
}

START_TEST(test_contains)
{
	ck_assert(contains("10.0.0.0/8", "10.255.255.255"));
	ck_assert(contains("10.0.0.0/8", "10.0.0.0"));
	ck_assert(!contains("10.0.0.0/8", "11.0.0.0"));
	ck_assert(!contains("10.0.0.0/8", "9.255.255.255"));
	ck_assert(contains("10.0.0.0/8", "10.1.0.0/16"));
	ck_assert(contains("10.0.0.0/8", "10.0.0.0/8"));
	ck_assert(!contains("10.1.0.0/16", "10.0.0.0/8"));
	ck_assert(contains("0.0.0.0/0", "255.255.255.255"));
	ck_assert(!contains("0.0.0.0/0", "::1"));
	ck_assert(!contains("::/0", "1.2.3.4"));
	ck_assert(contains("::/0", "::1"));
	ck_assert(contains("192.0.2.1", "192.0.2.1"));
	ck_assert(!contains("192.0.2.1", "192.0.2.0"));
	ck_assert(contains("10.0.0.0/7", "11.1.1.1"));
	ck_assert(!contains("10.0.0.0/7", "12.0.0.0"));
	ck_assert(contains("192.0.2.128/25", "192.0.2.200"));
	ck_assert(!contains("192.0.2.128/25", "192.0.2.127"));
	ck_assert(contains("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!contains("2001:db8::/32", "2001:db9::"));
	ck_assert(contains("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!contains("2001:db8::/33", "2001:db8:8000::"));
	ck_assert(contains("::1", "::1"));
	ck_assert(!contains("::1", "::"));
	ck_assert(contains("::ffff:10.0.0.0/104", "10.2.3.4"));
}
END_TEST

/* Every length: the mask and containment agree with a bit-by-bit model. */
START_TEST(test_every_length)
{
	struct prefix p, a;
	unsigned len, bit, i, n;
	int fam;

	for (fam = 0; fam < 2; fam++) {
		n = fam == 0 ? 32 : 128;
		for (len = 0; len <= n; len++) {
			memset(&a, 0, sizeof(a));
			a.family = fam == 0 ? AF_INET : AF_INET6;
			a.len = (uint8_t)n;
			memset(a.addr, 0xff, n / 8);
			p = a;
			p.len = (uint8_t)len;
			prefix_mask(&p);
			for (i = 0; i < 16; i++)
				for (bit = 0; bit < 8; bit++)
					ck_assert_uint_eq((p.addr[i] >> (7 - bit)) & 1,
					    i * 8 + bit < len ? 1u : 0u);
			ck_assert(prefix_contains(&p, &a));
			if (len > 0) {
				/* Flip the last network bit: outside. */
				a.addr[(len - 1) / 8] ^=
				    (uint8_t)(0x80u >> ((len - 1) % 8));
				ck_assert(!prefix_contains(&p, &a));
				a.addr[(len - 1) / 8] ^=
				    (uint8_t)(0x80u >> ((len - 1) % 8));
			}
			if (len < n) {
				/* Flip the first host bit: still inside. */
				a.addr[len / 8] ^= (uint8_t)(0x80u >> (len % 8));
				ck_assert(prefix_contains(&p, &a));
			}
		}
	}
}
END_TEST

static Suite *
prefix_suite(void)
{
	Suite *s = suite_create("prefix");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_v4);
	tcase_add_test(tc, test_parse_v6);
	tcase_add_test(tc, test_parse_mapped);
	tcase_add_test(tc, test_host_bits);
	tcase_add_test(tc, test_parse_invalid);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_from_sockaddr);
	tcase_add_test(tc, test_contains);
	tcase_add_test(tc, test_every_length);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(prefix_suite());
}
