/*
 * acl.c - access lists as sorted disjoint ranges.
 *
 * Prefixes either nest or do not meet, so together they cut each address
 * space (IPv4: 0..2^32-1, IPv6: 0..2^128-1) into at most 2 n + 1 ranges
 * in which the longest matching prefix, and hence the verdict, does not
 * change.  acl_build() computes those ranges once: it sorts the prefixes
 * by first address (the shorter of two with the same first address
 * first), then walks them with a stack of the prefixes that enclose the
 * current one, writing a boundary wherever a prefix begins (its verdict)
 * or ends (its parent's again, or no match).  Neighbouring ranges with
 * the same verdict are merged (so with an allow list, denied networks
 * outside every allowed one cost nothing).  A lookup is then a search
 * for the last boundary at or below the address, in a flat array (4
 * bytes a boundary for IPv4, 16 for IPv6).
 *
 * So that the search does not grow with the rule count, an index with
 * about one bucket per range (at most 2^16) maps the address bits that
 * follow the ones all boundaries share to the few boundaries of that
 * bucket; a binary search without branches finishes among them.  Rules
 * spread over the space leave one or two boundaries a bucket: an index
 * load and a step or two, the same at 100 rules as at 50,000.  Rules
 * packed more densely than the index can tell apart (thousands of hosts
 * in one IPv6 /64) fall back to log2 of that bucket's boundaries.
 *
 * Why not a binary trie: its lookup follows up to 32 or 128 dependent
 * pointers spread over the heap, and a path-compressed one is more code
 * to get right; the arrays are one allocation of contiguous memory,
 * built in O(n log n) (the sort; a few ms for 10,000 rules), and
 * trivially safe to share between threads since nothing changes after
 * the build.
 *
 * Each range carries two bits: may the source in (acl_permits), and does
 * some allow prefix cover it (acl_matches).  Called by the thread that
 * loads the configuration (build, free) and by any worker (lookups).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"

#define R_PERMIT	0x1	/* acl_permits() says yes */
#define R_ALLOWED	0x2	/* an allow prefix matches: acl_matches() */

/* So that 2 n + 1 boundaries of either kind fit in a size_t. */
#define MAX_RULES	(SIZE_MAX / 4 / sizeof(struct rule))

/*
 * The index has about one bucket per range, at most 2^16 (256 KiB);
 * fewer than 2^INDEX_MIN ranges are searched without one.
 */
#define INDEX_MIN	3
#define INDEX_MAX	16

/* An address as a 128-bit number; IPv4 in the low 32 bits of lo. */
struct key {
	uint64_t	 hi;
	uint64_t	 lo;
};

/*
 * Where to start the search: the boundaries share their first `skip`
 * bits (`common`), and the next `bits` bits of an address inside that
 * block pick a bucket b whose answer lies in at[b]..at[b + 1].  An
 * address outside the block is before all boundaries but the first or
 * after the last.  Bits are taken from the top 64 of the address (IPv4
 * shifted there).  bits == 0: no index, search everything.
 */
struct index {
	const uint32_t	*at;		/* 2^bits + 1 boundary numbers */
	uint64_t	 common;
	unsigned	 skip;
	unsigned	 bits;
};

struct acl {
	size_t		 nrules;
	size_t		 n4;		/* ranges: boundaries k4[0] = 0 < ... */
	size_t		 n6;
	const uint32_t	*k4;
	const struct key *k6;
	const uint8_t	*f4;		/* R_* of the range from k4[i] on */
	const uint8_t	*f6;
	struct index	 x4;
	struct index	 x6;
	uint8_t		 none;		/* R_* for other families */
};

/* A prefix as the range of addresses it covers, during the build. */
struct rule {
	struct key	 first;
	struct key	 last;
	uint8_t		 len;
	uint8_t		 allow;
	uint8_t		 deny;
	uint8_t		 f;		/* R_* inside, once placed */
};

struct bound {
	struct key	 k;
	uint8_t		 f;
};

static bool
key_lt(struct key a, struct key b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static bool
key_eq(struct key a, struct key b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Big-endian bytes as a number; compilers make this one bswap. */
static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The range of p; host bits are cleared even if the caller left some. */
static void
rule_of(const struct prefix *p, bool deny, struct rule *r)
{
	uint64_t hm_hi, hm_lo;	/* host mask */
	unsigned len;

	memset(r, 0, sizeof(*r));
	if (p->family == AF_INET) {
		len = p->len > 32 ? 32 : p->len;
		r->first.lo = be32(p->addr);
		hm_hi = 0;
		hm_lo = (uint64_t)UINT32_MAX >> len;
	} else {
		len = p->len > 128 ? 128 : p->len;
		r->first.hi = be64(p->addr);
		r->first.lo = be64(p->addr + 8);
		if (len <= 64) {
			hm_hi = len == 64 ? 0 : UINT64_MAX >> len;
			hm_lo = UINT64_MAX;
		} else {
			hm_hi = 0;
			hm_lo = len == 128 ? 0 : UINT64_MAX >> (len - 64);
		}
	}
	r->first.hi &= ~hm_hi;
	r->first.lo &= ~hm_lo;
	r->last.hi = r->first.hi | hm_hi;
	r->last.lo = r->first.lo | hm_lo;
	r->len = (uint8_t)len;
	r->allow = !deny;
	r->deny = deny;
}

static int
rule_cmp(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;

	if (key_lt(x->first, y->first))
		return -1;
	if (key_lt(y->first, x->first))
		return 1;
	return (int)x->len - (int)y->len;
}

/* Append a boundary: from k on, f.  Keys come in ascending order. */
static void
bound_add(struct bound *b, size_t *n, struct key k, uint8_t f)
{
	while (*n > 0 && key_eq(b[*n - 1].k, k))
		(*n)--;			/* a range of no address */
	if (*n > 0 && b[*n - 1].f == f)
		return;			/* same verdict: merge */
	b[*n].k = k;
	b[*n].f = f;
	(*n)++;
}

/* The prefix on top of the stack ends: its parent's verdict from there. */
static void
pop(struct rule **stack, size_t *sp, struct key max, uint8_t none,
    struct bound *b, size_t *n)
{
	struct key next = stack[--*sp]->last;

	if (key_eq(next, max))
		return;			/* nothing after it */
	if (++next.lo == 0)
		next.hi++;
	bound_add(b, n, next, *sp > 0 ? stack[*sp - 1]->f : none);
}

/*
 * The boundaries of r[0..n), sorted, into b (room for 2 n + 1).  max is
 * the family's last address.  Returns how many.
 */
static size_t
sweep(struct rule *r, size_t n, struct key max, uint8_t none,
    struct bound *b)
{
	struct rule *stack[129];	/* strictly nested: one per length */
	struct key zero = { 0, 0 };
	size_t i, j, sp = 0, nb = 0;
	uint8_t allowed;

	bound_add(b, &nb, zero, none);
	for (i = 0; i < n; i = j) {
		/* The same prefix listed again, or in both lists. */
		for (j = i + 1; j < n && r[j].len == r[i].len &&
		    key_eq(r[j].first, r[i].first); j++) {
			r[i].allow |= r[j].allow;
			r[i].deny |= r[j].deny;
		}
		while (sp > 0 && key_lt(stack[sp - 1]->last, r[i].first))
			pop(stack, &sp, max, none, b, &nb);
		allowed = r[i].allow ||
		    (sp > 0 && (stack[sp - 1]->f & R_ALLOWED));
		r[i].f = (uint8_t)((r[i].deny ? 0 : R_PERMIT) |
		    (allowed ? R_ALLOWED : 0));
		stack[sp++] = &r[i];
		bound_add(b, &nb, r[i].first, r[i].f);
	}
	while (sp > 0)
		pop(stack, &sp, max, none, b, &nb);
	return nb;
}

/*
 * p as lookups see addresses: an IPv4-mapped IPv6 prefix of /96 or
 * longer (which prefix_parse() never gives, but a caller may build) is
 * the IPv4 prefix it carries, since mapped peers are judged as IPv4.
 */
static const struct prefix *
canonical(const struct prefix *p, struct prefix *tmp)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (p->family != AF_INET6 || p->len < 96 ||
	    memcmp(p->addr, mapped, sizeof(mapped)) != 0)
		return p;
	memset(tmp, 0, sizeof(*tmp));
	tmp->family = AF_INET;
	tmp->len = (uint8_t)(p->len > 128 ? 32 : p->len - 96);
	memcpy(tmp->addr, p->addr + 12, 4);
	return tmp;
}

/* The rules of one family from both lists, sorted; *n of them. */
static struct rule *
gather(int family, const struct prefix *allow, size_t nallow,
    const struct prefix *deny, size_t ndeny, size_t *n)
{
	const struct prefix *p;
	struct prefix tmp;
	struct rule *r;
	size_t i, k = 0;

	if ((r = malloc((nallow + ndeny + 1) * sizeof(*r))) == NULL)
		return NULL;
	for (i = 0; i < nallow + ndeny; i++) {
		p = canonical(i < nallow ? &allow[i] : &deny[i - nallow], &tmp);
		if (p->family == family)
			rule_of(p, i >= nallow, &r[k++]);
	}
	qsort(r, k, sizeof(*r), rule_cmp);
	*n = k;
	return r;
}

/* The top 64 bits of a boundary's address (IPv4 at the very top). */
static uint64_t
top_of(struct key k, bool v4)
{
	return v4 ? k.lo << 32 : k.hi;
}

/* How many bits the index of n boundaries uses. */
static unsigned
index_bits(size_t n)
{
	unsigned bits = 0;

	while (bits < INDEX_MAX && (size_t)2 << bits <= n)
		bits++;
	return bits < INDEX_MIN ? 0 : bits;
}

/* x for b[0..n) into at (room for 2^index_bits(n) + 1). */
static void
index_build(const struct bound *b, size_t n, bool v4, struct index *x,
    uint32_t *at)
{
	uint64_t first, last, start, nb, j;
	struct key k;
	size_t i;

	memset(x, 0, sizeof(*x));
	if ((x->bits = index_bits(n)) == 0)
		return;
	/* What b[1..n) share: b[0] is address 0, before everything. */
	first = top_of(b[1].k, v4);
	last = top_of(b[n - 1].k, v4);
	while (x->skip < 64 - x->bits &&
	    ((first ^ last) >> (63 - x->skip) & 1) == 0)
		x->skip++;
	x->common = x->skip == 0 ? 0 : first >> (64 - x->skip);
	nb = (uint64_t)1 << x->bits;
	for (i = 0, j = 0; j < nb; j++) {
		/* The last boundary at or below the bucket's first address. */
		start = (x->skip == 0 ? 0 : x->common << (64 - x->skip)) |
		    j << (64 - x->skip - x->bits);
		k.hi = v4 ? 0 : start;
		k.lo = v4 ? start >> 32 : 0;
		while (i + 1 < n && !key_lt(k, b[i + 1].k))
			i++;
		at[j] = (uint32_t)i;
	}
	at[nb] = (uint32_t)(n - 1);
	x->at = at;
}

struct acl *
acl_build(const struct prefix *allow, size_t nallow,
    const struct prefix *deny, size_t ndeny)
{
	static const struct key max4 = { 0, UINT32_MAX };
	static const struct key max6 = { UINT64_MAX, UINT64_MAX };
	struct rule *r4 = NULL, *r6 = NULL;
	struct bound *b4 = NULL, *b6 = NULL;
	struct acl *a = NULL;
	uint32_t *k4, *x4, *x6;
	struct key *k6;
	uint8_t *f4, *f6, none;
	size_t n4, n6, nb4, nb6, nx4, nx6, i;
	char *p;

	if (nallow > MAX_RULES || ndeny > MAX_RULES - nallow)
		return NULL;
	none = nallow == 0 ? R_PERMIT : 0;
	if ((r4 = gather(AF_INET, allow, nallow, deny, ndeny, &n4)) == NULL ||
	    (r6 = gather(AF_INET6, allow, nallow, deny, ndeny, &n6)) == NULL ||
	    (b4 = malloc((2 * n4 + 1) * sizeof(*b4))) == NULL ||
	    (b6 = malloc((2 * n6 + 1) * sizeof(*b6))) == NULL)
		goto out;
	nb4 = sweep(r4, n4, max4, none, b4);
	nb6 = sweep(r6, n6, max6, none, b6);

	if (nb4 > UINT32_MAX || nb6 > UINT32_MAX)
		goto out;		/* the index holds 32-bit numbers */
	nx4 = index_bits(nb4) == 0 ? 0 : ((size_t)1 << index_bits(nb4)) + 1;
	nx6 = index_bits(nb6) == 0 ? 0 : ((size_t)1 << index_bits(nb6)) + 1;

	/*
	 * One block: the struct, IPv6 keys, IPv4 keys, the two indexes,
	 * then the flags.
	 */
	if ((a = malloc(sizeof(*a) + nb6 * sizeof(*k6) + nb4 * sizeof(*k4) +
	    (nx4 + nx6) * sizeof(*x4) + nb4 + nb6)) == NULL)
		goto out;
	p = (char *)(a + 1);
	k6 = (struct key *)(void *)p;
	k4 = (uint32_t *)(void *)(p += nb6 * sizeof(*k6));
	x4 = (uint32_t *)(void *)(p += nb4 * sizeof(*k4));
	x6 = (uint32_t *)(void *)(p += nx4 * sizeof(*x4));
	f4 = (uint8_t *)(p += nx6 * sizeof(*x6));
	f6 = (uint8_t *)(p += nb4);
	for (i = 0; i < nb4; i++) {
		k4[i] = (uint32_t)b4[i].k.lo;
		f4[i] = b4[i].f;
	}
	for (i = 0; i < nb6; i++) {
		k6[i] = b6[i].k;
		f6[i] = b6[i].f;
	}
	a->nrules = nallow + ndeny;
	a->n4 = nb4;
	a->n6 = nb6;
	a->k4 = k4;
	a->k6 = k6;
	a->f4 = f4;
	a->f6 = f6;
	a->none = none;
	index_build(b4, nb4, true, &a->x4, x4);
	index_build(b6, nb6, false, &a->x6, x6);
out:
	free(r4);
	free(r6);
	free(b4);
	free(b6);
	return a;
}

void
acl_free(struct acl *a)
{
	free(a);
}

/* The last boundary at or below key; k[0] is 0, so there is one. */
static size_t
find4(const uint32_t *k, size_t n, uint32_t key)
{
	const uint32_t *base = k;
	size_t half;

	while (n > 1) {
		half = n / 2;
		base = base[half] <= key ? base + half : base;	/* cmov */
		n -= half;
	}
	return (size_t)(base - k);
}

static size_t
find6(const struct key *k, size_t n, struct key key)
{
	const struct key *base = k;
	size_t half;
	unsigned le;

	while (n > 1) {
		half = n / 2;
		/* base[half] <= key, without a branch to mispredict */
		le = (base[half].hi < key.hi) |
		    ((base[half].hi == key.hi) & (base[half].lo <= key.lo));
		base += half & ((size_t)0 - (size_t)le);
		n -= half;
	}
	return (size_t)(base - k);
}

/*
 * The boundaries to search for an address whose top 64 bits are top:
 * from *lo, n of them.
 */
static size_t
narrow(const struct index *x, uint64_t top, size_t n, size_t *lo)
{
	uint64_t pre, b;

	*lo = 0;
	if (x->bits == 0)
		return n;
	pre = x->skip == 0 ? 0 : top >> (64 - x->skip);
	if (pre != x->common) {
		*lo = pre < x->common ? 0 : n - 1;
		return 1;
	}
	b = top << x->skip >> (64 - x->bits);
	*lo = x->at[b];
	return x->at[b + 1] - *lo + 1;
}

static uint8_t
lookup(const struct acl *a, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;
	struct in_addr a4;
	struct key k;
	uint32_t v;
	size_t lo, n;

	if (addr_v4(sa, &a4)) {
		v = ntohl(a4.s_addr);
		n = narrow(&a->x4, (uint64_t)v << 32, a->n4, &lo);
		return a->f4[lo + find4(a->k4 + lo, n, v)];
	}
	if (sa->sa_family != AF_INET6)
		return a->none;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	k.hi = be64(s6->sin6_addr.s6_addr);
	k.lo = be64(s6->sin6_addr.s6_addr + 8);
	n = narrow(&a->x6, k.hi, a->n6, &lo);
	return a->f6[lo + find6(a->k6 + lo, n, k)];
}

bool
acl_permits(const struct acl *a, const struct sockaddr *sa)
{
	return a == NULL || (lookup(a, sa) & R_PERMIT) != 0;
}

bool
acl_matches(const struct acl *a, const struct sockaddr *sa)
{
	return a != NULL && (lookup(a, sa) & R_ALLOWED) != 0;
}

bool
acl_empty(const struct acl *a)
{
	return a == NULL || a->nrules == 0;
}

size_t
acl_ranges(const struct acl *a)
{
	return a == NULL ? 0 : a->n4 + a->n6;
}
