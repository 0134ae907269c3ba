/*
 * srclimit.h - open TCP connections per source, across all workers.
 *
 * A source is what addr_source_of() says: an IPv4 address or an IPv6
 * /64.  Connections of one source land on any worker, so the count is
 * shared: a small hash table under a mutex, touched once when a
 * connection is accepted and once when it closes, never per message.
 * The same entry holds the source's connection rate (limits.
 * connection_rate and connection_burst): a GCRA token bucket, one
 * 64-bit "theoretical arrival time" per source.
 */
#ifndef UPCASED_SRCLIMIT_H
#define UPCASED_SRCLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct handover_source;
struct srclimit;

/* Sources remembered with no connection open (their bucket refilling). */
#define SRCLIMIT_IDLE_MAX	65536

struct srclimit *srclimit_new(void);
void	srclimit_free(struct srclimit *sl);

/* The most connections one source may hold (0 = no limit). */
void	srclimit_set_max(struct srclimit *sl, unsigned max);

/*
 * Count one more connection of sa's source, if it is under the limit.
 * Returns false (nothing counted) when the source is at its limit, or
 * when memory runs out.  An address of another family always passes,
 * uncounted: srclimit_release() must then not be called for it.
 */
bool	srclimit_acquire(struct srclimit *sl, const struct sockaddr *sa,
	    bool *counted);

/* The same, past the limit: a connection open already (an upgrade's). */
bool	srclimit_hold(struct srclimit *sl, const struct sockaddr *sa,
	    bool *counted);

/* New connections per second per source (0 = no limit), and how many
 * may come at once. */
void	srclimit_set_rate(struct srclimit *sl, unsigned rate, unsigned burst);

enum srclimit_result {
	SRCLIMIT_OK,		/* counted (if *counted) */
	SRCLIMIT_FULL,		/* at max connections */
	SRCLIMIT_RATE		/* over the connection rate */
};

/*
 * srclimit_acquire() that also takes one token of the source's
 * connection rate, when rate is true, at now_ms (monotonic ms).  A
 * refused connection takes no token and is not counted.
 */
enum srclimit_result srclimit_admit(struct srclimit *sl,
	    const struct sockaddr *sa, bool rate, uint64_t now_ms,
	    bool *counted);

/* One connection of sa's source closed. */
void	srclimit_release(struct srclimit *sl, const struct sockaddr *sa);

/*
 * An upgrade's hand-over (doc/handover.md).  srclimit_export(): the
 * rate state at now_ms (monotonic ms) of every source whose bucket is
 * not full, as SOURCES records carry it: the idle ones first, oldest
 * first (the newest SRCLIMIT_IDLE_MAX of them), then those with
 * connections open; at most HANDOVER_MAX_SOURCES.  *v is malloc()ed
 * (NULL when *n is 0).  0, or -1 when out of memory.
 *
 * srclimit_import(): on the successor, before its connections are
 * imported (srclimit_hold() counts each again), one source of the old
 * table: an entry with none open, its arrival time re-based on now_ms,
 * appended to the idle list.  NULL, or why not (a source twice, memory).
 */
int	srclimit_export(struct srclimit *sl, uint64_t now_ms,
	    struct handover_source **v, size_t *n);
const char *srclimit_import(struct srclimit *sl,
	    const struct handover_source *s, uint64_t now_ms);

/* The rate state of sa's source: how far its arrival time is ahead of
 * now_ms, in us (0: a full bucket, or no entry).  For tests. */
uint64_t srclimit_ahead(struct srclimit *sl, const struct sockaddr *sa,
	    uint64_t now_ms);

/* Connections counted for sa's source now (for tests). */
unsigned srclimit_count(struct srclimit *sl, const struct sockaddr *sa);

#endif
