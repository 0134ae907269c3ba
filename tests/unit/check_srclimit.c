/*
 * check_srclimit.c - open connections per source.
 */
#include <check.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
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

int
main(void)
{
	Suite *s = suite_create("srclimit");
	TCase *tc = tcase_create("srclimit");

	tcase_add_test(tc, test_limit_per_source);
	tcase_add_test(tc, test_prefixes_and_mapped);
	tcase_add_test(tc, test_entries_go_away);
	tcase_add_test(tc, test_other_family_uncounted);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
