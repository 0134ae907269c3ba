/*
 * check_admit.c - admission: the caps, the access rules and the UDP
 * guard.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "admit.h"
#include "config.h"
#include "prefix.h"
#include "srclimit.h"
#include "stats.h"
#include "unit.h"

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
	admit_configure(&a, &cf);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), 1, &counted) ==
	    ADMIT_OK);
	ck_assert(counted);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), 1, &counted) ==
	    ADMIT_OK);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.1"), 1, &counted) ==
	    ADMIT_SOURCE);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.2"), 1, &counted) ==
	    ADMIT_OK);
	ck_assert(admit_tcp(&a, &st, SA("192.0.2.3"), 1, &counted) ==
	    ADMIT_FULL);
	ck_assert_uint_eq(atomic_load(&a.open), 3);
	ck_assert_uint_eq(stats_get(&st.conns_refused), 2);
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

START_TEST(test_judge_and_datagrams)
{
	struct admit a;
	struct admit_rules r;
	struct admit_dgram *g;
	struct stats st;
	struct config cf;
	struct prefix allow, deny;
	char err[128];

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	memset(&r, 0, sizeof(r));
	memset(&cf, 0, sizeof(cf));
	ck_assert_int_eq(prefix_parse("10.0.0.0/8", &allow, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(prefix_parse("10.1.2.0/24", &deny, err,
	    sizeof(err)), 0);
	r.access = acl_build(&allow, 1, &deny, 1);
	ck_assert_ptr_nonnull(r.access);
	ck_assert(admit_judge(&a, NULL, &st, SA("192.0.2.1"), 1) == ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("10.9.9.9"), 1) == ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("::ffff:10.9.9.9"), 1) ==
	    ADMIT_OK);
	ck_assert(admit_judge(&a, &r, &st, SA("10.1.2.3"), 1) ==
	    ADMIT_DENIED);
	ck_assert(admit_judge(&a, &r, &st, SA("192.0.2.1"), 1) ==
	    ADMIT_DENIED);
	ck_assert_uint_eq(stats_get(&st.denied), 2);

	g = admit_dgram_new();
	ck_assert_ptr_nonnull(g);
	cf.workers = 1;
	cf.udp_rate_limit = 0;
	admit_dgram_configure(g, &cf);
	admit_dgram_rules(g, &r);
	ck_assert(admit_datagram(g, &st, SA("10.9.9.9"), 0) == ADMIT_OK);
	ck_assert(admit_datagram(g, &st, SA("10.1.2.9"), 0) == ADMIT_DENIED);
	ck_assert_uint_eq(stats_get(&st.denied), 3);
	admit_dgram_rules(g, NULL);
	ck_assert(admit_datagram(g, &st, SA("10.1.2.9"), 0) == ADMIT_OK);
	admit_dgram_free(g);
	acl_free(r.access);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("admit");
	TCase *tc = tcase_create("admit");

	tcase_add_test(tc, test_admit_tcp_verdicts);
	tcase_add_test(tc, test_judge_and_datagrams);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
