/*
 * acl.h - access lists: which sources a set of prefixes lets in.
 *
 * Built once per configuration load (by the thread that loads it) from
 * two lists of prefixes, then immutable: the workers share it read-only
 * and look sources up without locks or allocation.  A lookup costs a
 * binary search over at most 2 n + 1 ranges, so about log2(n) steps: 15
 * at 10,000 rules (see acl.c).  Pure: no I/O.
 */
#ifndef UPCASED_ACL_H
#define UPCASED_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "prefix.h"

struct acl;		/* immutable once built; shared read-only by worker threads */

/*
 * From allow[0..nallow) and deny[0..ndeny) (canonical prefixes, as
 * prefix_parse() gives; duplicates allowed).  NULL on ENOMEM.
 */
struct acl	*acl_build(const struct prefix *allow, size_t nallow,
		    const struct prefix *deny, size_t ndeny);
void		 acl_free(struct acl *a);

/*
 * Longest matching prefix over both lists decides; the same prefix in
 * both: deny.  No match: permitted iff nallow == 0.  A NULL acl permits
 * everything.  IPv4-mapped IPv6 is judged as IPv4; an address of another
 * family matches no prefix.
 */
bool	acl_permits(const struct acl *a, const struct sockaddr *sa);

/*
 * For proxy_protocol.from: does any prefix of the allow list match?
 * (build with ndeny = 0; with a deny list, denied prefixes do not take
 * an allow's match away).  NULL: false.
 */
bool	acl_matches(const struct acl *a, const struct sockaddr *sa);

/* No rule at all (also for NULL). */
bool	acl_empty(const struct acl *a);

/* Number of ranges the lookup searches (IPv4 + IPv6); for tests and bench. */
size_t	acl_ranges(const struct acl *a);

#endif
