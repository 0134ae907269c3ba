/*
 * worker.h - the pool of worker threads.
 *
 * Each worker runs its own epoll loop and owns its connections.  All
 * workers poll every listening socket with EPOLLEXCLUSIVE, so a new
 * connection or datagram wakes one of them, not all.  The pool is driven
 * by the main thread only: it publishes the desired state (config,
 * listeners, size) as a new generation, and each worker picks it up at a
 * safe point between events, acknowledges it, and pokes the main thread's
 * eventfd.  Workers never see signals.
 */
#ifndef UPCASED_WORKER_H
#define UPCASED_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct admit_rules;
struct config;
struct listener_set;
struct handover_header;
struct stats;
struct stats_snapshot;
struct pool;
struct srclimit;
struct tcp_conn;

/*
 * A pool that wakes the main thread through wake_fd (an eventfd) when a
 * worker acknowledged a generation or finished.  tick_ms bounds how long
 * a worker sleeps, and so how stale its heartbeat can be.
 */
struct pool *pool_new(int wake_fd, unsigned tick_ms);

/*
 * Apply cf and the listeners of set: start or retire workers to reach the
 * configured count (a retired worker hands its connections to the
 * others, none is closed), and publish the settings to every worker.
 * set must stay valid until pool_settled() says every worker took it.
 * The pool takes rules (admit_rules_new() of cf) and frees the ones it
 * replaces once every worker took the new ones.
 * Returns 0, or -1 if no worker thread could be started.
 */
int	pool_apply(struct pool *p, const struct config *cf,
	    const struct listener_set *set, struct admit_rules *rules);

/* The effective connection cap (max_connections, or less when the
 * descriptor limit does not allow it). */
void	pool_set_max_connections(struct pool *p, unsigned max);

/* Main thread, on wake_fd: join finished workers, free rules no worker
 * uses any more.  Then: has every running worker acknowledged the latest
 * pool_apply()? */
void	pool_collect(struct pool *p);
bool	pool_settled(const struct pool *p);

/*
 * Stop: each worker empties the accept queues of our own (sealed) TCP
 * listeners, goes on accepting from them for a drain tick, then polls no
 * listener: pool_released() is true once every worker is there, and the
 * listeners may be closed.  Connections are answered for up to
 * timeout_s, then closed.  pool_done() is true when every worker has
 * exited.
 */
void	pool_drain(struct pool *p, unsigned timeout_s);
bool	pool_released(const struct pool *p);

/* Before the drain, with lame_duck set: serve as usual, but fail the
 * balancers' health checks (tcp_lame_duck() in tcp.h). */
void	pool_lame_duck(struct pool *p);
void	pool_stop_now(struct pool *p);
bool	pool_done(const struct pool *p);

unsigned pool_size(const struct pool *p);

/* Sum of the counters of every worker, past and present. */
void	pool_stats(struct pool *p, struct stats_snapshot *out);

/* Has every worker run its loop within the last max_age_ms? */
bool	pool_alive(const struct pool *p, uint64_t max_age_ms);

void	pool_free(struct pool *p);

/*
 * The upgrade's hand-over (doc/handover.md).
 *
 * pool_freeze(): every worker stops polling the listeners, detaches its
 * connections and encodes each as a CONN record on its own thread (the
 * kernel queues whatever arrives meanwhile).  Wait for pool_settled(),
 * then pool_take_export() moves the records and their descriptors (the
 * i-th for the i-th CONN) to the caller, who frees buf and fds; false if
 * a worker ran out of memory.  pool_thaw(): the hand-over failed, each
 * worker takes its connections back and polls again (pool_settled()
 * says when).  The counters (pool_stats()) are final while frozen.
 */
struct pool_export {
	uint8_t		*buf;		/* CONN records, back to back */
	size_t		 len;
	int		*fds;
	size_t		 nfds;
	bool		 failed;
};
void	pool_freeze(struct pool *p);
bool	pool_take_export(struct pool *p, struct pool_export *out);
void	pool_thaw(struct pool *p);

/* The per-source table the workers share: its rate state is handed
 * over (srclimit_export() while frozen, srclimit_import() before the
 * connections are imported). */
struct srclimit *pool_sources(struct pool *p);

/*
 * The successor's side: the connections, imported by the main thread
 * into a staging engine of pool_import_engine() (sharing the pool's
 * admission) and detached from it, are spread round robin over the
 * workers with pool_give(), after pool_apply(); each worker adopts its
 * share.  past: the old process's counters, so they go on
 * from there.
 */
struct tcp_engine *pool_import_engine(struct pool *p, int epfd,
	    struct stats *st);
void	pool_give(struct pool *p, struct tcp_conn *list);
void	pool_set_past(struct pool *p, const struct stats_snapshot *past);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t worker_now_ms(void);

#endif
