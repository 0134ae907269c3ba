/*
 * ratelimit.c - per-source token buckets.
 *
 * Tokens are counted in thousandths of a datagram, so a rate of r per
 * second refills exactly r tokens every 1000 ms with integer arithmetic.
 * Lookup hashes the source to a slot and probes a few neighbours; when
 * none holds the source, the fullest of them is taken over.
 *
 * A bucket is keyed by (source, port): port 0 for the usual per-source
 * bucket (no datagram comes from port 0: the loop guard drops it), where
 * an IPv6 source is its /64 (what one host can rotate through); the
 * source port for a session of a UDP balancer, whose address is one
 * fixed, declared host, so there all 128 bits count: two balancers in
 * one /64 must not share their sessions' buckets.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ratelimit.h"

#define PROBES		4
#define MILLI		1000u

struct bucket {
	uint64_t	 key;		/* /64 or IPv4 address */
	uint64_t	 lo;		/* IPv6 with a port: the low 64 bits */
	uint64_t	 last;		/* ms of the last refill; 0 = empty */
	uint64_t	 tokens;	/* in thousandths */
	uint16_t	 port;		/* 0 = the whole source */
	uint8_t		 family;
};

struct ratelimit {
	struct bucket	*b;
	size_t		 mask;
	uint64_t	 rate;		/* datagrams per second */
	uint64_t	 cap;		/* burst, in thousandths */
};

struct ratelimit *
ratelimit_new(size_t slots)
{
	struct ratelimit *rl;
	size_t n = PROBES;

	while (n < slots)
		n <<= 1;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if ((rl->b = calloc(n, sizeof(*rl->b))) == NULL) {
		free(rl);
		return NULL;
	}
	rl->mask = n - 1;
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->b);
	free(rl);
}

void
ratelimit_configure(struct ratelimit *rl, uint32_t rate, uint32_t burst)
{
	size_t i;

	rl->rate = rate;
	rl->cap = (uint64_t)(burst > 0 ? burst : 1) * MILLI;
	for (i = 0; i <= rl->mask; i++)
		if (rl->b[i].tokens > rl->cap)
			rl->b[i].tokens = rl->cap;
}

/*
 * Every bit of the key, the family and the port moves the slot (the
 * 64-bit finalizer of MurmurHash3): the sessions of one balancer differ
 * in the port alone, and must not all fall on the same few slots.
 */
static size_t
slot_of(uint64_t key, uint64_t lo, uint8_t family, uint16_t port)
{
	uint64_t h = key ^ (lo * 0x9e3779b97f4a7c15ULL) ^
	    ((uint64_t)port << 32) ^ ((uint64_t)family << 56);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h;
}

/* The tokens b would hold at now, refilled but not yet stored. */
static uint64_t
bucket_level(const struct ratelimit *rl, const struct bucket *b,
    uint64_t now)
{
	uint64_t t = b->tokens;

	if (b->last == 0)
		return UINT64_MAX;		/* empty: take it first */
	if (now > b->last)
		t += (now - b->last) * rl->rate;
	return t < rl->cap ? t : rl->cap;
}

/*
 * The bucket of this source.  When none of the probed slots holds it,
 * the one with the most tokens is taken over: a source being limited
 * has none, so a flood of new sources cannot reset the bucket of one
 * that is being held back.
 */
static struct bucket *
bucket_find(struct ratelimit *rl, const struct addr_source *src,
    uint64_t lo, uint16_t port, uint64_t now)
{
	struct bucket *b, *victim = NULL;
	uint64_t level, best = 0;
	size_t i, s = slot_of(src->key, lo, src->family, port);

	for (i = 0; i < PROBES; i++) {
		b = &rl->b[(s + i) & rl->mask];
		if (b->last != 0 && b->key == src->key && b->lo == lo &&
		    b->family == src->family && b->port == port)
			return b;
		level = bucket_level(rl, b, now);
		if (victim == NULL || level > best) {
			victim = b;
			best = level;
		}
	}
	victim->key = src->key;
	victim->lo = lo;
	victim->family = src->family;
	victim->port = port;
	victim->tokens = rl->cap;
	victim->last = now;
	return victim;
}

static bool
bucket_allow(struct ratelimit *rl, const struct sockaddr *sa, bool by_port,
    uint64_t now_ms)
{
	struct addr_source src;
	struct bucket *b;
	uint64_t lo = 0;

	if (rl->rate == 0 || !addr_source_of(sa, &src))
		return true;
	if (now_ms == 0)
		now_ms = 1;		/* 0 marks an empty slot */
	if (by_port && src.family == AF_INET6 && sa->sa_family == AF_INET6)
		memcpy(&lo, ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr + 8, 8);
	b = bucket_find(rl, &src, lo, by_port ? addr_port(sa) : 0, now_ms);
	if (now_ms > b->last) {
		b->tokens += (now_ms - b->last) * rl->rate;
		if (b->tokens > rl->cap)
			b->tokens = rl->cap;
		b->last = now_ms;
	}
	if (b->tokens < MILLI)
		return false;
	b->tokens -= MILLI;
	return true;
}

bool
ratelimit_allow(struct ratelimit *rl, const struct sockaddr *sa,
    uint64_t now_ms)
{
	return bucket_allow(rl, sa, false, now_ms);
}

bool
ratelimit_allow_port(struct ratelimit *rl, const struct sockaddr *sa,
    uint64_t now_ms)
{
	return bucket_allow(rl, sa, true, now_ms);
}
