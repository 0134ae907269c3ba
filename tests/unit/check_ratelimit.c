/*
 * check_ratelimit.c - the per-source token buckets, with a fake clock.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ratelimit.h"
#include "unit.h"

static struct sockaddr_storage
src(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(addr_parse(text, &ss, &len), 0);
	addr_set_port((struct sockaddr *)&ss, 40000);
	return ss;
}

/* How many of n datagrams at time t pass. */
static unsigned
send_n(struct ratelimit *rl, const char *from, unsigned n, uint64_t t)
{
	struct sockaddr_storage ss = src(from);
	unsigned ok = 0;

	while (n-- > 0)
		ok += ratelimit_allow(rl, (struct sockaddr *)&ss, t);
	return ok;
}

START_TEST(test_burst_then_rate)
{
	struct ratelimit *rl = ratelimit_new(64);

	ratelimit_configure(rl, 100, 20);
	ck_assert_uint_eq(send_n(rl, "192.0.2.1", 50, 1000), 20);
	/* 100/s: 10 ms earn one datagram, 500 ms fifty (capped at 20). */
	ck_assert_uint_eq(send_n(rl, "192.0.2.1", 5, 1010), 1);
	ck_assert_uint_eq(send_n(rl, "192.0.2.1", 5, 1050), 4);
	ck_assert_uint_eq(send_n(rl, "192.0.2.1", 50, 1550), 20);
	/* Over ten seconds at most burst + rate * 10. */
	{
		unsigned total = 0;
		uint64_t t;

		for (t = 2000; t < 12000; t += 7)
			total += send_n(rl, "192.0.2.1", 3, t);
		ck_assert_uint_le(total, 20 + 100 * 10 + 1);
		ck_assert_uint_ge(total, 100 * 10 - 10);
	}
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_sources_are_separate)
{
	struct ratelimit *rl = ratelimit_new(64);

	ratelimit_configure(rl, 10, 5);
	ck_assert_uint_eq(send_n(rl, "192.0.2.1", 100, 5000), 5);
	ck_assert_uint_eq(send_n(rl, "192.0.2.2", 100, 5000), 5);
	ck_assert_uint_eq(send_n(rl, "2001:db8::1", 100, 5000), 5);
	ck_assert_uint_eq(send_n(rl, "2001:db8:0:1::1", 100, 5000), 5);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_prefixes)
{
	struct ratelimit *rl = ratelimit_new(64);

	ratelimit_configure(rl, 10, 5);
	/* One IPv6 /64 is one source, whatever the host part. */
	ck_assert_uint_eq(send_n(rl, "2001:db8::1", 3, 5000), 3);
	ck_assert_uint_eq(send_n(rl, "2001:db8::ffff:2", 10, 5000), 2);
	/* IPv4-mapped IPv6 is the IPv4 address. */
	ck_assert_uint_eq(send_n(rl, "198.51.100.7", 3, 5000), 3);
	ck_assert_uint_eq(send_n(rl, "::ffff:198.51.100.7", 10, 5000), 2);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_off_and_reconfigure)
{
	struct ratelimit *rl = ratelimit_new(16);

	ratelimit_configure(rl, 0, 1);
	ck_assert_uint_eq(send_n(rl, "192.0.2.9", 10000, 100), 10000);
	ratelimit_configure(rl, 1, 3);
	ck_assert_uint_eq(send_n(rl, "192.0.2.9", 10, 200), 3);
	ratelimit_configure(rl, 1000, 1000);	/* tokens kept, then refill */
	ck_assert_uint_eq(send_n(rl, "192.0.2.9", 10, 200), 0);
	ck_assert_uint_eq(send_n(rl, "192.0.2.9", 10, 210), 10);
	ratelimit_free(rl);
}
END_TEST

/* Many sources in a small table: a hot source keeps its slot (stays
 * limited) while cold ones come and go. */
START_TEST(test_hot_source_keeps_its_slot)
{
	struct ratelimit *rl = ratelimit_new(16);
	char addr[32];
	unsigned i, hot = 0;

	ratelimit_configure(rl, 1, 10);
	for (i = 0; i < 2000; i++) {
		hot += send_n(rl, "203.0.113.5", 1, 1000);
		snprintf(addr, sizeof(addr), "10.0.%u.%u", i / 250, i % 250);
		(void)send_n(rl, addr, 1, 1000);
	}
	/* Never freed from its limit: its burst, and nothing more. */
	ck_assert_uint_eq(hot, 10);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_unknown_family_passes)
{
	struct ratelimit *rl = ratelimit_new(16);
	struct sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	ratelimit_configure(rl, 1, 1);
	ck_assert(ratelimit_allow(rl, &sa, 10));
	ck_assert(ratelimit_allow(rl, &sa, 10));
	ratelimit_free(rl);
}
END_TEST

/* How many of n datagrams from address:port at time t pass, per port. */
static unsigned
send_port(struct ratelimit *rl, const char *from, uint16_t port, unsigned n,
    uint64_t t)
{
	struct sockaddr_storage ss = src(from);
	unsigned ok = 0;

	addr_set_port((struct sockaddr *)&ss, port);
	while (n-- > 0)
		ok += ratelimit_allow_port(rl, (struct sockaddr *)&ss, t);
	return ok;
}

/* A balancer's sessions (one source port each) have a bucket each. */
START_TEST(test_keyed_by_port)
{
	struct ratelimit *rl = ratelimit_new(256);
	unsigned port, ok = 0;

	ratelimit_configure(rl, 10, 5);
	for (port = 30000; port < 30020; port++)
		ok += send_port(rl, "192.0.2.9", (uint16_t)port, 5, 5000);
	ck_assert_uint_eq(ok, 20 * 5);
	/* Each session is still held to its own rate. */
	ck_assert_uint_eq(send_port(rl, "192.0.2.9", 30000, 10, 5000), 0);
	ck_assert_uint_eq(send_port(rl, "192.0.2.9", 30000, 10, 5100), 1);
	/* One port of another address, or of another /64, is another. */
	ck_assert_uint_eq(send_port(rl, "192.0.2.10", 30000, 10, 5000), 5);
	ck_assert_uint_eq(send_port(rl, "2001:db8::1", 30000, 10, 5000), 5);
	ck_assert_uint_eq(send_port(rl, "2001:db8:0:1::1", 30000, 10, 5000),
	    5);
	/* A balancer is one host: another in its /64 is another too. */
	ck_assert_uint_eq(send_port(rl, "2001:db8::2", 30000, 10, 5000), 5);
	ck_assert_uint_eq(send_port(rl, "2001:db8::1", 30000, 10, 5000), 0);
	/* Without the port a /64 is still one source. */
	ck_assert_uint_eq(send_n(rl, "2001:db8::1", 10, 5000), 5);
	ck_assert_uint_eq(send_n(rl, "2001:db8::2", 10, 5000), 0);
	/* The address's own bucket is apart from its sessions' buckets. */
	ck_assert_uint_eq(send_n(rl, "192.0.2.9", 10, 5000), 5);
	ck_assert_uint_eq(send_port(rl, "192.0.2.9", 30001, 10, 5000), 0);
	ck_assert_uint_eq(send_port(rl, "192.0.2.9", 30020, 10, 5000), 5);
	ratelimit_free(rl);
}
END_TEST

/* Without the port, the same datagrams share the address's bucket. */
START_TEST(test_not_keyed_by_port)
{
	struct ratelimit *rl = ratelimit_new(256);
	struct sockaddr_storage ss = src("192.0.2.9");
	unsigned port, ok = 0;

	ratelimit_configure(rl, 10, 5);
	for (port = 30000; port < 30020; port++) {
		addr_set_port((struct sockaddr *)&ss, (uint16_t)port);
		ok += ratelimit_allow(rl, (struct sockaddr *)&ss, 5000);
		ok += ratelimit_allow(rl, (struct sockaddr *)&ss, 5000);
	}
	ck_assert_uint_eq(ok, 5);
	ratelimit_free(rl);
}
END_TEST

/* Rate 0: everything passes, per port too. */
START_TEST(test_port_off)
{
	struct ratelimit *rl = ratelimit_new(16);

	ratelimit_configure(rl, 0, 1);
	ck_assert_uint_eq(send_port(rl, "192.0.2.9", 40000, 1000, 1), 1000);
	ratelimit_free(rl);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, test_burst_then_rate);
	tcase_add_test(tc, test_sources_are_separate);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_off_and_reconfigure);
	tcase_add_test(tc, test_hot_source_keeps_its_slot);
	tcase_add_test(tc, test_unknown_family_passes);
	tcase_add_test(tc, test_keyed_by_port);
	tcase_add_test(tc, test_not_keyed_by_port);
	tcase_add_test(tc, test_port_off);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
