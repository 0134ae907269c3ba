/*
 * check_srclimit.c - open connections per source, their rate, and the
 * rate state an upgrade hands over.
 */
#include <check.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "handover.h"
#include "srclimit.h"
#include "unit.h"

static struct sockaddr_storage
src(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(addr_parse(text, &ss, &len), 0);
	return ss;
}

#define SA(ss)	((struct sockaddr *)&(ss))

START_TEST(test_limit_per_source)
{
	struct srclimit *sl = srclimit_new();
	struct sockaddr_storage a = src("192.0.2.1"), b = src("192.0.2.2");
	bool counted;
	int i;

	srclimit_set_max(sl, 3);
	for (i = 0; i < 3; i++) {
		ck_assert(srclimit_acquire(sl, SA(a), &counted));
		ck_assert(counted);
	}
	ck_assert(!srclimit_acquire(sl, SA(a), &counted));
	ck_assert(!counted);
	ck_assert_uint_eq(srclimit_count(sl, SA(a)), 3);
	ck_assert(srclimit_acquire(sl, SA(b), &counted));	/* another */
	srclimit_release(sl, SA(a));
	ck_assert(srclimit_acquire(sl, SA(a), &counted));
	ck_assert_uint_eq(srclimit_count(sl, SA(a)), 3);
	srclimit_free(sl);
}
END_TEST

START_TEST(test_prefixes_and_mapped)
{
	struct srclimit *sl = srclimit_new();
	struct sockaddr_storage a = src("2001:db8::1"),
	    b = src("2001:db8::2:3"), c = src("2001:db8:0:1::1"),
	    v4 = src("198.51.100.7"), m = src("::ffff:198.51.100.7");
	bool counted;

	srclimit_set_max(sl, 2);
	ck_assert(srclimit_acquire(sl, SA(a), &counted));
	ck_assert(srclimit_acquire(sl, SA(b), &counted));	/* same /64 */
	ck_assert(!srclimit_acquire(sl, SA(a), &counted));
	ck_assert(srclimit_acquire(sl, SA(c), &counted));	/* other /64 */
	ck_assert(srclimit_acquire(sl, SA(v4), &counted));
	ck_assert(srclimit_acquire(sl, SA(m), &counted));	/* = v4 */
	ck_assert(!srclimit_acquire(sl, SA(v4), &counted));
	srclimit_free(sl);
}
END_TEST

START_TEST(test_entries_go_away)
{
	struct srclimit *sl = srclimit_new();
	struct sockaddr_storage a = src("203.0.113.9");
	bool counted;
	int i;

	srclimit_set_max(sl, 0);		/* no limit */
	for (i = 0; i < 1000; i++)
		ck_assert(srclimit_acquire(sl, SA(a), &counted));
	for (i = 0; i < 1000; i++)
		srclimit_release(sl, SA(a));
	ck_assert_uint_eq(srclimit_count(sl, SA(a)), 0);
	/* (valgrind and LeakSanitizer see the entry freed) */
	srclimit_free(sl);
}
END_TEST

START_TEST(test_other_family_uncounted)
{
	struct srclimit *sl = srclimit_new();
	struct sockaddr_un un;
	bool counted = true;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	srclimit_set_max(sl, 1);
	ck_assert(srclimit_acquire(sl, (struct sockaddr *)&un, &counted));
	ck_assert(!counted);
	ck_assert(srclimit_acquire(sl, (struct sockaddr *)&un, &counted));
	srclimit_free(sl);
}
END_TEST

/*
 * An upgrade: the rate state travels as arrival times ahead of now, is
 * imported before the connections (which count themselves again, past
 * the limit, as tcp_conn_import() does), and holds on another clock.
 */
START_TEST(test_handover)
{
	struct srclimit *old = srclimit_new(), *sl = srclimit_new();
	struct sockaddr_storage a = src("192.0.2.1"), b = src("2001:db8::1"),
	    c = src("198.51.100.7"), e = src("2001:db8:0:1::5");
	struct handover_source *v;
	const uint64_t t0 = 1000000, t1 = 5000000;	/* two clocks, ms */
	bool counted;
	size_t n;
	int i;

	/* 10 a second, 3 at once: 100 ms a token, 200 ms of tolerance */
	srclimit_set_max(old, 2);
	srclimit_set_rate(old, 10, 3);
	ck_assert_int_eq(srclimit_admit(old, SA(c), true, t0 - 1000,
	    &counted), SRCLIMIT_OK);		/* long ago: refilled */
	srclimit_release(old, SA(c));
	ck_assert_int_eq(srclimit_admit(old, SA(b), true, t0, &counted),
	    SRCLIMIT_OK);
	srclimit_release(old, SA(b));		/* idle, 100 ms ahead */
	ck_assert_int_eq(srclimit_admit(old, SA(e), true, t0, &counted),
	    SRCLIMIT_OK);
	srclimit_release(old, SA(e));		/* idle after b */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(srclimit_admit(old, SA(a), true, t0,
		    &counted), i < 2 ? SRCLIMIT_OK : SRCLIMIT_FULL);
	srclimit_release(old, SA(a));
	ck_assert_int_eq(srclimit_admit(old, SA(a), true, t0, &counted),
	    SRCLIMIT_OK);			/* 2 open, 300 ms ahead */
	ck_assert_int_eq(srclimit_admit(old, SA(e), true, t0, &counted),
	    SRCLIMIT_OK);
	srclimit_release(old, SA(e));		/* e closed again: after b */

	ck_assert_int_eq(srclimit_export(old, t0, &v, &n), 0);
	ck_assert_uint_eq(n, 3);		/* not c: its bucket is full */
	ck_assert_uint_eq(v[0].family, AF_INET6);	/* b, oldest idle */
	ck_assert_uint_eq(v[0].prefix[0], 0x20);
	ck_assert_uint_eq(v[0].prefix[7], 0);
	ck_assert_uint_eq(v[0].ahead_us, 100000);
	ck_assert_uint_eq(v[1].family, AF_INET6);	/* e, 2001:db8:0:1::/64 */
	ck_assert_uint_eq(v[1].prefix[7], 1);
	ck_assert_uint_eq(v[1].ahead_us, 200000);
	ck_assert_uint_eq(v[2].family, AF_INET);	/* a, open */
	ck_assert_uint_eq(v[2].prefix[0], 192);
	ck_assert_uint_eq(v[2].prefix[3], 1);
	ck_assert_uint_eq(v[2].prefix[4], 0);
	ck_assert_uint_eq(v[2].ahead_us, 300000);
	ck_assert_uint_eq(srclimit_count(old, SA(a)), 2);

	/* The successor: imported before it is configured (as on take-over),
	 * then the connections; holding them prunes nothing. */
	for (i = 0; i < 3; i++)
		ck_assert_ptr_null(srclimit_import(sl, &v[i], t1));
	ck_assert_str_eq(srclimit_import(sl, &v[0], t1),
	    "a source handed over twice");
	ck_assert(srclimit_hold(sl, SA(a), &counted));
	ck_assert(srclimit_hold(sl, SA(a), &counted));
	ck_assert_uint_eq(srclimit_count(sl, SA(a)), 2);	/* not 4 */
	ck_assert_uint_eq(srclimit_ahead(sl, SA(b), t1), 100000);
	ck_assert_uint_eq(srclimit_ahead(sl, SA(e), t1), 200000);
	srclimit_set_max(sl, 2);
	srclimit_set_rate(sl, 10, 3);

	/* max_connections_per_source holds exactly */
	ck_assert_int_eq(srclimit_admit(sl, SA(a), true, t1, &counted),
	    SRCLIMIT_FULL);
	srclimit_release(sl, SA(a));
	/* and the rate: a is 300 ms ahead, b 100, e 200, c fresh */
	ck_assert_int_eq(srclimit_admit(sl, SA(e), true, t1, &counted),
	    SRCLIMIT_OK);
	ck_assert_int_eq(srclimit_admit(sl, SA(e), true, t1, &counted),
	    SRCLIMIT_RATE);
	for (i = 0; i < 3; i++) {		/* a fresh one takes 3 */
		ck_assert_int_eq(srclimit_admit(sl, SA(b), true, t1, &counted),
		    i < 2 ? SRCLIMIT_OK : SRCLIMIT_RATE);
		if (i < 2)
			srclimit_release(sl, SA(b));
	}
	ck_assert_int_eq(srclimit_admit(sl, SA(a), true, t1, &counted),
	    SRCLIMIT_RATE);
	ck_assert_int_eq(srclimit_admit(sl, SA(a), true, t1 + 100, &counted),
	    SRCLIMIT_OK);		/* (b's bucket is full again: pruned) */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(srclimit_admit(sl, SA(c), true, t1, &counted),
		    i < 2 ? SRCLIMIT_OK : SRCLIMIT_FULL);
	free(v);
	/* nothing ahead: nothing exported */
	srclimit_set_rate(old, 0, 1);
	ck_assert_int_eq(srclimit_export(old, t0 + 1000, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(v);
	srclimit_free(old);
	srclimit_free(sl);
}
END_TEST

/* The idle entries exported are the newest SRCLIMIT_IDLE_MAX. */
START_TEST(test_handover_bound)
{
	struct srclimit *sl = srclimit_new();
	struct sockaddr_in in;
	struct handover_source *v;
	bool counted;
	uint32_t i;
	size_t n;

	srclimit_set_rate(sl, 1, 1);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	for (i = 0; i <= SRCLIMIT_IDLE_MAX; i++) {	/* one too many */
		in.sin_addr.s_addr = htonl(0x0a000000u + i);
		ck_assert_int_eq(srclimit_admit(sl, (struct sockaddr *)&in,
		    true, 1000, &counted), SRCLIMIT_OK);
		srclimit_release(sl, (struct sockaddr *)&in);
	}
	ck_assert_int_eq(srclimit_export(sl, 1000, &v, &n), 0);
	ck_assert_uint_eq(n, SRCLIMIT_IDLE_MAX);
	ck_assert_uint_le(n, HANDOVER_MAX_SOURCES);
	/* the oldest, 10.0.0.0, is left out; 10.0.0.1 comes first */
	ck_assert_uint_eq(v[0].prefix[3], 1);
	ck_assert_uint_eq(v[n - 1].prefix[1], (SRCLIMIT_IDLE_MAX >> 16) & 0xff);
	ck_assert_uint_eq(v[n - 1].ahead_us, 1000000);
	free(v);
	srclimit_free(sl);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("srclimit");
	TCase *tc = tcase_create("srclimit");

	tcase_add_test(tc, test_limit_per_source);
	tcase_add_test(tc, test_prefixes_and_mapped);
	tcase_add_test(tc, test_entries_go_away);
	tcase_add_test(tc, test_other_family_uncounted);
	tcase_add_test(tc, test_handover);
	tcase_add_test(tc, test_handover_bound);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
