/*
 * fuzz_acl.c - access lists against a linear oracle.
 *
 * The input is a list of records.  A record starts with a byte R:
 * bit 7 set: a query, else a rule; bit 6: IPv6; bit 5: a deny rule, or a
 * query sent as IPv4-mapped IPv6 (IPv4 only); bit 4: derived from an
 * earlier rule (the next byte picks it), else the address follows in full
 * (4 or 16 bytes).  A rule then has a length byte (modulo 33 or 129); a
 * derived rule copies the earlier one's address and flips bits of the
 * next two bytes in at its length, so rules nest, touch and repeat.  A
 * derived query is the earlier rule's first or last address, or the one
 * before or after it (R & 3).  Up to 512 rules and 512 queries.
 *
 * acl_permits() and acl_matches() must give what the rules of acl.h
 * give, read the slow way: the longest prefix of either list containing
 * the address; a tie denies; no match permits iff the allow list is
 * empty; matches iff some allow prefix contains it.  IPv4-mapped IPv6
 * addresses, and IPv4-mapped prefixes of /96 or longer (which
 * prefix_parse() never gives, but a caller could), count as IPv4.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "prefix.h"
#include "fuzz.h"

#define MAXN	512

struct input {
	const uint8_t	*p;
	size_t		 n;
};

static bool
take(struct input *in, void *out, size_t len)
{
	if (in->n < len)
		return false;
	memcpy(out, in->p, len);
	in->p += len;
	in->n -= len;
	return true;
}

static void
oracle(const struct prefix *rules, const bool *deny, size_t n,
    size_t nallow, const struct prefix *addr, bool *permit, bool *match)
{
	int best = -1;
	bool denied = false;
	size_t i;

	*match = false;
	for (i = 0; i < n; i++) {
		if (!prefix_contains(&rules[i], addr))
			continue;
		if (!deny[i])
			*match = true;
		if (rules[i].len > best || (deny[i] && rules[i].len == best)) {
			best = rules[i].len;
			denied = deny[i];
		}
	}
	*permit = best < 0 ? nallow == 0 : !denied;
}

/*
 * As acl.h judges them: an IPv4-mapped IPv6 address, or prefix of /96 or
 * longer, is the IPv4 one it carries.
 */
static void
as_ipv4(struct prefix *p)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (p->family != AF_INET6 || p->len < 96 ||
	    memcmp(p->addr, mapped, 12) != 0)
		return;
	p->family = AF_INET;
	p->len = (uint8_t)(p->len - 96);
	memmove(p->addr, p->addr + 12, 4);
	memset(p->addr + 4, 0, 12);
}

/* Add (1) or subtract (-1) one to an address of `bytes` bytes. */
static void
step(uint8_t *a, unsigned bytes, int dir)
{
	unsigned i;

	for (i = bytes; i-- > 0;) {
		if (dir > 0 ? ++a[i] != 0 : a[i]-- != 0)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct prefix rules[MAXN], allow[MAXN], deny[MAXN],
	    queries[MAXN];
	static bool isdeny[MAXN], mapped[MAXN];
	struct input in = { data, size };
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	size_t nr = 0, nq = 0, na = 0, nd = 0, i;
	bool want_p, want_m, got_p, got_m;
	uint8_t r, b, flip[2];
	unsigned bits, bytes, k;
	struct prefix p;
	struct acl *a;
	char buf[PREFIX_STRLEN];

	while (take(&in, &r, 1) && nr < MAXN && nq < MAXN) {
		memset(&p, 0, sizeof(p));
		p.family = r & 0x40 ? AF_INET6 : AF_INET;
		bits = p.family == AF_INET ? 32 : 128;
		bytes = bits / 8;
		if (r & 0x10) {			/* derived from rule b */
			if (nr == 0 || !take(&in, &b, 1))
				break;
			p = rules[b % nr];
			bits = p.family == AF_INET ? 32 : 128;
			bytes = bits / 8;
		} else if (!take(&in, p.addr, bytes))
			break;
		if (r & 0x80) {			/* a query */
			if (r & 0x10) {
				if (r & 1)	/* last address */
					for (k = p.len; k < bits; k++)
						p.addr[k / 8] |=
						    (uint8_t)(0x80u >> (k % 8));
				if (r & 2)	/* one outside */
					step(p.addr, bytes, r & 1 ? 1 : -1);
			}
			p.len = (uint8_t)bits;
			mapped[nq] = p.family == AF_INET && (r & 0x20);
			queries[nq++] = p;
			continue;
		}
		if (!take(&in, &b, 1))
			break;
		if (r & 0x10) {			/* flip bits past the parent */
			if (!take(&in, flip, 2))
				break;
			for (k = 0; k < 2 && p.len / 8 + k < bytes; k++)
				p.addr[p.len / 8 + k] ^= flip[k];
		}
		p.len = (uint8_t)(b % (bits + 1));
		prefix_mask(&p);
		isdeny[nr] = (r & 0x20) != 0;
		rules[nr++] = p;
	}
	for (i = 0; i < nr; i++) {
		if (isdeny[i])
			deny[nd++] = rules[i];
		else
			allow[na++] = rules[i];
	}
	a = acl_build(allow, na, deny, nd);
	CHECK(a != NULL, "acl_build");
	CHECK(acl_empty(a) == (nr == 0), "acl_empty with %zu rules", nr);
	CHECK(acl_ranges(a) <= 2 * nr + 2, "%zu ranges for %zu rules",
	    acl_ranges(a), nr);
	/* The oracle sees mapped rules and queries as IPv4. */
	for (i = 0; i < nr; i++)
		as_ipv4(&rules[i]);
	for (i = 0; i < nq; i++) {
		p = queries[i];
		as_ipv4(&p);
		oracle(rules, isdeny, nr, na, &p, &want_p, &want_m);
		memset(&ss, 0, sizeof(ss));
		if (queries[i].family == AF_INET && !mapped[i]) {
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, queries[i].addr, 4);
		} else if (queries[i].family == AF_INET) {
			s6->sin6_family = AF_INET6;
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], queries[i].addr, 4);
		} else {
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, queries[i].addr, 16);
		}
		got_p = acl_permits(a, (struct sockaddr *)&ss);
		got_m = acl_matches(a, (struct sockaddr *)&ss);
		prefix_format(&queries[i], buf, sizeof(buf));
		CHECK(got_p == want_p && got_m == want_m, "%s%s with %zu allow, "
		    "%zu deny: permits %d (want %d), matches %d (want %d)",
		    mapped[i] ? "::ffff:" : "", buf, na, nd, got_p, want_p,
		    got_m, want_m);
	}
	acl_free(a);
	return 0;
}
