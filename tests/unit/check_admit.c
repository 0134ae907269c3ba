/*
 * check_admit.c - admission: the caps, the connection rate per source
 * (with a fake clock), the access rules and the UDP guard.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "addr.h"
#include "admit.h"
#include "config.h"
#include "srclimit.h"
#include "stats.h"
#include "unit.h"
#include "unit_acl.h"

static struct sockaddr_storage ss_buf[8];
static int ss_next;

static const struct sockaddr *
SA(const char *text)
{
	struct sockaddr_storage *ss = &ss_buf[ss_next++ % 8];
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(4000);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4000);
	}
	return (const struct sockaddr *)ss;
}

/* n connections opened and closed at once, at t ms: how many got in. */
static unsigned
churn(struct srclimit *sl, const char *from, unsigned n, uint64_t t)
{
	unsigned ok = 0, i;
	bool counted;

	for (i = 0; i < n; i++)
		if (srclimit_admit(sl, SA(from), true, t, &counted) ==
		    SRCLIMIT_OK) {
			ok++;
			ck_assert(counted);
			srclimit_release(sl, SA(from));
		}
	return ok;
}

START_TEST(test_rate_burst_then_refill)
{
	struct srclimit *sl = srclimit_new();

	srclimit_set_rate(sl, 10, 5);		/* 10/s, 5 at once */
	ck_assert_uint_eq(churn(sl, "192.0.2.1", 20, 1000), 5);
	ck_assert_uint_eq(churn(sl, "192.0.2.2", 20, 1000), 5); /* another */
	ck_assert_uint_eq(churn(sl, "192.0.2.1", 20, 1100), 1); /* 100 ms */
	ck_assert_uint_eq(churn(sl, "192.0.2.1", 20, 1600), 5); /* full */
	/* over 10 s of a tight loop: 10/s */
	ck_assert_uint_eq(churn(sl, "192.0.2.3", 1, 5000) +
	    churn(sl, "192.0.2.3", 1000, 5000), 5);
	{
		unsigned ok = 0, t;

		for (t = 5100; t <= 15000; t += 100)
			ok += churn(sl, "192.0.2.3", 10, t);
		ck_assert_uint_eq(ok, 100);
	}
	srclimit_free(sl);
}
END_TEST

START_TEST(test_rate_ipv6_per_64_and_off)
{
	struct srclimit *sl = srclimit_new();
	bool counted;

	srclimit_set_rate(sl, 1, 2);
	ck_assert_uint_eq(churn(sl, "2001:db8:1:2::1", 1, 0) +
	    churn(sl, "2001:db8:1:2::99", 5, 0), 2);	/* same /64 */
	ck_assert_uint_eq(churn(sl, "2001:db8:1:3::1", 5, 0), 2);
	/* rate false (a balancer): never limited by the rate */
	ck_assert(srclimit_admit(sl, SA("2001:db8:1:2::1"), false, 0,
	    &counted) == SRCLIMIT_OK);
	srclimit_release(sl, SA("2001:db8:1:2::1"));
	srclimit_set_rate(sl, 0, 2);			/* off */
	ck_assert_uint_eq(churn(sl, "2001:db8:1:2::1", 50, 0), 50);
	srclimit_free(sl);
}
END_TEST

START_TEST(test_rate_and_cap_together)
{
	struct srclimit *sl = srclimit_new();
	bool counted;

	srclimit_set_max(sl, 2);
	srclimit_set_rate(sl, 1, 10);
	ck_assert(srclimit_admit(sl, SA("198.51.100.1"), true, 0, &counted) ==
	    SRCLIMIT_OK);
	ck_assert(srclimit_admit(sl, SA("198.51.100.1"), true, 0, &counted) ==
	    SRCLIMIT_OK);
	ck_assert(srclimit_admit(sl, SA("198.51.100.1"), true, 0, &counted) ==
	    SRCLIMIT_FULL);
	ck_assert(!counted);
	ck_assert_uint_eq(srclimit_count(sl, SA("198.51.100.1")), 2);
	srclimit_release(sl, SA("198.51.100.1"));
	srclimit_release(sl, SA("198.51.100.1"));
	ck_assert_uint_eq(srclimit_count(sl, SA("198.51.100.1")), 0);
	srclimit_free(sl);		/* frees the idle entry too */
}
END_TEST

/* An upgrade's connection is counted again per source, past the limit,
 * and released as any other. */
START_TEST(test_recount_past_the_limit)
{
	struct srclimit *sl = srclimit_new();
	bool counted;

	srclimit_set_max(sl, 1);
	ck_assert(srclimit_acquire(sl, SA("198.51.100.7"), &counted));
	ck_assert(counted);
	ck_assert(srclimit_hold(sl, SA("198.51.100.7"), &counted));
	ck_assert(counted);
	ck_assert_uint_eq(srclimit_count(sl, SA("198.51.100.7")), 2);
	ck_assert(!srclimit_acquire(sl, SA("198.51.100.7"), &counted));
	srclimit_release(sl, SA("198.51.100.7"));
	srclimit_release(sl, SA("198.51.100.7"));
	ck_assert_uint_eq(srclimit_count(sl, SA("198.51.100.7")), 0);
	srclimit_free(sl);
}
END_TEST

START_TEST(test_admit_tcp_verdicts)
{
	struct admit a;
	struct stats st;
	struct config cf;
	bool counted;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	memset(&cf, 0, sizeof(cf));
	a.per_source = srclimit_new();
	atomic_store(&a.max, 3);
	cf.max_per_source = 2;
	cf.connection_rate = 0;
	cf.connection_burst = 1;
	admit_configure(&a, &cf);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), true, 1, &counted) ==
	    ADMIT_OK);
	ck_assert(counted);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), true, 1, &counted) ==
	    ADMIT_OK);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), true, 1, &counted) ==
	    ADMIT_SOURCE);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.2"), true, 1, &counted) ==
	    ADMIT_OK);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.3"), true, 1, &counted) ==
	    ADMIT_FULL);
	ck_assert_uint_eq(atomic_load(&a.open), 3);
	ck_assert_uint_eq(stats_get(&st.refused_source), 1);
	ck_assert_uint_eq(stats_get(&st.refused_max), 1);
	/* the move: 192.0.2.2's place goes to 192.0.2.1, which is full */
	counted = true;
	ck_assert(admit_tcp_move(&a, &st, SA("192.0.2.2"), SA("192.0.2.1"), 1,
	    &counted) == ADMIT_SOURCE);
	ck_assert(!counted);
	ck_assert_uint_eq(srclimit_count(a.per_source, SA("192.0.2.2")), 0);
	admit_tcp_close(&a, SA("192.0.2.1"), false);
	admit_tcp_close(&a, SA("192.0.2.1"), true);
	admit_tcp_close(&a, SA("192.0.2.1"), true);
	ck_assert_uint_eq(atomic_load(&a.open), 0);
	ck_assert_uint_eq(srclimit_count(a.per_source, SA("192.0.2.1")), 0);
	srclimit_free(a.per_source);
}
END_TEST

/*
 * A trusted balancer's connections wait for their headers under the
 * global cap only: more of them than the per-source cap are all in, and
 * each client is counted once its header names it.
 */
START_TEST(test_balancer_not_capped_per_source)
{
	struct admit a;
	struct stats st;
	struct config cf;
	bool counted[6];
	unsigned i;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	memset(&cf, 0, sizeof(cf));
	a.per_source = srclimit_new();
	atomic_store(&a.max, 6);
	cf.max_per_source = 2;
	cf.connection_rate = 1;
	cf.connection_burst = 1;
	admit_configure(&a, &cf);
	for (i = 0; i < 6; i++) {
		ck_assert(admit_tcp(&a, &st, SA("10.0.0.5"), false, 1,
		    &counted[i]) == ADMIT_OK);
		ck_assert(!counted[i]);
	}
	ck_assert_uint_eq(srclimit_count(a.per_source, SA("10.0.0.5")), 0);
	/* the global cap still holds */
	ck_assert(admit_tcp(&a, &st, SA("10.0.0.5"), false, 1, &counted[0]) ==
	    ADMIT_FULL);
	ck_assert_uint_eq(stats_get(&st.refused_source), 0);
	ck_assert_uint_eq(stats_get(&st.refused_max), 1);
	/* headers name clients: each is judged and counted for itself */
	ck_assert(admit_tcp_move(&a, &st, SA("10.0.0.5"), SA("192.0.2.1"), 1,
	    &counted[0]) == ADMIT_OK);
	ck_assert(counted[0]);
	ck_assert(admit_tcp_move(&a, &st, SA("10.0.0.5"), SA("192.0.2.1"), 1,
	    &counted[1]) == ADMIT_RATE);	/* burst 1 */
	ck_assert(!counted[1]);
	ck_assert_uint_eq(srclimit_count(a.per_source, SA("192.0.2.1")), 1);
	admit_tcp_close(&a, SA("192.0.2.1"), true);
	for (i = 1; i < 6; i++)
		admit_tcp_close(&a, SA("10.0.0.5"), false);
	ck_assert_uint_eq(atomic_load(&a.open), 0);
	srclimit_free(a.per_source);
}
END_TEST

START_TEST(test_judge_and_datagrams)
{
	struct admit a;
	struct admit_rules r;
	struct admit_dgram *g;
	struct stats st;
	struct config cf;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	memset(&r, 0, sizeof(r));
	memset(&cf, 0, sizeof(cf));
	r.access = unit_acl("10.0.0.0/8", "10.1.2.0/24");
	ck_assert(admit_judge(&a, NULL, &st, SA("192.0.2.1"), 1) == ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("10.9.9.9"), 1) == ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("::ffff:10.9.9.9"), 1) ==
	    ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("10.1.2.3"), 1) ==
	    ADMIT_DENIED);
	ck_assert(admit_judge(&a, &r, &st, SA("192.0.2.1"), 1) ==
	    ADMIT_DENIED);
	ck_assert_uint_eq(stats_get(&st.refused_denied), 2);
	ck_assert_uint_eq(stats_get(&st.closed_denied), 0);
	/* judged again (a reload): a denial is a close, not a refusal */
	ck_assert(admit_rejudge(&a, &r, &st, SA("10.9.9.9"), 1) == ADMIT_OK);
	ck_assert(admit_rejudge(&a, &r, &st, SA("10.1.2.3"), 1) ==
	    ADMIT_DENIED);
	ck_assert_uint_eq(stats_get(&st.closed_denied), 1);
	ck_assert_uint_eq(stats_get(&st.refused_denied), 2);

	g = admit_dgram_new();
	ck_assert_ptr_nonnull(g);
	cf.workers = 1;
	cf.udp_rate_limit = 0;
	admit_dgram_configure(g, &cf);
	admit_dgram_rules(g, &r);
	ck_assert(admit_datagram(g, &st, SA("10.9.9.9"), 0) == ADMIT_OK);
	ck_assert(admit_datagram(g, &st, SA("10.1.2.9"), 0) == ADMIT_DENIED);
	ck_assert_uint_eq(stats_get(&st.refused_denied), 2);
	ck_assert_uint_eq(stats_get(&st.dropped_denied), 1);
	admit_dgram_rules(g, NULL);
	ck_assert(admit_datagram(g, &st, SA("10.1.2.9"), 0) == ADMIT_OK);
	admit_dgram_free(g);
	acl_free(r.access);
}
END_TEST

/* sa with its port set to port (in SA()'s ring). */
static const struct sockaddr *
SAP(const char *text, uint16_t port)
{
	const struct sockaddr *sa = SA(text);

	addr_set_port((struct sockaddr *)&ss_buf[(ss_next - 1) % 8], port);
	return sa;
}

/* Of 20 sessions from one address sending 3 each, how many answered. */
static unsigned
twenty_sessions(struct admit_dgram *g, struct stats *st, const char *from)
{
	unsigned ok = 0, port, k;

	for (port = 40000; port < 40020; port++)
		for (k = 0; k < 3; k++)
			ok += admit_datagram(g, st, SAP(from, (uint16_t)port),
			    1000) == ADMIT_OK;
	return ok;
}

/*
 * udp.balancers: a balancer's datagrams are rated per (address, port);
 * everyone else's per address.  The loop guard and the access rules
 * still judge the balancer's own address and port.
 */
START_TEST(test_datagrams_from_balancer)
{
	struct admit_rules r;
	struct admit_dgram *g;
	struct stats st;
	struct config cf;
	uint16_t own = 8008;

	memset(&st, 0, sizeof(st));
	memset(&r, 0, sizeof(r));
	memset(&cf, 0, sizeof(cf));
	r.udp_balancers = unit_acl("192.0.2.7", NULL);
	g = admit_dgram_new();
	ck_assert_ptr_nonnull(g);
	cf.workers = 2;
	cf.udp_rate_limit = 10;
	cf.udp_rate_burst = 10;		/* 5 each for two workers */
	admit_dgram_configure(g, &cf);
	admit_dgram_ports(g, &own, 1);
	admit_dgram_rules(g, &r);

	ck_assert_uint_eq(twenty_sessions(g, &st, "192.0.2.7"), 60);
	/* IPv4-mapped is the same balancer, its sessions the same:
	 * 2 tokens left each. */
	ck_assert_uint_eq(twenty_sessions(g, &st, "::ffff:192.0.2.7"), 40);
	ck_assert_uint_eq(twenty_sessions(g, &st, "192.0.2.8"), 5);
	ck_assert_uint_eq(stats_get(&st.dropped_limited), 20 + 55);
	/* Not declared: throttled together. */
	admit_dgram_rules(g, NULL);
	ck_assert_uint_eq(twenty_sessions(g, &st, "192.0.2.7"), 5);

	/* The loop guard is the same for a balancer. */
	admit_dgram_rules(g, &r);
	ck_assert(admit_datagram(g, &st, SAP("192.0.2.7", 1023), 1000) ==
	    ADMIT_LOOP);
	ck_assert(admit_datagram(g, &st, SAP("192.0.2.7", 8008), 1000) ==
	    ADMIT_LOOP);
	/* The access rules judge the balancer. */
	r.access = unit_acl(NULL, "192.0.2.0/24");
	ck_assert(admit_datagram(g, &st, SAP("192.0.2.7", 50000), 1000) ==
	    ADMIT_DENIED);
	admit_dgram_free(g);
	acl_free(r.access);
	acl_free(r.udp_balancers);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("admit");
	TCase *tc = tcase_create("admit");

	tcase_add_test(tc, test_rate_burst_then_refill);
	tcase_add_test(tc, test_rate_ipv6_per_64_and_off);
	tcase_add_test(tc, test_rate_and_cap_together);
	tcase_add_test(tc, test_recount_past_the_limit);
	tcase_add_test(tc, test_admit_tcp_verdicts);
	tcase_add_test(tc, test_balancer_not_capped_per_source);
	tcase_add_test(tc, test_judge_and_datagrams);
	tcase_add_test(tc, test_datagrams_from_balancer);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
