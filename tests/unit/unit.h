/*
 * unit.h - what every Check test program shares: run one suite with the
 * verbosity and TAP output the environment asks for (CK_VERBOSITY,
 * CK_TAP_LOG_FILE_NAME), and turn its result into an exit status.
 */
#ifndef UPCASED_UNIT_H
#define UPCASED_UNIT_H

#include <check.h>
#include <stdlib.h>

static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
