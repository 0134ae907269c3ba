/*
 * stats.h - traffic counters.
 *
 * Each worker owns one struct stats and is its only writer; the main
 * thread reads them to build STATUS=, the stopped event and /metrics, and
 * sums them (a retired worker's counts are added to the pool's "past" sum
 * before it goes, so no sum ever goes backwards).  Relaxed atomics make
 * that race-free without a lock or a locked instruction on the hot path:
 * a single writer does load + store, not read-modify-write.
 *
 * Every counter is one line of STATS_COUNTERS; the struct, the snapshot
 * and the sum are generated from it.  The totals STATUS= shows (refused,
 * denied, dropped, bytes) are sums of these, by the inline functions at
 * the end, so all three reports add up the same counters.
 */
#ifndef UPCASED_STATS_H
#define UPCASED_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Connection durations: upper bounds of the histogram's buckets, in
 * milliseconds (a last, implicit bucket is +Inf). */
#define STATS_DURATION_MS						\
	{ 1, 10, 100, 1000, 10000, 60000, 300000, 1800000, 3600000,	\
	  86400000 }
#define STATS_DURATION_BUCKETS	10

#define STATS_COUNTERS(X)						\
	X(conns_total)		/* TCP accepted and served */		\
	X(conns_closed)		/* ... of which closed since */		\
	X(refused_max)		/* over max_connections */		\
	X(refused_source)	/* over max_connections_per_source */	\
	X(refused_rate)		/* over limits.connection_rate */	\
	X(refused_oom)		/* out of memory at accept */		\
	X(refused_denied)	/* the access rules, TCP */		\
	X(refused_proxy)	/* bad, missing or late PROXY header */	\
	X(lame_checks)		/* health checks failed, lame duck */	\
	X(closed_denied)	/* served, closed by new access rules */ \
	X(tcp_bytes_in)		/* payload; PROXY headers not included */ \
	X(tcp_bytes_out)						\
	X(udp_bytes_in)							\
	X(udp_bytes_out)						\
	X(dgrams_in)							\
	X(dgrams_out)							\
	X(dropped_loop)		/* loop guard: port, own port, group */	\
	X(dropped_limited)	/* over udp.rate_limit */		\
	X(dropped_denied)	/* the access rules, UDP */		\
	X(dropped_truncated)	/* larger than the receive slot */	\
	X(dropped_send)		/* the kernel refused the reply */	\
	X(pending_out)		/* gauge: bytes queued for slow readers */ \
	X(duration_ms)		/* sum of closed connections' lifetimes */

struct stats {
#define STATS_FIELD(name)	_Atomic uint64_t name;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
	/* connections closed, by duration (not cumulative) */
	_Atomic uint64_t	 duration[STATS_DURATION_BUCKETS + 1];
};

/* A plain copy, for sums and reports. */
struct stats_snapshot {
	uint64_t		 conns_open;	/* admission's count */
#define STATS_FIELD(name)	uint64_t name;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
	uint64_t		 duration[STATS_DURATION_BUCKETS + 1];
};

/* Add v to a counter this thread alone writes. */
static inline void
stats_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + v,
	    memory_order_relaxed);
}

/* Take v from a gauge this thread alone writes. */
static inline void
stats_sub(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) - v,
	    memory_order_relaxed);
}

static inline uint64_t
stats_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* out += the counters of s (any thread). */
void	stats_sum(struct stats_snapshot *out, struct stats *s);

/* A connection of ms milliseconds closed (its worker). */
void	stats_closed(struct stats *s, uint64_t ms);

/* The upper bound of duration bucket i in ms (i < STATS_DURATION_BUCKETS). */
uint64_t	stats_duration_bound(unsigned i);

/* The totals of STATUS= and the stopped event. */
static inline uint64_t
stats_refused(const struct stats_snapshot *s)
{
	return s->refused_max + s->refused_source + s->refused_rate +
	    s->refused_oom;
}

static inline uint64_t
stats_denied(const struct stats_snapshot *s)
{
	return s->refused_denied + s->closed_denied + s->dropped_denied;
}

static inline uint64_t
stats_dropped(const struct stats_snapshot *s)
{
	return s->dropped_loop + s->dropped_truncated + s->dropped_send;
}

static inline uint64_t
stats_bytes_in(const struct stats_snapshot *s)
{
	return s->tcp_bytes_in + s->udp_bytes_in;
}

static inline uint64_t
stats_bytes_out(const struct stats_snapshot *s)
{
	return s->tcp_bytes_out + s->udp_bytes_out;
}

#endif
