/*
 * tcp.h - TCP connections of one worker: accept, the per-connection state
 * machine (echo, exit line, half-close, backpressure, lingering close),
 * and the idle and drain sweeps.
 *
 * Everything here runs on the owning worker's thread.  Whether a new
 * connection may in (the caps shared between workers) is admit.c's
 * decision: the engine asks it at accept and tells it at close.  The
 * engine does not own an event loop: the worker hands it events, which
 * lets the unit tests drive a connection over a socketpair directly.
 */
#ifndef UPCASED_TCP_H
#define UPCASED_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct admit;
struct admit_rules;
struct config;
struct handover_conn;
struct handover_header;
struct stats;
struct tcp_conn;
struct tcp_engine;

/*
 * The bytes a connection reads at a time, and so the scratch size (one
 * per worker, and its "unicode" output buffer 3/2 of it).  512 KiB: a
 * bulk stream costs a quarter less CPU per MB than with 64 KiB, and past
 * it nothing more (bench/README.md, issue 13).
 */
#define TCP_READ_SIZE	(512 * 1024)

/* Seconds (2 to 3: whole-second clock) a closing connection waits for
 * the peer's FIN. */
#define TCP_LINGER	2

/* What a result of tcp_accept() asks of the caller. */
enum tcp_accept_result {
	TCP_ACCEPT_OK,		/* drained the backlog: accept() said EAGAIN */
	TCP_ACCEPT_MORE,	/* took a full batch: there may be more */
	TCP_ACCEPT_BACKOFF	/* out of descriptors: stop polling the
				   listener for a while */
};

/* adm: the admission shared by all workers' engines. */
struct tcp_engine *tcp_engine_new(int epfd, struct admit *adm,
	    struct stats *st);
void	tcp_engine_free(struct tcp_engine *e);	/* closes every conn */

/*
 * e as tcp_engine_new() makes one (every connection closed, every
 * setting at its default, its scratch wiped), on another epoll set,
 * admission and stats; it keeps its ~1.3 MB of buffers.  For a test
 * that needs a fresh engine many times a second (fuzz_tcp).
 */
void	tcp_engine_reset(struct tcp_engine *e, int epfd, struct admit *adm,
	    struct stats *st);

/* Take the settings of cf (exit_command, limits); existing connections
 * keep their state. */
void	tcp_engine_configure(struct tcp_engine *e, const struct config *cf);

/* The rules of the latest state (trusted balancers, access); r stays
 * valid until the worker acknowledged a later state. */
void	tcp_engine_rules(struct tcp_engine *e, const struct admit_rules *r);

/* Set the engine's clock (CLOCK_MONOTONIC), once per loop: in ms (the
 * worker) or in seconds (the tests). */
void	tcp_engine_clock_ms(struct tcp_engine *e, uint64_t now_ms);
void	tcp_engine_clock(struct tcp_engine *e, time_t now);

/* Accept a batch from a non-blocking listening socket. */
enum tcp_accept_result tcp_accept(struct tcp_engine *e, int lfd);

/*
 * Make a connection of an already accepted, non-blocking socket and
 * register it with epoll.  Returns NULL (and closes fd) on failure.
 */
struct tcp_conn *tcp_conn_add(struct tcp_engine *e, int fd);

/*
 * An accepted, non-blocking socket from sa: admission, then (if
 * admitted) a connection registered with epoll, which first waits for
 * a PROXY header if sa is a trusted balancer.  NULL (fd closed) if
 * refused or on failure.
 */
struct tcp_conn *tcp_conn_accepted(struct tcp_engine *e, int fd,
	    const struct sockaddr *sa);

/* Handle epoll events for c.  Returns false if c was closed and freed. */
bool	tcp_conn_event(struct tcp_engine *e, struct tcp_conn *c,
	    uint32_t events);

/* Bytes waiting to be sent on c; the state flags; the client's
 * address (for tests). */
size_t	tcp_conn_pending(const struct tcp_conn *c);
bool	tcp_conn_reading(const struct tcp_conn *c);
const struct sockaddr *tcp_conn_peer(const struct tcp_conn *c);

/* Close the connections idle past their timeout (a shorter one while
 * admit_crowded()); returns how many. */
size_t	tcp_sweep(struct tcp_engine *e);

/*
 * Stop (monotonic deadline in s).  A connection is answered until the
 * client's FIN, or until it has nothing pending and sent nothing for a
 * whole drain tick; then it gets our FIN (a lingering close).  One idle
 * for a second or more before the stop gets it at once.  So a client
 * still streaming when the stop comes gets every byte it sends before
 * its FIN answered, within the deadline; an idle one is let go at once.
 * The worker calls tcp_drain_tick() every TCP_DRAIN_TICK_MS meanwhile.
 */
#define TCP_DRAIN_TICK_MS	200
void	tcp_drain(struct tcp_engine *e, time_t deadline);
void	tcp_drain_tick(struct tcp_engine *e);

/*
 * Lame duck (the lame_duck setting): stopping, but still accepting and
 * serving, while a load balancer takes us out of its rotation.  Set by
 * the worker from its mailbox.  While it is on, a balancer's health
 * check fails: a connection whose PROXY header is v2 LOCAL (what HAProxy
 * sends for `check-send-proxy`) or v1 UNKNOWN is closed with nothing
 * answered, and counted (lame_checks).  Every other connection is served as usual.
 */
void	tcp_set_lame_duck(struct tcp_engine *e, bool on);
bool	tcp_lame_duck(const struct tcp_engine *e);

/* Close every connection now. */
void	tcp_close_all(struct tcp_engine *e);

size_t	tcp_count(const struct tcp_engine *e);

/*
 * Move every connection out of e (deregistered from its epoll) so another
 * worker can adopt them; returns the head of a list, or NULL.
 */
struct tcp_conn *tcp_detach_all(struct tcp_engine *e);
struct tcp_conn *tcp_conn_next_detached(struct tcp_conn *c);
void	tcp_conn_link_detached(struct tcp_conn *c, struct tcp_conn *next);

/* Adopt a detached connection into e.  False (c closed) on failure. */
bool	tcp_adopt(struct tcp_engine *e, struct tcp_conn *c);

/*
 * The upgrade's hand-over (doc/handover.md, handover.h).  The old process
 * exports its detached connections, the new one imports them; nothing
 * else of struct tcp_conn leaves this file.
 *
 * tcp_engine_export(): the settings a connection's state depends on (the
 * exit command its matcher state indexes, the transform its carry
 * belongs to) into h.  The new engine imports under those settings and
 * takes its own configuration after (tcp_engine_configure() decides a
 * held line and flushes a carry as on a reload).
 *
 * tcp_conn_export(): c's state, its clocks as ages on e's clock; h->out
 * and h->hdr point into c, valid until c changes.
 *
 * tcp_conn_import(): a connection of fd (non-blocking) rebuilt from h,
 * registered with epoll, on its list in the order of its clock, counted
 * open by admission (a per-source count, if any, comes with the
 * per-source table, loaded first).  Not counted in conns_total again.
 * NULL (fd closed) if memory or epoll fails.
 *
 * tcp_conn_fd(): its socket, for SCM_RIGHTS.  tcp_conn_forget(): free a
 * detached connection handed to another process: its descriptor (a
 * duplicate now) is closed, which sends nothing, and admission forgets
 * it.
 */
void	tcp_engine_export(const struct tcp_engine *e,
	    struct handover_header *h);
void	tcp_conn_export(const struct tcp_engine *e, const struct tcp_conn *c,
	    struct handover_conn *h);
struct tcp_conn *tcp_conn_import(struct tcp_engine *e, int fd,
	    const struct handover_conn *h);
int	tcp_conn_fd(const struct tcp_conn *c);
void	tcp_conn_forget(struct tcp_engine *e, struct tcp_conn *c);

#endif
