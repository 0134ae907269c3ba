/*
 * unit_acl.h - for the Check tests of prefixes and of what judges
 * addresses (check_prefix, check_admit, check_tcp_proxy): a prefix, and
 * an access list of at most one allow and one deny prefix, from text.
 * A parse or a build that fails fails the test.
 */
#ifndef UPCASED_UNIT_ACL_H
#define UPCASED_UNIT_ACL_H

#include <check.h>

#include "acl.h"
#include "prefix.h"

static inline struct prefix
unit_prefix(const char *text)
{
	struct prefix p;
	char err[128] = "";

	ck_assert_msg(prefix_parse(text, &p, err, sizeof(err)) == 0,
	    "parse %s: %s", text, err);
	return p;
}

/* allow or deny NULL: that list is empty. */
static inline struct acl *
unit_acl(const char *allow, const char *deny)
{
	struct prefix a, d;
	struct acl *acl;

	if (allow != NULL)
		a = unit_prefix(allow);
	if (deny != NULL)
		d = unit_prefix(deny);
	acl = acl_build(&a, allow != NULL, &d, deny != NULL);
	ck_assert_ptr_nonnull(acl);
	return acl;
}

#endif
