/*
 * stats.c - summing the per-worker counters (main thread).
 */
#include "stats.h"

void
stats_sum(struct stats_snapshot *out, struct stats *s)
{
	out->conns_total += stats_get(&s->conns_total);
	out->conns_refused += stats_get(&s->conns_refused);
	out->proxy_errors += stats_get(&s->proxy_errors);
	out->denied += stats_get(&s->denied);
	out->lame_checks += stats_get(&s->lame_checks);
	out->bytes_in += stats_get(&s->bytes_in);
	out->bytes_out += stats_get(&s->bytes_out);
	out->dgrams_in += stats_get(&s->dgrams_in);
	out->dgrams_out += stats_get(&s->dgrams_out);
	out->dgrams_dropped += stats_get(&s->dgrams_dropped);
	out->dgrams_limited += stats_get(&s->dgrams_limited);
}
