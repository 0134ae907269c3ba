/*
 * stats.c - the per-worker counters: summing them (main thread) and the
 * connection-duration histogram (its worker).
 */
#include "stats.h"

static const uint64_t duration_ms[STATS_DURATION_BUCKETS] =
    STATS_DURATION_MS;

void
stats_sum(struct stats_snapshot *out, struct stats *s)
{
	unsigned i;

#define STATS_SUM(name)	out->name += stats_get(&s->name);
	STATS_COUNTERS(STATS_SUM)
#undef STATS_SUM
	for (i = 0; i <= STATS_DURATION_BUCKETS; i++)
		out->duration[i] += stats_get(&s->duration[i]);
}

void
stats_closed(struct stats *s, uint64_t ms)
{
	unsigned i;

	for (i = 0; i < STATS_DURATION_BUCKETS && ms > duration_ms[i]; i++)
		;
	stats_add(&s->duration[i], 1);
	stats_add(&s->duration_ms, ms);
	stats_add(&s->conns_closed, 1);
}

uint64_t
stats_duration_bound(unsigned i)
{
	return i < STATS_DURATION_BUCKETS ? duration_ms[i] : UINT64_MAX;
}
