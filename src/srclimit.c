/*
 * srclimit.c - open TCP connections per source.
 *
 * Chained hash table: an entry exists while its source has a
 * connection open, so its size follows the number of distinct sources
 * connected, which max_connections bounds.  With a connection rate, an
 * entry whose last connection closed stays while its bucket is not full
 * again (else a client connecting and closing in a loop would get a
 * fresh bucket every time), on an "idle" list in the order of their last
 * close; admissions free the ones refilled by now from its head, and
 * past IDLE_MAX the oldest goes anyway.
 *
 * An upgrade hands the rate state over (srclimit_export(), _import()):
 * each arrival time as its distance ahead of now, as a connection's
 * clocks travel as ages (the format names no clock); the counts are
 * rebuilt by the connections themselves (srclimit_hold()).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "handover.h"
#include "srclimit.h"

#define BUCKET_BITS	12
#define BUCKETS		(1u << BUCKET_BITS)
#define IDLE_MAX	SRCLIMIT_IDLE_MAX
#define PRUNE_MAX	8	/* idle entries freed per admission */

struct entry {
	struct entry	*next;		/* hash chain */
	struct entry	*iprev;		/* idle list, while count == 0 */
	struct entry	*inext;
	uint64_t	 key;
	uint64_t	 tat;		/* GCRA: theoretical arrival, us */
	unsigned	 count;
	bool		 idle;
	uint8_t		 family;
};

struct srclimit {
	pthread_mutex_t	 mu;
	unsigned	 max;
	uint64_t	 interval;	/* us per connection; 0 = no rate */
	uint64_t	 tolerance;	/* (burst - 1) * interval */
	struct entry	*ihead;		/* idle, oldest first */
	struct entry	*itail;
	size_t		 nidle;
	struct entry	*b[BUCKETS];
};

struct srclimit *
srclimit_new(void)
{
	struct srclimit *sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	pthread_mutex_init(&sl->mu, NULL);
	return sl;
}

void
srclimit_free(struct srclimit *sl)
{
	struct entry *e, *next;
	size_t i;

	if (sl == NULL)
		return;
	for (i = 0; i < BUCKETS; i++)
		for (e = sl->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&sl->mu);
	free(sl);
}

void
srclimit_set_max(struct srclimit *sl, unsigned max)
{
	pthread_mutex_lock(&sl->mu);
	sl->max = max;
	pthread_mutex_unlock(&sl->mu);
}

void
srclimit_set_rate(struct srclimit *sl, unsigned rate, unsigned burst)
{
	pthread_mutex_lock(&sl->mu);
	sl->interval = rate == 0 ? 0 : (1000000 + rate - 1) / rate;
	sl->tolerance = (uint64_t)(burst > 1 ? burst - 1 : 0) * sl->interval;
	pthread_mutex_unlock(&sl->mu);
}

static struct entry **
find_key(struct srclimit *sl, uint64_t key, uint8_t family)
{
	/*
	 * Fibonacci hashing: the top bits of the product are the ones every
	 * bit of the key moves (the low bits of an IPv6 /64 key are its
	 * last subnet bits: a /48's subnets must not share a few chains).
	 */
	uint64_t h = (key ^ family) * 0x9e3779b97f4a7c15ULL;
	struct entry **ep = &sl->b[h >> (64 - BUCKET_BITS)];

	while (*ep != NULL && ((*ep)->key != key || (*ep)->family != family))
		ep = &(*ep)->next;
	return ep;
}

static struct entry **
find(struct srclimit *sl, const struct addr_source *src)
{
	return find_key(sl, src->key, src->family);
}

static void
idle_unlink(struct srclimit *sl, struct entry *e)
{
	if (e->iprev != NULL)
		e->iprev->inext = e->inext;
	else
		sl->ihead = e->inext;
	if (e->inext != NULL)
		e->inext->iprev = e->iprev;
	else
		sl->itail = e->iprev;
	e->iprev = e->inext = NULL;
	e->idle = false;
	sl->nidle--;
}

static void
idle_push(struct srclimit *sl, struct entry *e)
{
	e->inext = NULL;
	e->iprev = sl->itail;
	if (sl->itail != NULL)
		sl->itail->inext = e;
	else
		sl->ihead = e;
	sl->itail = e;
	e->idle = true;
	sl->nidle++;
}

/* Unchain and free e (no connection open). */
static void
entry_free(struct srclimit *sl, struct entry *e)
{
	struct entry **ep = find_key(sl, e->key, e->family);

	if (e->idle)
		idle_unlink(sl, e);
	if (*ep == e)
		*ep = e->next;
	free(e);
}

/* Forget idle sources whose bucket is full again (or too many). */
static void
prune(struct srclimit *sl, uint64_t now)
{
	struct entry *e;
	int n;

	for (n = 0; n < PRUNE_MAX && (e = sl->ihead) != NULL; n++) {
		if (sl->interval != 0 && e->tat > now && sl->nidle <= IDLE_MAX)
			break;
		entry_free(sl, e);
	}
}

/* force: count it whatever the limit (an open connection handed over);
 * then nothing is pruned either: the successor holds its connections
 * before it has a clock or a rate, and idle sources it imported must
 * stay until then. */
static enum srclimit_result
srclimit_judge(struct srclimit *sl, const struct sockaddr *sa, bool rate,
    uint64_t now_ms, bool force, bool *counted)
{
	struct addr_source src;
	struct entry **ep, *e;
	enum srclimit_result r = SRCLIMIT_OK;
	uint64_t now = now_ms * 1000, tat;

	*counted = false;
	if (!addr_source_of(sa, &src))
		return SRCLIMIT_OK;
	pthread_mutex_lock(&sl->mu);
	if (!force)
		prune(sl, now);
	ep = find(sl, &src);
	/*
	 * Out of memory for a new entry: let the connection in uncounted
	 * rather than refuse it as if its source were over the limit.
	 */
	if ((e = *ep) == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		e->key = src.key;
		e->family = src.family;
		*ep = e;
	}
	if (e == NULL)
		goto out;
	tat = e->tat > now ? e->tat : now;
	if (!force && sl->max != 0 && e->count >= sl->max)
		r = SRCLIMIT_FULL;
	else if (rate && sl->interval != 0 && tat - now > sl->tolerance)
		r = SRCLIMIT_RATE;
	else {
		if (rate && sl->interval != 0)
			e->tat = tat + sl->interval;
		if (e->idle)
			idle_unlink(sl, e);
		e->count++;
		*counted = true;
	}
	if (e->count == 0 && !e->idle)	/* new, and refused */
		entry_free(sl, e);
out:
	pthread_mutex_unlock(&sl->mu);
	return r;
}

enum srclimit_result
srclimit_admit(struct srclimit *sl, const struct sockaddr *sa, bool rate,
    uint64_t now_ms, bool *counted)
{
	return srclimit_judge(sl, sa, rate, now_ms, false, counted);
}

bool
srclimit_acquire(struct srclimit *sl, const struct sockaddr *sa,
    bool *counted)
{
	return srclimit_admit(sl, sa, false, 0, counted) == SRCLIMIT_OK;
}

bool
srclimit_hold(struct srclimit *sl, const struct sockaddr *sa, bool *counted)
{
	(void)srclimit_judge(sl, sa, false, 0, true, counted);
	return *counted;
}

void
srclimit_release(struct srclimit *sl, const struct sockaddr *sa)
{
	struct addr_source src;
	struct entry **ep, *e;

	if (!addr_source_of(sa, &src))
		return;
	pthread_mutex_lock(&sl->mu);
	ep = find(sl, &src);
	if ((e = *ep) != NULL && e->count > 0 && --e->count == 0) {
		if (sl->interval != 0)
			idle_push(sl, e);	/* its bucket is remembered */
		else {
			*ep = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&sl->mu);
}

unsigned
srclimit_count(struct srclimit *sl, const struct sockaddr *sa)
{
	struct addr_source src;
	struct entry *e;
	unsigned n = 0;

	if (!addr_source_of(sa, &src))
		return 0;
	pthread_mutex_lock(&sl->mu);
	if ((e = *find(sl, &src)) != NULL)
		n = e->count;
	pthread_mutex_unlock(&sl->mu);
	return n;
}

/* --- the hand-over ------------------------------------------------------ */

static void
export_one(const struct entry *e, uint64_t now, struct handover_source *s)
{
	uint32_t a4;

	memset(s, 0, sizeof(*s));
	s->family = e->family;
	if (e->family == AF_INET) {
		a4 = (uint32_t)e->key;		/* s_addr: network order */
		memcpy(s->prefix, &a4, 4);
	} else
		memcpy(s->prefix, &e->key, 8);
	s->ahead_us = e->tat - now;
	/* Never more than a bucket; bounded anyway, so it always encodes. */
	if (s->ahead_us > HANDOVER_MAX_AHEAD_US)
		s->ahead_us = HANDOVER_MAX_AHEAD_US;
}

int
srclimit_export(struct srclimit *sl, uint64_t now_ms,
    struct handover_source **v, size_t *n)
{
	struct handover_source *out;
	struct entry *e;
	uint64_t now = now_ms * 1000;
	size_t cap = 0, k = 0, skip, i;

	*v = NULL;
	*n = 0;
	pthread_mutex_lock(&sl->mu);
	for (i = 0; i < BUCKETS; i++)
		for (e = sl->b[i]; e != NULL; e = e->next)
			if (e->tat > now)
				cap++;
	if (cap > HANDOVER_MAX_SOURCES)
		cap = HANDOVER_MAX_SOURCES;
	if (cap == 0) {
		pthread_mutex_unlock(&sl->mu);
		return 0;
	}
	if ((out = calloc(cap, sizeof(*out))) == NULL) {
		pthread_mutex_unlock(&sl->mu);
		return -1;
	}
	/* The idle list, oldest first, but only the newest IDLE_MAX. */
	skip = sl->nidle > IDLE_MAX ? sl->nidle - IDLE_MAX : 0;
	for (e = sl->ihead; e != NULL && k < cap; e = e->inext) {
		if (skip > 0) {
			skip--;
			continue;
		}
		if (e->tat > now)
			export_one(e, now, &out[k++]);
	}
	for (i = 0; i < BUCKETS; i++)
		for (e = sl->b[i]; e != NULL && k < cap; e = e->next)
			if (!e->idle && e->tat > now)
				export_one(e, now, &out[k++]);
	pthread_mutex_unlock(&sl->mu);
	if (k == 0) {
		free(out);
		out = NULL;
	}
	*v = out;
	*n = k;
	return 0;
}

const char *
srclimit_import(struct srclimit *sl, const struct handover_source *s,
    uint64_t now_ms)
{
	struct entry **ep, *e;
	uint64_t key = 0;
	uint32_t a4;
	const char *why = NULL;

	if (s->family == AF_INET) {
		memcpy(&a4, s->prefix, 4);
		key = a4;
	} else if (s->family == AF_INET6)
		memcpy(&key, s->prefix, 8);
	else
		return "bad source family";
	pthread_mutex_lock(&sl->mu);
	ep = find_key(sl, key, s->family);
	if (*ep != NULL)
		why = "a source handed over twice";
	else if ((e = calloc(1, sizeof(*e))) == NULL)
		why = "out of memory";
	else {
		e->key = key;
		e->family = s->family;
		e->tat = now_ms * 1000 + s->ahead_us;
		*ep = e;
		idle_push(sl, e);
	}
	pthread_mutex_unlock(&sl->mu);
	return why;
}

uint64_t
srclimit_ahead(struct srclimit *sl, const struct sockaddr *sa,
    uint64_t now_ms)
{
	struct addr_source src;
	struct entry *e;
	uint64_t now = now_ms * 1000, ahead = 0;

	if (!addr_source_of(sa, &src))
		return 0;
	pthread_mutex_lock(&sl->mu);
	if ((e = *find(sl, &src)) != NULL && e->tat > now)
		ahead = e->tat - now;
	pthread_mutex_unlock(&sl->mu);
	return ahead;
}
