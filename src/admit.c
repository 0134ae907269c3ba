/*
 * admit.c - admission of TCP connections and UDP datagrams.
 *
 * TCP (any worker, at accept and at close): the global cap is one atomic
 * counter, incremented first and given back on refusal, so two workers
 * cannot both take the last place; the per-source cap is srclimit.c's
 * table.  A refusal is counted in the worker's stats and warned about at
 * most every LOG_REPEAT_INTERVAL seconds over all workers.
 *
 * UDP (one worker, per datagram, no lock): the loop guard (addr.c), the
 * access rules, and the worker's share of the per-source rate
 * (ratelimit.c), kept per (address, source port) for a datagram from a
 * declared balancer: nginx relays each client session from its own port.
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "admit.h"
#include "config.h"
#include "log.h"
#include "ratelimit.h"
#include "srclimit.h"
#include "stats.h"

#define UDP_SOURCES	4096	/* rate-limited sources tracked per worker */

struct admit *
admit_new(void)
{
	struct admit *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->per_source = srclimit_new()) == NULL) {
		free(a);
		return NULL;
	}
	return a;
}

void
admit_free(struct admit *a)
{
	if (a == NULL)
		return;
	srclimit_free(a->per_source);
	free(a);
}

void
admit_configure(struct admit *a, const struct config *cf)
{
	if (a->per_source == NULL)
		return;
	srclimit_set_max(a->per_source, cf->max_per_source);
	srclimit_set_rate(a->per_source, cf->connection_rate,
	    cf->connection_burst);
}

void
admit_set_max(struct admit *a, unsigned max)
{
	atomic_store(&a->max, max);
}

bool
admit_crowded(struct admit *a)
{
	uint64_t open = atomic_load_explicit(&a->open, memory_order_relaxed);
	uint64_t max = atomic_load_explicit(&a->max, memory_order_relaxed);

	return open * 100 >= max * ADMIT_CROWDED_PERCENT;
}

/* --- TCP -------------------------------------------------------------- */

static void
warn_full(struct admit *a, unsigned max, uint32_t now)
{
	char f1[40];
	const char *fields[] = { "UPCASED_PROTOCOL=tcp", f1, NULL };

	if (!log_due(&a->limit_warned, (uint64_t)now + 1))
		return;
	snprintf(f1, sizeof(f1), "UPCASED_LIMIT=%u", max);
	log_event(LOG_WARNING, MSGID_LIMIT_REACHED, fields,
	    "max_connections (%u) reached: refusing new connections "
	    "(this warning is repeated at most every %d s)", max,
	    LOG_REPEAT_INTERVAL);
}

static void
warn_source(struct admit *a, const struct sockaddr *sa, uint32_t now)
{
	char peer[ADDR_STRLEN], f1[ADDR_STRLEN + 16];
	const char *fields[] = { "UPCASED_PROTOCOL=tcp", f1, NULL };

	if (!log_due(&a->source_warned, (uint64_t)now + 1))
		return;
	addr_format(sa, peer, sizeof(peer));
	snprintf(f1, sizeof(f1), "UPCASED_PEER=%s", peer);
	log_event(LOG_WARNING, MSGID_SOURCE_LIMIT, fields,
	    "max_connections_per_source reached by %s (its address, or its "
	    "IPv6 /64): refusing its new connections (this warning is "
	    "repeated at most every %d s)", peer, LOG_REPEAT_INTERVAL);
}

static void
warn_rate(struct admit *a, const struct sockaddr *sa, uint32_t now)
{
	char peer[ADDR_STRLEN], f1[ADDR_STRLEN + 16];
	const char *fields[] = { "UPCASED_PROTOCOL=tcp", f1, NULL };

	if (!log_due(&a->rate_warned, (uint64_t)now + 1))
		return;
	addr_format(sa, peer, sizeof(peer));
	snprintf(f1, sizeof(f1), "UPCASED_PEER=%s", peer);
	log_event(LOG_WARNING, MSGID_CONNECTION_RATE, fields,
	    "limits.connection_rate exceeded by %s (its address, or its IPv6 "
	    "/64): refusing its new connections for now (this warning is "
	    "repeated at most every %d s)", peer, LOG_REPEAT_INTERVAL);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The per-source table's answer, counted and warned about. */
static enum admit_verdict
admit_source(struct admit *a, struct stats *st, const struct sockaddr *sa,
    bool rate, uint32_t now, bool *counted)
{
	switch (srclimit_admit(a->per_source, sa, rate, rate ? now_ms() : 0,
	    counted)) {
	case SRCLIMIT_OK:
		return ADMIT_OK;
	case SRCLIMIT_FULL:
		stats_add(&st->refused_source, 1);
		warn_source(a, sa, now);
		return ADMIT_SOURCE;
	default:
		stats_add(&st->refused_rate, 1);
		warn_rate(a, sa, now);
		return ADMIT_RATE;
	}
}

enum admit_verdict
admit_tcp(struct admit *a, struct stats *st, const struct sockaddr *sa,
    bool client, uint32_t now, bool *counted)
{
	enum admit_verdict v;
	unsigned max, open;

	*counted = false;
	max = atomic_load_explicit(&a->max, memory_order_relaxed);
	open = atomic_fetch_add_explicit(&a->open, 1, memory_order_relaxed);
	if (open >= max) {
		atomic_fetch_sub_explicit(&a->open, 1, memory_order_relaxed);
		stats_add(&st->refused_max, 1);
		warn_full(a, max, now);
		return ADMIT_FULL;
	}
	if (client && a->per_source != NULL && (v = admit_source(a, st, sa,
	    true, now, counted)) != ADMIT_OK) {
		atomic_fetch_sub_explicit(&a->open, 1, memory_order_relaxed);
		return v;
	}
	return ADMIT_OK;
}

enum admit_verdict
admit_tcp_move(struct admit *a, struct stats *st, const struct sockaddr *from,
    const struct sockaddr *to, uint32_t now, bool *counted)
{
	if (a->per_source == NULL)
		return ADMIT_OK;
	if (*counted)
		srclimit_release(a->per_source, from);
	return admit_source(a, st, to, true, now, counted);
}

void
admit_proxy_error(struct admit *a, struct stats *st,
    const struct sockaddr *balancer, const char *why, uint32_t now)
{
	char peer[ADDR_STRLEN], f1[ADDR_STRLEN + 16];
	const char *fields[] = { "UPCASED_PROTOCOL=tcp", f1, NULL };

	stats_add(&st->refused_proxy, 1);
	if (!log_due(&a->proxy_warned, (uint64_t)now + 1))
		return;
	addr_format(balancer, peer, sizeof(peer));
	snprintf(f1, sizeof(f1), "UPCASED_PROXY=%s", peer);
	log_event(LOG_WARNING, MSGID_PROXY_ERROR, fields,
	    "PROXY protocol: connection from balancer %s closed unanswered: "
	    "%s (this warning is repeated at most every %d s)", peer, why,
	    LOG_REPEAT_INTERVAL);
}

static void
warn_denied(_Atomic uint64_t *at, const struct sockaddr *sa,
    const char *proto, uint32_t now)
{
	char peer[ADDR_STRLEN], f1[ADDR_STRLEN + 16], f0[32];
	const char *fields[] = { f0, f1, NULL };

	if (!log_due(at, (uint64_t)now + 1))
		return;
	addr_format(sa, peer, sizeof(peer));
	snprintf(f0, sizeof(f0), "UPCASED_PROTOCOL=%s", proto);
	snprintf(f1, sizeof(f1), "UPCASED_PEER=%s", peer);
	log_event(LOG_WARNING, MSGID_DENIED, fields,
	    "access rules: %s from %s denied (this warning is repeated at "
	    "most every %d s)", strcmp(proto, "tcp") == 0 ? "connection" :
	    "datagram", peer, LOG_REPEAT_INTERVAL);
}

/* The access rules on a TCP client: a denial is warned about and
 * counted in *denied. */
static enum admit_verdict
judge(struct admit *a, const struct admit_rules *r, _Atomic uint64_t *denied,
    const struct sockaddr *sa, uint32_t now)
{
	if (r != NULL && !acl_permits(r->access, sa)) {
		stats_add(denied, 1);
		warn_denied(&a->denied_warned, sa, "tcp", now);
		return ADMIT_DENIED;
	}
	return ADMIT_OK;
}

enum admit_verdict
admit_judge(struct admit *a, const struct admit_rules *r, struct stats *st,
    const struct sockaddr *sa, uint32_t now)
{
	return judge(a, r, &st->refused_denied, sa, now);
}

enum admit_verdict
admit_rejudge(struct admit *a, const struct admit_rules *r, struct stats *st,
    const struct sockaddr *sa, uint32_t now)
{
	return judge(a, r, &st->closed_denied, sa, now);
}

void
admit_tcp_count(struct admit *a)
{
	atomic_fetch_add_explicit(&a->open, 1, memory_order_relaxed);
}

bool
admit_tcp_recount(struct admit *a, const struct sockaddr *sa)
{
	bool counted = false;

	if (a->per_source != NULL)
		(void)srclimit_hold(a->per_source, sa, &counted);
	return counted;
}

void
admit_tcp_close(struct admit *a, const struct sockaddr *sa, bool counted)
{
	if (counted && a->per_source != NULL)
		srclimit_release(a->per_source, sa);
	atomic_fetch_sub_explicit(&a->open, 1, memory_order_relaxed);
}

/* --- rules ----------------------------------------------------------- */

struct admit_rules *
admit_rules_new(const struct config *cf)
{
	struct admit_rules *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (cf->proxy_nfrom > 0 && (r->proxy_from = acl_build(cf->proxy_from,
	    cf->proxy_nfrom, NULL, 0)) == NULL) {
		admit_rules_free(r);
		return NULL;
	}
	if ((cf->access_nallow > 0 || cf->access_ndeny > 0) &&
	    (r->access = acl_build(config_access_allow(cf), cf->access_nallow,
	    config_access_deny(cf), cf->access_ndeny)) == NULL) {
		admit_rules_free(r);
		return NULL;
	}
	if (cf->udp_nbalancers > 0 && (r->udp_balancers =
	    acl_build(cf->udp_balancers, cf->udp_nbalancers, NULL, 0)) ==
	    NULL) {
		admit_rules_free(r);
		return NULL;
	}
	return r;
}

void
admit_rules_free(struct admit_rules *r)
{
	if (r == NULL)
		return;
	acl_free(r->proxy_from);
	acl_free(r->access);
	acl_free(r->udp_balancers);
	free(r);
}

bool
admit_proxied(const struct admit_rules *r, const struct sockaddr *sa)
{
	return r != NULL && acl_matches(r->proxy_from, sa);
}

/* --- UDP -------------------------------------------------------------- */

/* UDP denials are warned about at most this often over all workers. */
static _Atomic uint64_t dgram_denied_warned;

struct admit_dgram {
	const struct admit_rules *rules;
	struct ratelimit *rl;		/* per source, this worker's share */
	uint16_t	 own[CONFIG_MAX_PORTS];
	size_t		 nown;
};

struct admit_dgram *
admit_dgram_new(void)
{
	struct admit_dgram *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->rl = ratelimit_new(UDP_SOURCES)) == NULL) {
		free(g);
		return NULL;
	}
	return g;
}

void
admit_dgram_free(struct admit_dgram *g)
{
	if (g == NULL)
		return;
	ratelimit_free(g->rl);
	free(g);
}

/*
 * Datagrams of one source may reach any worker, so each worker allows
 * its share of the rate: together they allow rate_limit at most (less
 * when one worker happens to get all of a source's datagrams).
 */
void
admit_dgram_configure(struct admit_dgram *g, const struct config *cf)
{
	unsigned n = config_effective_workers(cf), rate, burst;

	rate = cf->udp_rate_limit == 0 ? 0 :
	    (cf->udp_rate_limit + n - 1) / n;
	burst = (cf->udp_rate_burst + n - 1) / n;
	ratelimit_configure(g->rl, rate, burst);
}

void
admit_dgram_rules(struct admit_dgram *g, const struct admit_rules *r)
{
	g->rules = r;
}

void
admit_dgram_ports(struct admit_dgram *g, const uint16_t *ports, size_t n)
{
	if (n > CONFIG_MAX_PORTS)
		n = CONFIG_MAX_PORTS;
	memcpy(g->own, ports, n * sizeof(*ports));
	g->nown = n;
}

enum admit_verdict
admit_datagram(struct admit_dgram *g, struct stats *st,
    const struct sockaddr *sa, uint64_t now_ms)
{
	bool session;

	if (!addr_udp_source_ok(sa, g->own, g->nown)) {
		stats_add(&st->dropped_loop, 1);
		return ADMIT_LOOP;
	}
	if (g->rules != NULL && !acl_permits(g->rules->access, sa)) {
		stats_add(&st->dropped_denied, 1);
		warn_denied(&dgram_denied_warned, sa, "udp",
		    (uint32_t)(now_ms / 1000));
		return ADMIT_DENIED;
	}
	/* udp.balancers is usually empty: a NULL acl, no lookup. */
	session = g->rules != NULL &&
	    acl_matches(g->rules->udp_balancers, sa);
	if (!(session ? ratelimit_allow_port(g->rl, sa, now_ms) :
	    ratelimit_allow(g->rl, sa, now_ms))) {
		stats_add(&st->dropped_limited, 1);
		return ADMIT_LIMITED;
	}
	return ADMIT_OK;
}
