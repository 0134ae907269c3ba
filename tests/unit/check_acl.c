/*
 * check_acl.c - access lists: every rule of the longest match, and
 * random lists against a linear oracle.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "addr.h"
#include "prefix.h"
#include "unit.h"

#define MAXLIST	16

/* A list of prefixes from a NULL-terminated list of strings. */
static size_t
list(struct prefix *out, const char *const *text)
{
	char err[128];
	size_t n;

	for (n = 0; text[n] != NULL; n++) {
		ck_assert_uint_lt(n, MAXLIST);
		ck_assert_msg(prefix_parse(text[n], &out[n], err,
		    sizeof(err)) == 0, "%s: %s", text[n], err);
	}
	return n;
}

static struct acl *
build(const char *const *allow, const char *const *deny)
{
	struct prefix a[MAXLIST], d[MAXLIST];
	size_t na, nd;
	struct acl *acl;

	na = list(a, allow);
	nd = list(d, deny);
	acl = acl_build(a, na, d, nd);
	ck_assert_ptr_nonnull(acl);
	return acl;
}

static struct sockaddr_storage
sa(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_msg(addr_parse(text, &ss, &len) == 0, "address %s", text);
	addr_set_port((struct sockaddr *)&ss, 40000);
	return ss;
}

static bool
permits(const struct acl *a, const char *addr)
{
	struct sockaddr_storage ss = sa(addr);

	return acl_permits(a, (struct sockaddr *)&ss);
}

static bool
matches(const struct acl *a, const char *addr)
{
	struct sockaddr_storage ss = sa(addr);

	return acl_matches(a, (struct sockaddr *)&ss);
}

/* Each of the addresses permitted (want) or not. */
static void
expect(const struct acl *a, bool want, const char *const *addrs)
{
	size_t i;

	for (i = 0; addrs[i] != NULL; i++)
		ck_assert_msg(permits(a, addrs[i]) == want, "%s: want %s",
		    addrs[i], want ? "permitted" : "denied");
}

#define L(...)	((const char *const []){ __VA_ARGS__, NULL })
#define NONE	((const char *const []){ NULL })

START_TEST(test_null)
{
	ck_assert(permits(NULL, "192.0.2.1"));
	ck_assert(permits(NULL, "2001:db8::1"));
	ck_assert(!matches(NULL, "192.0.2.1"));
	ck_assert(acl_empty(NULL));
	acl_free(NULL);
}
END_TEST

START_TEST(test_empty)
{
	struct acl *a = build(NONE, NONE);

	ck_assert(acl_empty(a));
	expect(a, true, L("0.0.0.0", "192.0.2.1", "255.255.255.255", "::",
	    "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "::ffff:10.0.0.1"));
	ck_assert(!matches(a, "192.0.2.1"));
	ck_assert(!matches(a, "::1"));
	ck_assert_uint_eq(acl_ranges(a), 2);
	acl_free(a);
}
END_TEST

START_TEST(test_allow_only)
{
	struct acl *a = build(L("10.0.0.0/8", "2001:db8::/32"), NONE);

	ck_assert(!acl_empty(a));
	expect(a, true, L("10.0.0.0", "10.1.2.3", "10.255.255.255",
	    "::ffff:10.9.9.9", "2001:db8::", "2001:db8::1",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	expect(a, false, L("9.255.255.255", "11.0.0.0", "0.0.0.0",
	    "255.255.255.255", "::ffff:11.0.0.1", "2001:db7:ffff::",
	    "2001:db9::", "::", "::1", "::a00:1"));
	ck_assert(matches(a, "10.1.2.3"));
	ck_assert(!matches(a, "11.1.2.3"));
	acl_free(a);
}
END_TEST

START_TEST(test_deny_only)
{
	struct acl *a = build(NONE, L("10.1.2.0/24", "2001:db8::/32"));

	ck_assert(!acl_empty(a));
	expect(a, false, L("10.1.2.0", "10.1.2.255", "::ffff:10.1.2.7",
	    "2001:db8::1"));
	expect(a, true, L("10.1.1.255", "10.1.3.0", "192.0.2.1", "::1",
	    "2001:db9::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(!matches(a, "10.1.2.1"));
	ck_assert(!matches(a, "10.1.3.1"));
	acl_free(a);
}
END_TEST

START_TEST(test_longest_match)
{
	struct acl *a = build(L("10.0.0.0/8", "10.1.2.0/24", "fd00::/8",
	    "fd00:1:2::/48"), L("10.1.0.0/16", "10.1.2.3", "fd00:1::/32",
	    "fd00:1:2::3"));

	expect(a, true, L("10.0.0.1", "10.0.255.255", "10.2.0.0",
	    "10.1.2.0", "10.1.2.2", "10.1.2.4", "10.1.2.255", "fd00::1",
	    "fd00:1:2::", "fd00:1:2::2", "fd00:1:2::4",
	    "fd00:1:2:ffff:ffff:ffff:ffff:ffff", "fd00:2::"));
	expect(a, false, L("10.1.0.0", "10.1.1.255", "10.1.3.0",
	    "10.1.255.255", "10.1.2.3", "::ffff:10.1.2.3", "11.0.0.0",
	    "fd00:1::", "fd00:1:1:ffff:ffff:ffff:ffff:ffff", "fd00:1:3::",
	    "fd00:1:2::3", "fe00::"));
	/* An allow prefix covers all of 10/8: a trusted list would say yes. */
	ck_assert(matches(a, "10.1.2.3"));
	ck_assert(matches(a, "10.1.0.1"));
	ck_assert(!matches(a, "11.0.0.0"));
	ck_assert(matches(a, "fd00:1:2::3"));
	acl_free(a);
}
END_TEST

START_TEST(test_tie_is_deny)
{
	struct acl *a;

	a = build(L("10.0.0.0/8", "10.0.0.0/8", "192.0.2.0/24"),
	    L("10.0.0.0/8"));
	expect(a, false, L("10.0.0.0", "10.1.2.3", "11.0.0.0"));
	expect(a, true, L("192.0.2.1"));
	ck_assert(matches(a, "10.1.2.3"));
	acl_free(a);
	/* The order of the lists does not matter. */
	a = build(L("192.0.2.0/24", "2001:db8::/32"),
	    L("2001:db8::/32", "192.0.2.0/24", "192.0.2.0/24"));
	expect(a, false, L("192.0.2.1", "2001:db8::1", "1.1.1.1"));
	acl_free(a);
	/* A host in both. */
	a = build(L("192.0.2.7"), L("192.0.2.7"));
	expect(a, false, L("192.0.2.7", "192.0.2.6"));
	acl_free(a);
}
END_TEST

START_TEST(test_slash0)
{
	struct acl *a;

	/* Everyone (IPv4) but one network; IPv6 is not in the allow list. */
	a = build(L("0.0.0.0/0"), L("192.0.2.0/24"));
	expect(a, true, L("0.0.0.0", "192.0.1.255", "192.0.3.0",
	    "255.255.255.255", "::ffff:1.2.3.4"));
	expect(a, false, L("192.0.2.0", "192.0.2.255", "::1", "2001:db8::"));
	acl_free(a);
	/* Deny everything but 10/8. */
	a = build(L("10.0.0.0/8", "::1"), L("0.0.0.0/0", "::/0"));
	expect(a, true, L("10.0.0.0", "10.255.255.255", "::1"));
	expect(a, false, L("9.255.255.255", "11.0.0.0", "0.0.0.0",
	    "255.255.255.255", "::", "::2", "2001:db8::"));
	acl_free(a);
	/* /0 alone, each family. */
	a = build(NONE, L("::/0"));
	expect(a, false, L("::", "::1", "2001:db8::1",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	expect(a, true, L("10.0.0.1", "::ffff:10.0.0.1"));
	acl_free(a);
	a = build(L("0.0.0.0/0"), NONE);
	expect(a, true, L("0.0.0.0", "255.255.255.255"));
	expect(a, false, L("::", "2001:db8::1"));
	ck_assert(matches(a, "1.2.3.4"));
	acl_free(a);
}
END_TEST

/* Host routes, at both ends of each address space too. */
START_TEST(test_hosts)
{
	struct acl *a;

	a = build(L("0.0.0.0", "255.255.255.255", "192.0.2.1", "::",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1",
	    "::ffff:198.51.100.1"), NONE);
	expect(a, true, L("0.0.0.0", "255.255.255.255", "192.0.2.1", "::",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1",
	    "198.51.100.1", "::ffff:198.51.100.1", "::ffff:192.0.2.1"));
	expect(a, false, L("0.0.0.1", "255.255.255.254", "192.0.2.0",
	    "192.0.2.2", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	    "2001:db8::", "2001:db8::2", "2001:db8:0:0:1::1",
	    "2001:db8::1:0:0:1", "198.51.100.2"));
	acl_free(a);
	a = build(NONE, L("255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:"
	    "ffff:ffff", "0.0.0.0", "::"));
	expect(a, false, L("255.255.255.255", "0.0.0.0", "::",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	expect(a, true, L("255.255.255.254", "0.0.0.1", "::1",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	acl_free(a);
}
END_TEST

/* Nests sharing first or last addresses, siblings side by side. */
START_TEST(test_nests)
{
	struct acl *a;

	a = build(L("10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.0/32",
	    "10.255.255.0/24", "10.255.255.255", "2001:db8::/32",
	    "2001:db8::/127", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
	    L("10.0.0.0/9", "10.0.0.0/17", "10.0.0.0/25", "10.128.0.0/9",
	    "10.255.255.128/25", "2001:db8::/33", "2001:db8::/128",
	    "2001:db8:8000::/33"));
	/* /8 allow, /9 deny, /16 allow, /17 deny, /24 allow, /25 deny, /32 allow */
	expect(a, true, L("10.0.0.0", "10.0.0.128", "10.0.0.255",
	    "10.0.128.0", "10.0.255.255", "10.255.255.0", "10.255.255.127",
	    "10.255.255.255", "2001:db8::1",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	expect(a, false, L("10.0.0.1", "10.0.0.127", "10.0.1.0",
	    "10.0.127.255", "10.1.0.0", "10.127.255.255", "10.128.0.0",
	    "10.255.254.255", "10.255.255.128", "10.255.255.254",
	    "2001:db8::", "2001:db8::2", "2001:db8:8000::",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"));
	acl_free(a);
	/* Siblings: adjacent ranges of the same verdict are merged. */
	a = build(L("10.0.0.0/9", "10.128.0.0/9", "10.0.0.0/8"), NONE);
	expect(a, true, L("10.0.0.0", "10.127.255.255", "10.128.0.0",
	    "10.255.255.255"));
	expect(a, false, L("9.255.255.255", "11.0.0.0"));
	ck_assert_uint_eq(acl_ranges(a), 3 + 1);
	acl_free(a);
}
END_TEST

START_TEST(test_other_family)
{
	struct sockaddr_un un;
	struct acl *a;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	a = build(NONE, L("0.0.0.0/0", "::/0"));
	ck_assert(acl_permits(a, (struct sockaddr *)&un));
	ck_assert(!acl_matches(a, (struct sockaddr *)&un));
	acl_free(a);
	a = build(L("0.0.0.0/0", "::/0"), NONE);
	ck_assert(!acl_permits(a, (struct sockaddr *)&un));
	ck_assert(!acl_matches(a, (struct sockaddr *)&un));
	acl_free(a);
}
END_TEST

/* Host bits left set by a caller that did not use prefix_parse(). */
START_TEST(test_host_bits_ignored)
{
	struct prefix p;
	struct acl *a;

	ck_assert_int_eq(prefix_parse("10.0.0.0/8", &p, NULL, 0), 0);
	p.addr[3] = 7;
	a = acl_build(&p, 1, NULL, 0);
	ck_assert_ptr_nonnull(a);
	expect(a, true, L("10.0.0.0", "10.255.255.255"));
	expect(a, false, L("11.0.0.0", "9.255.255.255"));
	acl_free(a);
}
END_TEST

/* An IPv4-mapped IPv6 prefix built by hand counts as IPv4. */
START_TEST(test_mapped_rule)
{
	struct prefix p[2];
	struct acl *a;

	memset(p, 0, sizeof(p));
	p[0].family = AF_INET6;
	p[0].len = 120;				/* ::ffff:192.0.2.0/120 */
	p[0].addr[10] = p[0].addr[11] = 0xff;
	p[0].addr[12] = 192;
	p[0].addr[14] = 2;
	p[1].family = AF_INET6;
	p[1].len = 80;				/* ::/80: IPv6 only */
	a = acl_build(p, 2, NULL, 0);
	ck_assert_ptr_nonnull(a);
	expect(a, true, L("192.0.2.1", "::ffff:192.0.2.1", "::1",
	    "::1:0:1"));
	expect(a, false, L("192.0.3.1", "::ffff:192.0.3.1", "::ffff:0:1",
	    "1::"));
	acl_free(a);
}
END_TEST

/* --- random lists against a linear oracle -------------------------------- */

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The rules of acl.h, written the slow way: the longest prefix of either
 * list that contains the address; on a tie, deny.
 */
static void
oracle(const struct prefix *allow, size_t na, const struct prefix *deny,
    size_t nd, const struct prefix *addr, bool *permit, bool *match)
{
	int best = -1;
	bool denied = false;
	size_t i;

	*match = false;
	for (i = 0; i < na; i++)
		if (prefix_contains(&allow[i], addr)) {
			*match = true;
			if (allow[i].len > best) {
				best = allow[i].len;
				denied = false;
			}
		}
	for (i = 0; i < nd; i++)
		if (prefix_contains(&deny[i], addr) && deny[i].len >= best) {
			best = deny[i].len;
			denied = true;
		}
	*permit = best < 0 ? na == 0 : !denied;
}

/*
 * A random prefix, clustered so that rules nest and touch: IPv4 mostly
 * inside 10.0.0.0/14, IPv6 mostly inside 2001:db8::/40 with lengths
 * around the /48../64 a site uses; now and then anywhere, any length.
 */
static void
random_prefix(uint64_t *s, struct prefix *p)
{
	uint64_t r = rnd(s), v;
	unsigned i;

	memset(p, 0, sizeof(*p));
	v = rnd(s);
	if (r % 2 == 0) {
		p->family = AF_INET;
		memcpy(p->addr, &v, 4);
		if (r % 16 != 0) {
			p->addr[0] = 10;
			p->addr[1] &= 0x03;
			p->len = (uint8_t)(14 + (r >> 8) % 19);
		} else
			p->len = (uint8_t)((r >> 8) % 33);
	} else {
		p->family = AF_INET6;
		memcpy(p->addr, &v, 8);
		v = rnd(s);
		memcpy(p->addr + 8, &v, 8);
		if (r % 16 != 1) {
			p->addr[0] = 0x20;
			p->addr[1] = 0x01;
			p->addr[2] = 0x0d;
			p->addr[3] = 0xb8;
			p->addr[4] &= 0x01;
			p->addr[5] &= 0x0f;
			for (i = 8; i < 15; i++)
				p->addr[i] = 0;
			p->addr[15] &= 0x3;
			if ((r >> 8) % 8 == 0)
				p->len = 128;
			else
				p->len = (uint8_t)(40 + (r >> 16) % 25);
		} else
			p->len = (uint8_t)((r >> 8) % 129);
	}
	prefix_mask(p);
}

/* An address near the rules: an edge of one, just outside, or inside. */
static void
random_addr(uint64_t *s, const struct prefix *rules, size_t n,
    struct prefix *a)
{
	uint64_t r = rnd(s), v;
	unsigned bits, i, carry;
	int delta;

	if (n == 0 || r % 8 == 0) {
		random_prefix(s, a);		/* in the clusters, or anywhere */
		v = rnd(s);
		bits = a->family == AF_INET ? 32 : 128;
		for (i = a->len; i < bits; i++)
			if ((v >> (i % 64)) & 1)
				a->addr[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		a->len = (uint8_t)bits;
		return;
	}
	*a = rules[(r >> 3) % n];
	bits = a->family == AF_INET ? 32 : 128;
	switch ((r >> 32) % 4) {
	case 0:					/* first address */
		break;
	case 1:					/* last address */
		for (i = a->len; i < bits; i++)
			a->addr[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		break;
	case 2:					/* random inside */
		v = rnd(s);
		for (i = a->len; i < bits; i++)
			if ((v >> (i % 64)) & 1)
				a->addr[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		break;
	default:				/* one before the first */
		break;
	}
	a->len = (uint8_t)bits;
	if ((r >> 32) % 4 == 3 || (((r >> 32) % 4 == 1) && (r >> 40) % 2)) {
		/* first - 1, or last + 1: just outside */
		delta = (r >> 32) % 4 == 3 ? -1 : 1;
		carry = 1;
		for (i = bits / 8; i-- > 0 && carry;) {
			if (delta > 0) {
				a->addr[i]++;
				carry = a->addr[i] == 0;
			} else {
				carry = a->addr[i] == 0;
				a->addr[i]--;
			}
		}
	}
}

static void
to_sockaddr(uint64_t *s, const struct prefix *a, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET && rnd(s) % 4 != 0) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->addr, 4);
		s4->sin_port = htons(1234);
	} else if (a->family == AF_INET) {	/* IPv4-mapped */
		s6->sin6_family = AF_INET6;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], a->addr, 4);
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->addr, 16);
	}
}

/*
 * nrules random rules, a share of them (deny_pct %) in deny, some listed
 * in both lists or twice; then naddr addresses, each judged by the acl
 * and by the oracle.
 */
static void
against_oracle(uint64_t seed, size_t nrules, unsigned deny_pct,
    size_t naddr)
{
	struct prefix *allow, *deny, p, q;
	struct sockaddr_storage ss;
	size_t na = 0, nd = 0, i;
	bool want_p, want_m, got_p, got_m;
	uint64_t s = seed;
	struct acl *a;
	char buf[PREFIX_STRLEN];
	size_t npermit = 0, nmatch = 0;

	allow = calloc(nrules + 1, sizeof(*allow));
	deny = calloc(nrules + 1, sizeof(*deny));
	ck_assert(allow != NULL && deny != NULL);
	for (i = 0; i < nrules; i++) {
		random_prefix(&s, &p);
		if (rnd(&s) % 100 < deny_pct)
			deny[nd++] = p;
		else
			allow[na++] = p;
		if (i > 0 && rnd(&s) % 50 == 0) {	/* a repeat */
			q = rnd(&s) % 2 && na > 0 ? allow[rnd(&s) % na] :
			    nd > 0 ? deny[rnd(&s) % nd] : p;
			if (deny_pct > 0 && (rnd(&s) % 2 || deny_pct == 100))
				deny[nd++] = q;
			else if (deny_pct < 100)
				allow[na++] = q;
			i++;
		}
	}
	a = acl_build(allow, na, deny, nd);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_le(acl_ranges(a), 2 * (na + nd) + 2);
	for (i = 0; i < naddr; i++) {
		random_addr(&s, na + nd > 0 ? (i % 2 && nd > 0 ? deny : allow) :
		    NULL, i % 2 && nd > 0 ? nd : na, &p);
		oracle(allow, na, deny, nd, &p, &want_p, &want_m);
		to_sockaddr(&s, &p, &ss);
		got_p = acl_permits(a, (struct sockaddr *)&ss);
		got_m = acl_matches(a, (struct sockaddr *)&ss);
		if (got_p != want_p || got_m != want_m) {
			prefix_format(&p, buf, sizeof(buf));
			ck_abort_msg("seed %llu, %zu allow, %zu deny: %s: "
			    "permits %d (want %d), matches %d (want %d)",
			    (unsigned long long)seed, na, nd, buf, got_p,
			    want_p, got_m, want_m);
		}
		npermit += want_p;
		nmatch += want_m;
	}
	/* The addresses must have exercised both answers. */
	if (na > 0 && nd > 0) {
		ck_assert_msg(npermit > naddr / 20 && npermit < naddr -
		    naddr / 20, "%zu of %zu permitted", npermit, naddr);
		ck_assert_msg(nmatch > naddr / 20, "%zu of %zu matched",
		    nmatch, naddr);
	}
	acl_free(a);
	free(allow);
	free(deny);
}

/* Judge p with a and with the oracle; fail with both answers. */
static void
judge(const struct acl *a, const struct prefix *allow, size_t na,
    const struct prefix *deny, size_t nd, const struct prefix *p,
    bool mapped)
{
	struct sockaddr_storage ss;
	char buf[PREFIX_STRLEN];
	bool want_p, want_m, got_p, got_m;
	uint64_t s = mapped ? 4 : 1;	/* to_sockaddr: % 4 == 0 maps */

	oracle(allow, na, deny, nd, p, &want_p, &want_m);
	to_sockaddr(&s, p, &ss);
	got_p = acl_permits(a, (struct sockaddr *)&ss);
	got_m = acl_matches(a, (struct sockaddr *)&ss);
	prefix_format(p, buf, sizeof(buf));
	ck_assert_msg(got_p == want_p && got_m == want_m, "%s: permits %d "
	    "(want %d), matches %d (want %d)", buf, got_p, want_p, got_m,
	    want_m);
}

/* Both ends of the address space of family (all zeros, all ones). */
static void
judge_ends(const struct acl *a, const struct prefix *allow, size_t na,
    const struct prefix *deny, size_t nd, int family)
{
	struct prefix p;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&p, 0, sizeof(p));
		p.family = (uint8_t)family;
		p.len = family == AF_INET ? 32 : 128;
		memset(p.addr, i ? 0xff : 0, family == AF_INET ? 4 : 16);
		judge(a, allow, na, deny, nd, &p, false);
	}
}

/*
 * Rules packed in one block, so the index skips their common bits:
 * every address in and around the block, and both ends of the space.
 */
START_TEST(test_index_block)
{
	struct prefix allow[300], deny[300], p;
	size_t na = 0, nd = 0, i;
	uint32_t v, lo, hi;
	struct acl *a;

	/* 10.0.0.0/16: /24s and /26s, alternately allowed and denied. */
	for (i = 0; i < 256; i += 3) {
		memset(&p, 0, sizeof(p));
		p.family = AF_INET;
		p.addr[0] = 10;
		p.addr[2] = (uint8_t)i;
		p.len = 24;
		if (i % 2)
			deny[nd++] = p;
		else
			allow[na++] = p;
		p.addr[3] = 64;
		p.len = 26;
		if (i % 2)
			allow[na++] = p;
		else
			deny[nd++] = p;
	}
	a = acl_build(allow, na, deny, nd);
	ck_assert_ptr_nonnull(a);
	lo = 10u << 24 | 0 << 16;
	hi = 10u << 24 | 1 << 16;
	for (v = lo - 300; v != hi + 300; v++) {
		memset(&p, 0, sizeof(p));
		p.family = AF_INET;
		p.len = 32;
		p.addr[0] = (uint8_t)(v >> 24);
		p.addr[1] = (uint8_t)(v >> 16);
		p.addr[2] = (uint8_t)(v >> 8);
		p.addr[3] = (uint8_t)v;
		judge(a, allow, na, deny, nd, &p, v % 7 == 0);
	}
	judge_ends(a, allow, na, deny, nd, AF_INET);
	acl_free(a);

	/* 200 IPv6 hosts and /124s inside one /64: the index's bits run out. */
	na = nd = 0;
	for (i = 0; i < 200; i++) {
		p = (struct prefix){ AF_INET6, 128, { 0x20, 0x01, 0x0d, 0xb8 } };
		p.addr[14] = (uint8_t)(i / 16);
		p.addr[15] = (uint8_t)(i * 16 % 256 + i % 3);
		if (i % 4 == 1) {
			p.len = 124;
			prefix_mask(&p);
		}
		if (i % 3)
			allow[na++] = p;
		else
			deny[nd++] = p;
	}
	a = acl_build(allow, na, deny, nd);
	ck_assert_ptr_nonnull(a);
	for (v = 0; v < 16 * 256 + 300; v++) {
		p = (struct prefix){ AF_INET6, 128, { 0x20, 0x01, 0x0d, 0xb8 } };
		p.addr[14] = (uint8_t)(v >> 8);
		p.addr[15] = (uint8_t)v;
		if (v >= 16 * 256) {	/* the /64 before and the one after */
			p.addr[7] = v % 2 ? 1 : 0;
			p.addr[6] = v % 2 ? 0 : 0xff;
			p.addr[5] = v % 2 ? 0 : 0xff;
			p.addr[4] = v % 2 ? 0 : 0xff;
			p.addr[3] = v % 2 ? 0xb8 : 0xb7;
		}
		judge(a, allow, na, deny, nd, &p, false);
	}
	judge_ends(a, allow, na, deny, nd, AF_INET6);
	acl_free(a);
}
END_TEST

START_TEST(test_oracle_10000)
{
	against_oracle(0x9e3779b97f4a7c15ull, 10000, 30, 20000);
}
END_TEST

START_TEST(test_oracle_small)
{
	uint64_t seed;

	/* Many small lists, dense: every nest and tie over and over. */
	for (seed = 1; seed <= 200; seed++)
		against_oracle(seed * 0x2545f4914f6cdd1dull, seed % 40,
		    (unsigned)(seed * 7 % 101), 2000);
}
END_TEST

START_TEST(test_oracle_one_list)
{
	against_oracle(77, 3000, 0, 20000);	/* allow only */
	against_oracle(78, 3000, 100, 20000);	/* deny only */
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("rules");
	TCase *tr = tcase_create("oracle");

	tcase_add_test(tc, test_null);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_allow_only);
	tcase_add_test(tc, test_deny_only);
	tcase_add_test(tc, test_longest_match);
	tcase_add_test(tc, test_tie_is_deny);
	tcase_add_test(tc, test_slash0);
	tcase_add_test(tc, test_hosts);
	tcase_add_test(tc, test_nests);
	tcase_add_test(tc, test_other_family);
	tcase_add_test(tc, test_host_bits_ignored);
	tcase_add_test(tc, test_mapped_rule);
	suite_add_tcase(s, tc);
	/* Linear oracles are slow under sanitizers and valgrind. */
	tcase_set_timeout(tr, 300);
	tcase_add_test(tr, test_index_block);
	tcase_add_test(tr, test_oracle_10000);
	tcase_add_test(tr, test_oracle_small);
	tcase_add_test(tr, test_oracle_one_list);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	return unit_run(acl_suite());
}
