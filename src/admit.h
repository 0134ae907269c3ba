/*
 * admit.h - admission: may this source in?
 *
 * One module answers that question for TCP accept and for each UDP
 * datagram, and owns what the answer depends on: the connection caps
 * (max_connections, max_connections_per_source) and the per-source table
 * behind the second, the UDP loop guard and per-source rate, their
 * counters and their rate-limited warnings.  The connection engine
 * (tcp.c) and the datagram engine (udp.c) only ask.
 *
 * struct admit is shared by every worker (atomics, and the per-source
 * table under its mutex, touched once per accept and once per close,
 * never per message); the main thread configures it.  struct
 * admit_dgram is one worker's: the UDP token bucket is per worker, so a
 * datagram costs no lock.
 */
#ifndef UPCASED_ADMIT_H
#define UPCASED_ADMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct acl;
struct admit_rules;
struct config;
struct srclimit;
struct stats;

/* The table counts as crowded from this share of max_connections on. */
#define ADMIT_CROWDED_PERCENT	90

/* Shared by all workers: connections open now, the caps. */
struct admit {
	_Atomic unsigned	 open;
	_Atomic unsigned	 max;	/* effective max_connections */
	_Atomic uint64_t	 limit_warned;	/* rate limits of warnings */
	_Atomic uint64_t	 source_warned;
	_Atomic uint64_t	 proxy_warned;
	_Atomic uint64_t	 denied_warned;
	_Atomic uint64_t	 rate_warned;
	struct srclimit		*per_source;	/* may be NULL (tests) */
};

/* What admission says of a connection or a datagram. */
enum admit_verdict {
	ADMIT_OK,
	ADMIT_FULL,		/* max_connections reached */
	ADMIT_SOURCE,		/* max_connections_per_source reached */
	ADMIT_RATE,		/* over limits.connection_rate */
	ADMIT_DENIED,		/* the access rules say no */
	ADMIT_LOOP,		/* a datagram that could start an echo loop */
	ADMIT_LIMITED		/* over udp.rate_limit */
};

/* A zeroed struct admit is usable but refuses every connection until
 * admit_configure() or admit_set_max() gives it a cap (it has no
 * per-source table); admit_new() gives one with the table, for the
 * daemon. */
struct admit *admit_new(void);
void	admit_free(struct admit *a);

/* Take the caps of cf (main thread); max is the effective
 * max_connections, which the descriptor limit may lower. */
void	admit_configure(struct admit *a, const struct config *cf);
void	admit_set_max(struct admit *a, unsigned max);

/*
 * May a new TCP connection from sa in?  ADMIT_OK: it is counted (open,
 * and per source; *counted says whether the per-source table counted
 * it), and admit_tcp_close() must follow.  Otherwise nothing is counted,
 * the refusal is added to st and warned about (rate-limited); the
 * caller closes the socket.  client: sa is the client, judged per source
 * (count and connection rate).  Not for a trusted balancer: only the
 * global cap applies to its connections until their header names the
 * client (admit_tcp_move()), so a burst of them waiting for their
 * headers (a drain empties whole accept queues) never meets the
 * balancer's own per-source cap.  now: CLOCK_MONOTONIC seconds.
 */
enum admit_verdict admit_tcp(struct admit *a, struct stats *st,
	    const struct sockaddr *sa, bool client, uint32_t now,
	    bool *counted);

/* A connection that arrived without passing admit_tcp() (adopted by the
 * tests): counted open, no source. */
void	admit_tcp_count(struct admit *a);

/*
 * A connection handed over by an upgrade (tcp_conn_import()) that the
 * old process counted per source: counted again here, whatever the
 * limit (it is open already).  Returns whether it is counted now (not
 * for another family, or out of memory); admit_tcp_close() follows.
 */
bool	admit_tcp_recount(struct admit *a, const struct sockaddr *sa);

/*
 * A PROXY header named the client of a connection from the balancer at
 * from: its per-source count moves to the client (*counted: in, whether
 * from was counted; out, whether to is), and the client's connection
 * rate is judged.  ADMIT_OK, or the refusal
 * (counted, warned about) for which the caller closes the connection,
 * still counted open (admit_tcp_close() with the new *counted).
 */
enum admit_verdict admit_tcp_move(struct admit *a, struct stats *st,
	    const struct sockaddr *from, const struct sockaddr *to,
	    uint32_t now, bool *counted);

/* A trusted balancer's connection without a good PROXY header: counted,
 * and warned about with the balancer's address and why. */
void	admit_proxy_error(struct admit *a, struct stats *st,
	    const struct sockaddr *balancer, const char *why, uint32_t now);

/*
 * Judge the client of a TCP connection (at accept, or once a PROXY
 * header named it): the access rules.  A refusal is counted in st and
 * warned about; the caller closes the connection.
 */
enum admit_verdict admit_judge(struct admit *a,
	    const struct admit_rules *r, struct stats *st,
	    const struct sockaddr *sa, uint32_t now);

/*
 * The same, for the client of a connection already admitted, under a
 * reload's new rules: a denial is warned about and counted as a close
 * (closed_denied), not as a refusal, since the connection was accepted
 * and served; the caller closes it.
 */
enum admit_verdict admit_rejudge(struct admit *a,
	    const struct admit_rules *r, struct stats *st,
	    const struct sockaddr *sa, uint32_t now);

/* A connection admitted (or counted) before closes. */
void	admit_tcp_close(struct admit *a, const struct sockaddr *sa,
	    bool counted);

/* Are the connections crowded (see ADMIT_CROWDED_PERCENT)? */
bool	admit_crowded(struct admit *a);

/*
 * The rules of one configuration, built by the main thread on load and
 * reload and shared read-only by the workers until every worker took a
 * later state (then admit_rules_free()).
 */
struct admit_rules {
	struct acl	*proxy_from;	/* trusted balancers; NULL: none */
	struct acl	*access;	/* access.allow/deny; NULL: all */
	struct acl	*udp_balancers;	/* rated per session; NULL: none */
};

/* NULL when out of memory. */
struct admit_rules *admit_rules_new(const struct config *cf);
void	admit_rules_free(struct admit_rules *r);

/* Must a connection from sa start with a PROXY header?  (r may be NULL.) */
bool	admit_proxied(const struct admit_rules *r, const struct sockaddr *sa);

/* --- datagrams (one worker's) ----------------------------------------- */

struct admit_dgram;

struct admit_dgram *admit_dgram_new(void);
void	admit_dgram_free(struct admit_dgram *g);

/* The rules of the latest state (see tcp_engine_rules()). */
void	admit_dgram_rules(struct admit_dgram *g, const struct admit_rules *r);

/* This worker's share of udp.rate_limit (workers: how many share). */
void	admit_dgram_configure(struct admit_dgram *g, const struct config *cf);

/* Our own UDP ports: a datagram from one of them is a loop. */
void	admit_dgram_ports(struct admit_dgram *g, const uint16_t *ports,
	    size_t n);

/*
 * May the datagram from sa be answered?  A refusal is counted in st
 * (dropped, denied or limited).  now_ms: the worker clock, in ms.  The
 * loop guard and the access rules judge sa itself; the rate is per
 * source, or per (address, source port) when sa is in udp.balancers.
 */
enum admit_verdict admit_datagram(struct admit_dgram *g, struct stats *st,
	    const struct sockaddr *sa, uint64_t now_ms);

#endif
