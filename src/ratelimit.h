/*
 * ratelimit.h - per-source token buckets (the UDP reflector defence).
 *
 * A source is an IPv4 address (/32; IPv4-mapped IPv6 counts as IPv4) or
 * an IPv6 /64, the block one host or one customer usually has.  Each
 * source may send `rate` datagrams per second on average and `burst` at
 * once.  The table has a fixed size: a source not seen for a while gives
 * its slot to a new one, which starts with a full bucket.  A flood of
 * datagrams spoofed from one victim's address keeps that victim's slot
 * busy, so it stays limited.
 *
 * Behind a UDP balancer (nginx `stream` relays datagrams with no header)
 * every client's datagrams come from the balancer's address, with one
 * source port per client session: ratelimit_allow_port() gives each
 * (source, port) its own bucket there.  Pure: the caller passes the clock; one
 * table per worker, no locking.
 */
#ifndef UPCASED_RATELIMIT_H
#define UPCASED_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ratelimit;

/* A table of at least `slots` entries (rounded up to a power of two). */
struct ratelimit *ratelimit_new(size_t slots);
void	ratelimit_free(struct ratelimit *rl);

/* rate 0 = no limit.  Existing buckets keep their tokens (capped). */
void	ratelimit_configure(struct ratelimit *rl, uint32_t rate,
	    uint32_t burst);

/* May one more datagram from sa pass at now_ms (monotonic ms)? */
bool	ratelimit_allow(struct ratelimit *rl, const struct sockaddr *sa,
	    uint64_t now_ms);

/*
 * The same, with one bucket per (source, source port): for the sessions
 * of a declared balancer.  Port-keyed buckets never share tokens with
 * the source's own bucket.
 */
bool	ratelimit_allow_port(struct ratelimit *rl, const struct sockaddr *sa,
	    uint64_t now_ms);

#endif
