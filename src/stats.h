/*
 * stats.h - traffic counters.
 *
 * Each worker owns one struct stats and is its only writer; the main
 * thread reads them to build STATUS= and sums them.  Relaxed atomics make
 * that race-free without a lock or a locked instruction on the hot path:
 * a single writer does load + store, not read-modify-write.
 */
#ifndef UPCASED_STATS_H
#define UPCASED_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct stats {
	_Atomic uint64_t	 conns_total;	/* accepted and served */
	_Atomic uint64_t	 conns_refused;	/* over max_connections */
	_Atomic uint64_t	 proxy_errors;	/* bad or missing PROXY header */
	_Atomic uint64_t	 denied;	/* by the access rules (TCP, UDP) */
	_Atomic uint64_t	 lame_checks;	/* health checks failed, lame duck */
	_Atomic uint64_t	 bytes_in;	/* TCP and UDP payload */
	_Atomic uint64_t	 bytes_out;
	_Atomic uint64_t	 dgrams_in;
	_Atomic uint64_t	 dgrams_out;
	_Atomic uint64_t	 dgrams_dropped; /* loop guard, send errors */
	_Atomic uint64_t	 dgrams_limited; /* over udp.rate_limit */
};

/* A plain copy, for sums and reports. */
struct stats_snapshot {
	uint64_t		 conns_open;
	uint64_t		 conns_total;
	uint64_t		 conns_refused;
	uint64_t		 proxy_errors;
	uint64_t		 denied;
	uint64_t		 lame_checks;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 dgrams_in;
	uint64_t		 dgrams_out;
	uint64_t		 dgrams_dropped;
	uint64_t		 dgrams_limited;
};

/* Add v to a counter this thread alone writes. */
static inline void
stats_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + v,
	    memory_order_relaxed);
}

static inline uint64_t
stats_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* out += the counters of s (any thread). */
void	stats_sum(struct stats_snapshot *out, struct stats *s);

#endif
