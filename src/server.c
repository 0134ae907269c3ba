/*
 * server.c - the main thread: start-up, signals, reload, status, stop.
 *
 * The main thread never touches a connection.  It owns the things that
 * are global to the process: the configuration, the listening sockets,
 * the descriptor limit, signals (through a signalfd, so a signal is just
 * another event and nothing runs in signal context), the conversation
 * with systemd, and the pool of workers, which it steers through
 * worker.h.  Its loop waits on three descriptors: the signalfd, a
 * periodic timer (STATUS= and the watchdog), and the eventfd through
 * which workers say they took a new state or finished; and, while they
 * exist, on the parsing child's pipe and the metrics endpoint (httpd.c:
 * its listeners and its HTTP daemon's epoll descriptor).
 *
 * SIGUSR2 hands everything to the binary now on disk (doc/handover.md):
 * the old side (server_handover) and the successor's (server_take_over)
 * are here too; upgrade.c carries their conversation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "confchild.h"
#include "config.h"
#include "handover.h"
#include "httpd.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "srclimit.h"
#include "stats.h"
#include "tcp.h"
#include "upgrade.h"
#include "worker.h"

#define STATUS_INTERVAL_MS	5000

/* Listeners and sets replaced by a reload, freed once workers let go. */
struct graveyard {
	struct listener		**l;
	size_t			 nl;
	struct listener_set	**sets;
	size_t			 nsets;
};

struct server {
	struct config		 cf;
	struct config		 next;		/* a reload's, while applied */
	struct listener_set	*set;
	struct listener_set	 metrics;	/* the endpoint's; main thread */
	struct httpd		*httpd;		/* serves them */
	double			 start_time;	/* wall clock, for /metrics */
	struct graveyard	 grave;
	struct pool		*pool;
	int			 sigfd;
	int			 timerfd;
	int			 wakefd;
	uint64_t		 wd_usec;
	uint64_t		 tick_ms;	/* period of the timer */
	uint64_t		 last_status;
	unsigned		 fd_cap;
	struct confchild	*reload;	/* a parse under way, or NULL */
	bool			 reload_again;	/* SIGHUP during that parse */
	bool			 ready_due;	/* READY=1 once settled */
	bool			 started;
	bool			 stopping;
	bool			 lame;		/* stopping, in the lame duck */
	uint64_t		 lame_until;	/* worker_now_ms() */
	bool			 wd_warned;
	uint64_t		 limited_logged;	/* dropped_limited then */
	uint64_t		 limited_at;		/* ms of that message */
	uint64_t		 reloads_applied;	/* since start */
	uint64_t		 reloads_refused;
	const struct server_opts *opts;		/* SIGUSR2's binary */
	pid_t			 took_over_from;	/* a successor: its
						   predecessor's pid */
	struct tcp_engine	*stage;		/* a successor's imports */
	int			 stage_epfd;
	struct stats		 stage_st;
	struct tcp_conn		*imported;	/* detached, for the pool */
};

/* --- listeners -------------------------------------------------------- */

static void
server_bury(struct server *s, struct listener_set *old,
    const struct listener_set *next)
{
	struct graveyard *g = &s->grave;
	struct listener **l;
	struct listener_set **sets;
	size_t i;

	/*
	 * Out of memory: leave the old ones open and allocated for good
	 * rather than close a socket a worker may still poll.
	 */
	l = reallocarray(g->l, g->nl + old->n, sizeof(*l));
	sets = reallocarray(g->sets, g->nsets + 1, sizeof(*sets));
	if (l != NULL)
		g->l = l;
	if (sets != NULL)
		g->sets = sets;
	if (l == NULL || sets == NULL)
		return;
	for (i = 0; i < old->n; i++)
		if (!listen_set_has(next, old->l[i]))
			g->l[g->nl++] = old->l[i];
	g->sets[g->nsets++] = old;
}

/* Every worker took the latest set: close what the older ones held. */
static void
server_sweep_grave(struct server *s)
{
	struct graveyard *g = &s->grave;
	size_t i;

	for (i = 0; i < g->nl; i++)
		listen_close(g->l[i]);
	for (i = 0; i < g->nsets; i++)
		free(g->sets[i]);
	free(g->l);
	free(g->sets);
	memset(g, 0, sizeof(*g));
}

/* Log the listeners of set that old (may be NULL) did not have. */
static void
server_log_listeners(const struct listener_set *set,
    const struct listener_set *old)
{
	char f1[120];
	const char *fields[] = { f1, NULL };
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (listen_set_has(old, set->l[i]))
			continue;
		snprintf(f1, sizeof(f1), "UPCASED_LISTEN=%s",
		    set->l[i]->name);
		log_event(LOG_INFO, MSGID_LISTENING, fields,
		    "listening on %s%s", set->l[i]->name,
		    set->l[i]->activated ? " (socket activation)" : "");
	}
}

/* What a scrape of /metrics shows (httpd.c calls it, main thread). */
static void
server_fill_metrics(void *arg, struct stats_snapshot *st,
    struct metrics_info *info)
{
	struct server *s = arg;

	pool_stats(s->pool, st);
	info->version = PACKAGE_VERSION;
	info->start_time = s->start_time;
	info->workers = pool_size(s->pool);
	info->max_connections = s->fd_cap;
	info->reloads_applied = s->reloads_applied;
	info->reloads_refused = s->reloads_refused;
}

static bool
server_same_ports(const struct config *a, const struct config *b)
{
	return a->tcp.nports == b->tcp.nports &&
	    a->udp.nports == b->udp.nports &&
	    a->metrics.nports == b->metrics.nports &&
	    memcmp(a->metrics.ports, b->metrics.ports,
	    a->metrics.nports * sizeof(a->metrics.ports[0])) == 0 &&
	    memcmp(a->tcp.ports, b->tcp.ports,
	    a->tcp.nports * sizeof(a->tcp.ports[0])) == 0 &&
	    memcmp(a->udp.ports, b->udp.ports,
	    a->udp.nports * sizeof(a->udp.ports[0])) == 0;
}

/* --- descriptor limit ------------------------------------------------- */

/*
 * max_connections needs as many descriptors, plus a reserve for the
 * listeners and the workers' own.  Raise the soft limit as far as the
 * hard one allows; if that is not enough, serve fewer and say so.
 */
static void
server_fd_limit(struct server *s)
{
	struct rlimit rl;
	rlim_t need, reserve;
	unsigned cap = s->cf.max_connections;
	char f1[40], f2[40];
	const char *fields[] = { f1, f2, NULL };

	reserve = (rlim_t)(s->set->n + 4 * config_effective_workers(&s->cf) +
	    64 + s->metrics.n + HTTPD_MAX_CONNECTIONS + 2);
	need = (rlim_t)s->cf.max_connections + reserve;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
		(void)getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < need)
			cap = rl.rlim_cur > reserve ?
			    (unsigned)(rl.rlim_cur - reserve) : 1;
	}
	if (cap != s->cf.max_connections && cap != s->fd_cap) {
		snprintf(f1, sizeof(f1), "UPCASED_LIMIT=%u", cap);
		snprintf(f2, sizeof(f2), "UPCASED_NOFILE=%llu",
		    (unsigned long long)rl.rlim_max);
		log_event(LOG_WARNING, MSGID_FD_LIMIT, fields,
		    "max_connections = %u needs %llu file descriptors but the "
		    "limit is %llu (raise LimitNOFILE=): serving at most %u "
		    "connections", s->cf.max_connections,
		    (unsigned long long)need,
		    (unsigned long long)rl.rlim_max, cap);
	}
	s->fd_cap = cap;
	pool_set_max_connections(s->pool, cap);
}

/* --- status and watchdog ---------------------------------------------- */

/* At most every RATE_LOG_MS: how many datagrams the rate limit ate. */
#define RATE_LOG_MS	10000

static void
server_log_limited(struct server *s, const struct stats_snapshot *st)
{
	uint64_t now = worker_now_ms(), n;
	char f1[48];
	const char *fields[] = { "UPCASED_PROTOCOL=udp", f1, NULL };

	if (st->dropped_limited <= s->limited_logged ||
	    (s->limited_at != 0 && now - s->limited_at < RATE_LOG_MS))
		return;
	n = st->dropped_limited - s->limited_logged;
	snprintf(f1, sizeof(f1), "UPCASED_DATAGRAMS=%" PRIu64, n);
	log_event(LOG_WARNING, MSGID_RATE_LIMITED, fields,
	    "UDP rate limit: %" PRIu64 " datagrams not answered (over "
	    "udp.rate_limit = %u/s per source)", n, s->cf.udp_rate_limit);
	s->limited_logged = st->dropped_limited;
	s->limited_at = now;
}

static void
server_status(struct server *s)
{
	struct stats_snapshot st;
	char buf[256];
	uint64_t now = worker_now_ms(), left;
	int off = 0;

	pool_stats(s->pool, &st);
	if (s->lame) {
		left = s->lame_until > now ?
		    (s->lame_until - now + 999) / 1000 : 0;
		off = snprintf(buf, sizeof(buf), "lame duck: %" PRIu64
		    " s left, %" PRIu64 " health checks failed; ", left,
		    st.lame_checks);
	}
	notify_format_status(&st, pool_size(s->pool), buf + off,
	    sizeof(buf) - (size_t)off);
	notify_status(buf);
	server_log_limited(s, &st);
	s->last_status = worker_now_ms();
}

static void
server_tick(struct server *s)
{
	uint64_t v;

	(void)!read(s->timerfd, &v, sizeof(v));
	if (s->wd_usec > 0) {
		/* Feed the watchdog only if every worker is turning. */
		if (pool_alive(s->pool, s->wd_usec / 2000)) {
			notify_watchdog();
			s->wd_warned = false;
		} else if (!s->wd_warned) {
			log_errx("a worker thread is not responding: "
			    "no longer feeding the watchdog");
			s->wd_warned = true;
		}
	}
	/*
	 * The timer's phase is not that of the last STATUS= (sent at READY
	 * and after reloads too): send when the next tick would be later
	 * than due, so the period stays near STATUS_INTERVAL_MS.
	 */
	if (s->started && worker_now_ms() + s->tick_ms / 2 >=
	    s->last_status + STATUS_INTERVAL_MS)
		server_status(s);
}

static int
server_timer(struct server *s)
{
	struct itimerspec its;
	uint64_t ms = STATUS_INTERVAL_MS;

	s->wd_usec = notify_watchdog_usec();
	if (s->wd_usec > 0 && s->wd_usec / 2000 < ms)
		ms = s->wd_usec / 2000 > 0 ? s->wd_usec / 2000 : 1;
	s->tick_ms = ms;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timerfd == -1)
		return -1;
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = (time_t)(ms / 1000);
	its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	return timerfd_settime(s->timerfd, 0, &its, NULL);
}

/* --- lifecycle events ------------------------------------------------- */

/* "8008,8009" for the ports of kind that the listeners serve. */
static void
server_ports_text(const struct listener_set *set, int kind, char *buf,
    size_t len)
{
	size_t off = 0, i, j;
	int r;

	buf[0] = '\0';
	for (i = 0; i < set->n && off < len; i++) {
		if (set->l[i]->ev.kind != kind)
			continue;
		for (j = 0; j < i; j++)		/* each port once */
			if (set->l[j]->ev.kind == kind &&
			    set->l[j]->port == set->l[i]->port)
				break;
		if (j < i)
			continue;
		r = snprintf(buf + off, len - off, "%s%u", off ? "," : "",
		    set->l[i]->port);
		off += r > 0 ? (size_t)r : 0;
	}
	if (off == 0)
		snprintf(buf, len, "none");
}

/* Settings an admin may not know the cost of. */
static void
server_log_risks(const struct server *s)
{
	uint16_t port;

	if (s->cf.udp_rate_limit == 0 && listen_udp_ports(s->set, &port, 1) > 0)
		log_notice("udp.rate_limit = 0: nothing limits UDP replies, so "
		    "upcased can reflect a flood at a forged source, and a "
		    "loop with another UDP echo service on a port above 1023 "
		    "never ends");
}

static void
server_log_started(struct server *s)
{
	char f1[1100], f2[64], f3[40], f4[400], f5[400], tp[350], up[350];
	const char *fields[] = { f1, f2, f3, f4, f5, NULL };

	server_ports_text(s->set, EV_TCP_LISTEN, tp, sizeof(tp));
	server_ports_text(s->set, EV_UDP, up, sizeof(up));
	snprintf(f1, sizeof(f1), "UPCASED_CONFIG=%s", s->cf.path);
	snprintf(f2, sizeof(f2), "UPCASED_WORKERS=%u", pool_size(s->pool));
	snprintf(f3, sizeof(f3), "UPCASED_SOCKET_ACTIVATION=%s",
	    s->set->activated ? "yes" : "no");
	snprintf(f4, sizeof(f4), "UPCASED_TCP_PORTS=%s", tp);
	snprintf(f5, sizeof(f5), "UPCASED_UDP_PORTS=%s", up);
	if (s->set->activated)
		log_event(LOG_NOTICE, MSGID_STARTED, fields,
		    "upcased %s started: %u workers, %zu sockets passed by "
		    "systemd: TCP ports %s, UDP ports %s (socket activation; "
		    "the ports in %s are not used)", PACKAGE_VERSION,
		    pool_size(s->pool), s->set->n, tp, up, s->cf.path);
	else
		log_event(LOG_NOTICE, MSGID_STARTED, fields,
		    "upcased %s started: %u workers, TCP ports %s, UDP ports "
		    "%s (from %s)", PACKAGE_VERSION, pool_size(s->pool), tp, up,
		    s->cf.path);
}

/* A successor's started event: the release now serving, in the journal
 * and in STATUS= (the figures follow at the next tick). */
static void
server_log_took_over(struct server *s)
{
	struct stats_snapshot st;
	char f1[64], f2[40], buf[160];
	const char *fields[] = { f1, f2, NULL };

	pool_stats(s->pool, &st);
	snprintf(f1, sizeof(f1), "UPCASED_VERSION=%s", PACKAGE_VERSION);
	snprintf(f2, sizeof(f2), "UPCASED_PREDECESSOR=%d",
	    (int)s->took_over_from);
	log_event(LOG_NOTICE, MSGID_TOOK_OVER, fields,
	    "upcased %s took over from PID %d: %" PRIu64 " connections "
	    "open, %" PRIu64 " served so far, %u workers", PACKAGE_VERSION,
	    (int)s->took_over_from, st.conns_open, st.conns_total,
	    pool_size(s->pool));
	snprintf(buf, sizeof(buf), "upcased %s took over from PID %d",
	    PACKAGE_VERSION, (int)s->took_over_from);
	notify_status(buf);
	s->last_status = worker_now_ms();
}

/*
 * READY=1 once a reload is over: no parse under way and every worker
 * took the new state.  (Never while stopping: STOPPING=1 was the last.)
 */
static void
server_ready_if_settled(struct server *s)
{
	if (!s->ready_due || s->stopping || s->reload != NULL ||
	    !pool_settled(s->pool))
		return;
	s->ready_due = false;
	notify_ready();
	if (!s->started) {
		s->started = true;
		if (s->took_over_from > 0) {
			server_log_took_over(s);
			return;
		}
		server_log_started(s);
		server_log_risks(s);
	}
	server_status(s);
}

/*
 * Keep the old configuration and say why.  why is one message, or the
 * errors of the file one a line: then a first event counts them and
 * each follows in an event of its own, as --check-config prints it.
 */
static void
server_refuse(struct server *s, const char *why)
{
	char f1[1100], text[CONFIG_ERRLEN], *line, *next;
	const char *fields[] = { f1, NULL };

	s->reloads_refused++;
	snprintf(f1, sizeof(f1), "UPCASED_CONFIG=%s", s->cf.path);
	if (strchr(why, '\n') == NULL)
		log_event(LOG_ERR, MSGID_RELOAD_REFUSED, fields,
		    "reload refused, still serving the previous "
		    "configuration: %s", why);
	else {
		log_event(LOG_ERR, MSGID_RELOAD_REFUSED, fields,
		    "reload refused, still serving the previous "
		    "configuration: %u errors in %s", config_error_count(why),
		    s->cf.path);
		snprintf(text, sizeof(text), "%s", why);
		for (line = text; line != NULL; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			log_event(LOG_ERR, MSGID_RELOAD_REFUSED, fields, "%s",
			    line);
		}
	}
	/* Nothing changed: ready as soon as the workers are (at once,
	 * unless an earlier reload is still being taken up). */
	server_ready_if_settled(s);
}

/*
 * SIGHUP: tell systemd, start parsing the file in a child, and go back
 * to the loop; server_reload_step() takes it up when the child answers.
 */
static void
server_reload(struct server *s)
{
	char err[CONFIG_ERRLEN], f1[1100];
	const char *fields[] = { f1, NULL };

	if (s->reload != NULL) {
		/* The file may have changed after the child read it. */
		log_info("SIGHUP during a reload: reloading again after it");
		s->reload_again = true;
		return;
	}
	notify_reloading();
	snprintf(f1, sizeof(f1), "UPCASED_CONFIG=%s", s->cf.path);
	log_event(LOG_INFO, MSGID_RELOADING, fields, "reloading %s",
	    s->cf.path);
	s->ready_due = true;
	if ((s->reload = confchild_start(s->cf.path, err, sizeof(err))) ==
	    NULL)
		server_refuse(s, err);
}

/*
 * Bind what cf asks for that is not bound yet: the echo listeners into
 * *next, the endpoint's into *metrics.  All or nothing: on failure
 * whatever this opened is closed again, and -1 with a message in err.
 * On success the endpoint moves at once (its listeners are the main
 * thread's alone, so the ones dropped close now), while the echo ones
 * wait for the workers.
 */
static int
server_reload_listen(struct server *s, const struct config *cf,
    struct listener_set *next, struct listener_set *metrics, char *err,
    size_t len)
{
	if (listen_open(cf, s->set, next, err, len) == -1)
		return -1;
	if (listen_open_metrics(cf, &s->metrics, metrics, err, len) == -1) {
		listen_release(next, s->set);
		return -1;
	}
	if (httpd_listen(s->httpd, metrics, err, len) == -1) {
		listen_release(metrics, &s->metrics);
		listen_release(next, s->set);
		return -1;
	}
	server_log_listeners(metrics, &s->metrics);
	listen_release(&s->metrics, metrics);
	s->metrics = *metrics;
	/* Cannot fail now: the daemon runs.  It reads s->metrics. */
	(void)httpd_listen(s->httpd, &s->metrics, err, len);
	return 0;
}

/* The new configuration parsed: listen, hand it to the workers. */
static void
server_reload_apply(struct server *s, const struct config *cf)
{
	char err[CONFIG_ERRLEN], f1[1100];
	const char *fields[] = { f1, NULL };
	struct listener_set *next, *old, metrics;
	struct admit_rules *rules;

	if ((rules = admit_rules_new(cf)) == NULL) {
		server_refuse(s, "out of memory");
		return;
	}
	if ((next = malloc(sizeof(*next))) == NULL) {
		admit_rules_free(rules);
		server_refuse(s, "out of memory");
		return;
	}
	if (s->set->activated) {
		*next = *s->set;
		if (!server_same_ports(&s->cf, cf))
			log_notice("socket activation: the ports in %s are not "
			    "used; change the socket unit instead",
			    cf->path);
	} else if (server_reload_listen(s, cf, next, &metrics, err,
	    sizeof(err)) == -1) {
		admit_rules_free(rules);
		free(next);
		server_refuse(s, err);
		return;
	}
	server_bury(s, s->set, next);
	old = s->set;
	s->set = next;
	config_copy(&s->cf, cf);
	log_set_level(cf->log_level);
	if (pool_apply(s->pool, &s->cf, s->set, rules) == -1)
		log_errx("no worker thread could be started");
	server_fd_limit(s);
	if (!s->set->activated)
		server_log_listeners(s->set, old);
	snprintf(f1, sizeof(f1), "UPCASED_CONFIG=%s", s->cf.path);
	log_event(LOG_NOTICE, MSGID_RELOADED, fields,
	    "reloaded %s: %u workers", s->cf.path, pool_size(s->pool));
	server_log_risks(s);
	s->reloads_applied++;
	/*
	 * The workers may have taken the new state already: then no wake
	 * comes to close the listeners it dropped, and READY=1 must not go
	 * out before they are closed.
	 */
	if (pool_settled(s->pool))
		server_sweep_grave(s);
	server_ready_if_settled(s);
}

/* The parsing child has news, or ran out of time. */
static void
server_reload_step(struct server *s)
{
	char err[CONFIG_ERRLEN];
	int rc;

	if ((rc = confchild_step(s->reload, &s->next, err, sizeof(err))) == 1)
		return;
	s->reload = NULL;
	if (rc == -1)
		server_refuse(s, err);
	else
		server_reload_apply(s, &s->next);
	if (s->reload_again) {
		s->reload_again = false;
		server_reload(s);
	}
}

/* Stop accepting and answer what is pending (after any lame duck). */
static void
server_drain(struct server *s)
{
	s->lame = false;
	/*
	 * Seal the listeners (new SYNs dropped, so their queues stop
	 * growing), let each worker empty the queues as it takes the drain
	 * state, and close the listeners once every worker took it
	 * (server_wake): whatever the kernel accepted for us is served,
	 * and a connect after that is refused, never queued and reset.
	 */
	listen_seal(s->set);
	pool_drain(s->pool, s->cf.drain_timeout);
}

/*
 * The lame duck is over (its time is up, or a second signal): drain.
 * Called from the loop and from server_stop().
 */
static void
server_lame_duck_over(struct server *s, const char *why)
{
	log_notice("%s: answering pending data for up to %u s", why,
	    s->cf.drain_timeout);
	server_drain(s);
	server_status(s);
}

static void
server_stop(struct server *s, const char *why)
{
	char msg[64];

	if (s->lame) {
		snprintf(msg, sizeof(msg), "%s again: lame duck ended", why);
		server_lame_duck_over(s, msg);
		return;
	}
	if (s->stopping) {
		log_notice("%s again: stopping at once", why);
		pool_stop_now(s->pool);
		return;
	}
	s->stopping = true;
	notify_stopping();
	if (s->reload != NULL) {
		confchild_abort(s->reload);
		s->reload = NULL;
		s->reload_again = false;
		log_notice("%s during a reload: the reload is abandoned", why);
	}
	if (s->cf.lame_duck > 0) {
		/*
		 * Serve on for lame_duck seconds while failing the health
		 * checks of the balancers (tcp_lame_duck()), so they take
		 * us out of rotation before a connect can be refused.
		 */
		s->lame = true;
		s->lame_until = worker_now_ms() +
		    (uint64_t)s->cf.lame_duck * 1000;
		log_event(LOG_NOTICE, MSGID_STOPPING, NULL,
		    "stopping on %s: lame duck for %u s (serving, failing "
		    "health checks), then answering pending data for up to "
		    "%u s", why, s->cf.lame_duck, s->cf.drain_timeout);
		pool_lame_duck(s->pool);
		server_status(s);
		return;
	}
	log_event(LOG_NOTICE, MSGID_STOPPING, NULL,
	    "stopping on %s: answering pending data for up to %u s", why,
	    s->cf.drain_timeout);
	server_drain(s);
}

/* In the lame duck: STATUS= every second, and its end. */
static void
server_lame_step(struct server *s)
{
	uint64_t now = worker_now_ms();

	if (now >= s->lame_until)
		server_lame_duck_over(s, "lame duck over");
	else if (now >= s->last_status + 1000)
		server_status(s);
}

/* The loop's poll timeout in the lame duck: its end, or the next
 * STATUS= (every second). */
static int
server_lame_timeout(const struct server *s, int timeout)
{
	uint64_t now = worker_now_ms(), ms;

	ms = s->lame_until > now ? s->lame_until - now : 0;
	if (now < s->last_status + 1000 && s->last_status + 1000 - now < ms)
		ms = s->last_status + 1000 - now;
	else if (now >= s->last_status + 1000)
		ms = 0;
	if (timeout >= 0 && (uint64_t)timeout < ms)
		return timeout;
	return (int)ms;
}

/* --- the hand-over, old side (SIGUSR2) --------------------------------- */

/* No answer within this: the successor is given up (or WatchdogSec/2). */
#define HANDOVER_DEADLINE_MS	10000

/* While waiting on the successor: the watchdog and STATUS= as usual. */
static void
server_handover_tick(void *arg)
{
	server_tick(arg);
}

/* How the successor ended ("exited with status 3"); it is reaped. */
static void
server_reap(pid_t pid, char *buf, size_t len)
{
	int st = 0, i;
	pid_t r = 0;

	/* It may be exiting: give it a moment to say how. */
	for (i = 0; i < 20 && (r = waitpid(pid, &st, WNOHANG)) == 0; i++)
		poll(NULL, 0, 10);
	if (r == 0) {
		(void)kill(pid, SIGKILL);
		r = waitpid(pid, &st, 0);
		snprintf(buf, len, "still running: killed");
		return;
	}
	if (r == -1)
		snprintf(buf, len, "gone");
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "ended");
}

struct handover {
	pid_t		 pid;
	int		 sock;
	bool		 frozen;
	uint64_t	 t0;
	struct upgrade_io io;
	struct pool_export ex;
	struct handover_source *src;	/* the per-source rate state */
	size_t		 nsrc;
	uint8_t		*state;		/* the records sent */
	size_t		*fd_at;
	int		*fds;
};

/*
 * The hand-over failed before "go": log why (msgid), end the successor,
 * thaw, and serve on.  READY=1 comes once every worker polls again.
 */
static void
server_handover_failed(struct server *s, struct handover *h,
    const char *msgid, const char *fmt, ...)
{
	char msg[CONFIG_ERRLEN + 256], how[64] = "", f1[1100];
	const char *fields[] = { f1, NULL };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h->sock != -1)
		close(h->sock);
	if (h->pid > 0)
		server_reap(h->pid, how, sizeof(how));
	snprintf(f1, sizeof(f1), "UPCASED_BINARY=%s", s->opts->exe);
	log_event(LOG_ERR, msgid, fields, "hand-over to %s refused, still "
	    "serving: %s%s%s", s->opts->exe, msg, how[0] ? "; the new "
	    "process " : "", how);
	free(h->ex.buf);
	free(h->ex.fds);
	free(h->src);
	free(h->state);
	free(h->fd_at);
	free(h->fds);
	if (h->frozen)
		pool_thaw(s->pool);
	s->ready_due = true;
	server_ready_if_settled(s);
}

/* Wait until every worker took the freeze (their exports are done). */
static int
server_handover_settle(struct server *s, struct handover *h)
{
	struct pollfd pfd;
	uint64_t v, now;

	pfd.fd = s->wakefd;
	pfd.events = POLLIN;
	while (!pool_settled(s->pool)) {
		if ((now = worker_now_ms()) >= h->io.deadline)
			return -1;
		if (poll(&pfd, 1, (int)(h->io.deadline - now < s->tick_ms ?
		    h->io.deadline - now : s->tick_ms)) == 0)
			server_tick(s);
		(void)!read(s->wakefd, &v, sizeof(v));
		pool_collect(s->pool);
	}
	return 0;
}

/* Append a listener of set to the state (its descriptor at fd_at). */
static size_t
server_state_listeners(const struct listener_set *set, bool metrics,
    uint8_t *buf, size_t off, size_t *fd_at, int *fds, size_t *nfds)
{
	struct handover_listener hl;
	size_t i, n;

	for (i = 0; i < set->n; i++) {
		memset(&hl, 0, sizeof(hl));
		hl.kind = metrics ? HANDOVER_L_METRICS :
		    set->l[i]->ev.kind == EV_UDP ? HANDOVER_L_UDP :
		    HANDOVER_L_TCP;
		hl.flags = set->l[i]->activated ? HANDOVER_L_ACTIVATED : 0;
		hl.addr = set->l[i]->addr;
		n = handover_encode_listener(buf != NULL ? buf + off : NULL,
		    buf != NULL ? SIZE_MAX : 0, &hl);
		if (buf != NULL) {
			fd_at[*nfds] = off;
			fds[*nfds] = set->l[i]->fd;
		}
		(*nfds)++;		/* measured too: the arrays' size */
		off += n;
	}
	return off;
}

/* Append the SOURCES records (HANDOVER_SOURCES_PER_RECORD a record). */
static size_t
server_state_sources(const struct handover *h, uint8_t *buf, size_t off)
{
	size_t i, n;

	for (i = 0; i < h->nsrc; i += n) {
		n = h->nsrc - i < HANDOVER_SOURCES_PER_RECORD ? h->nsrc - i :
		    HANDOVER_SOURCES_PER_RECORD;
		off += handover_encode_sources(buf != NULL ? buf + off : NULL,
		    buf != NULL ? SIZE_MAX : 0, h->src + i, n);
	}
	return off;
}

/*
 * The state in one buffer: HEADER, COUNTERS (final: the workers are
 * frozen), SOURCES, LISTENERs, the workers' CONNs, END; with the
 * descriptor of each LISTENER and CONN.  Measured first (buf NULL),
 * then written.
 */
static size_t
server_state_write(struct server *s, struct handover *h, uint8_t *buf,
    size_t *nfds, size_t *nconns)
{
	struct handover_header hh;
	struct stats_snapshot st;
	size_t off = 0, k, n, at;
	const uint8_t *p;
	uint32_t len;

	memset(&hh, 0, sizeof(hh));
	hh.transform = (uint8_t)s->cf.transform;
	hh.exit_len = (uint8_t)strlen(s->cf.exit_command);
	memcpy(hh.exit_text, s->cf.exit_command, hh.exit_len);
	/* Count the CONN records the workers wrote. */
	for (*nconns = 0, at = 0; at + HANDOVER_FRAME <= h->ex.len;
	    (*nconns)++) {
		p = h->ex.buf + at;
		len = (uint32_t)p[1] | (uint32_t)p[2] << 8 |
		    (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
		at += HANDOVER_FRAME + len;
	}
	hh.nconns = (uint32_t)*nconns;
	hh.nsources = (uint32_t)h->nsrc;
	pool_stats(s->pool, &st);
	off += handover_encode_header(buf, buf != NULL ? SIZE_MAX : 0, &hh);
	off += handover_encode_counters(buf != NULL ? buf + off : NULL,
	    buf != NULL ? SIZE_MAX : 0, &st);
	off = server_state_sources(h, buf, off);
	*nfds = 0;
	off = server_state_listeners(s->set, false, buf, off, h->fd_at,
	    h->fds, nfds);
	off = server_state_listeners(&s->metrics, true, buf, off, h->fd_at,
	    h->fds, nfds);
	if (buf != NULL) {
		memcpy(buf + off, h->ex.buf, h->ex.len);
		for (k = 0, at = 0; k < h->ex.nfds; k++) {
			p = h->ex.buf + at;
			len = (uint32_t)p[1] | (uint32_t)p[2] << 8 |
			    (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
			h->fd_at[*nfds] = off + at;
			h->fds[(*nfds)++] = h->ex.fds[k];
			at += HANDOVER_FRAME + len;
		}
	} else
		*nfds += h->ex.nfds;
	off += h->ex.len;
	n = handover_encode_end(buf != NULL ? buf + off : NULL,
	    buf != NULL ? SIZE_MAX : 0);
	return off + n;
}

/* A record from the successor, or how the wait failed (msgid, text). */
static int
server_handover_recv(struct server *s, struct handover *h, uint8_t *rec,
    size_t cap, size_t *n, const char *what)
{
	if (upgrade_recv(&h->io, rec, cap, n) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		server_handover_failed(s, h, MSGID_HANDOVER_TIMEOUT,
		    "no %s from the new process within %" PRIu64 " ms", what,
		    h->io.deadline - h->t0);
	else
		server_handover_failed(s, h, MSGID_HANDOVER_DIED,
		    "the new process ended before its %s (%s)", what,
		    errno == ECONNRESET ? "end of stream" : strerror(errno));
	return -1;
}

/* The successor refused: why, with the message id of its reason. */
static void
server_handover_refused(struct server *s, struct handover *h,
    const uint8_t *rec, size_t n, const char *what)
{
	static struct handover_refuse r;	/* 4 KiB: not on the stack */
	const char *why = "?";
	size_t used;

	if (handover_decode_refuse(rec, n, &r, &used, &why) != HANDOVER_OK)
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "unreadable answer instead of its %s: %s", what, why);
	else if (r.what == HANDOVER_R_EXEC)
		server_handover_failed(s, h, MSGID_HANDOVER_EXEC,
		    "cannot execute it: %s", strerror((int)r.code));
	else
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "the new process refused the state: %s", r.why);
}

/* HELLO: its format version and its verdict on the configuration. */
static int
server_handover_hello(struct server *s, struct handover *h, uint8_t *rec,
    size_t cap, char *release, size_t rlen)
{
	static struct handover_hello hello;
	enum handover_type t;
	const char *why = "?";
	size_t n, used;

	if (server_handover_recv(s, h, rec, cap, &n, "hello") == -1)
		return -1;
	if (handover_peek(rec, n, &t, &why) == HANDOVER_OK &&
	    t == HANDOVER_REFUSE) {
		server_handover_refused(s, h, rec, n, "hello");
		return -1;
	}
	if (handover_decode_hello(rec, n, &hello, &used, &why) !=
	    HANDOVER_OK) {
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "unreadable hello: %s", why);
		return -1;
	}
	if (hello.version != HANDOVER_VERSION) {
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "upcased %s reads state format version %" PRIu32 ", this "
		    "one writes version %d", hello.release, hello.version,
		    HANDOVER_VERSION);
		return -1;
	}
	if (hello.config_error[0] != '\0') {
		server_handover_failed(s, h, MSGID_HANDOVER_CONFIG,
		    "upcased %s refuses %s: %s", hello.release, s->cf.path,
		    hello.config_error);
		return -1;
	}
	snprintf(release, rlen, "%s", hello.release);
	return 0;
}

/* Freeze, write and send the state. */
static int
server_handover_state(struct server *s, struct handover *h, size_t *nconns,
    size_t *nfds)
{
	size_t len;

	pool_freeze(s->pool);
	h->frozen = true;
	if (server_handover_settle(s, h) == -1) {
		server_handover_failed(s, h, MSGID_HANDOVER_TIMEOUT,
		    "the workers did not freeze in time");
		return -1;
	}
	/* The per-source table too: no admission happens while frozen. */
	if (!pool_take_export(s->pool, &h->ex) ||
	    srclimit_export(pool_sources(s->pool), worker_now_ms(), &h->src,
	    &h->nsrc) == -1) {
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "out of memory writing the state");
		return -1;
	}
	len = server_state_write(s, h, NULL, nfds, nconns);
	h->state = malloc(len);
	h->fd_at = calloc(*nfds + 1, sizeof(*h->fd_at));
	h->fds = calloc(*nfds + 1, sizeof(*h->fds));
	if (h->state == NULL || h->fd_at == NULL || h->fds == NULL) {
		server_handover_failed(s, h, MSGID_HANDOVER_STATE,
		    "out of memory writing the state");
		return -1;
	}
	(void)server_state_write(s, h, h->state, nfds, nconns);
	if (upgrade_send_state(&h->io, h->state, len, h->fd_at, h->fds,
	    *nfds) == -1) {
		if (errno == ETIMEDOUT)
			server_handover_failed(s, h, MSGID_HANDOVER_TIMEOUT,
			    "the new process did not read the state in time");
		else
			server_handover_failed(s, h, MSGID_HANDOVER_DIED,
			    "sending the state: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * SIGUSR2: start the binary at our path with --take-over, hand it
 * everything, and exit once it has it; on any failure before "go" serve
 * on as if nothing happened (doc/handover.md).  The main thread waits
 * here, bounded, feeding the watchdog; signals wait in the signalfd.
 */
static void
server_handover(struct server *s)
{
	static uint8_t rec[HANDOVER_FRAME + 16 + HANDOVER_MAX_RELEASE +
	    HANDOVER_MAX_TEXT];
	struct handover h;
	char release[HANDOVER_MAX_RELEASE + 1], f1[1100], f2[40], f3[80];
	const char *fields[] = { f1, f2, f3, NULL };
	enum handover_type t;
	const char *why = "?";
	size_t n, nconns = 0, nfds = 0;
	uint64_t deadline = HANDOVER_DEADLINE_MS;
	sigset_t pend;
	uint8_t go[HANDOVER_FRAME + 1], flags = 0;

	if (s->stopping || s->reload != NULL) {
		log_event(LOG_NOTICE, MSGID_HANDOVER_BUSY, NULL,
		    "SIGUSR2 while %s: no hand-over", s->stopping ?
		    "stopping" : "reloading");
		return;
	}
	memset(&h, 0, sizeof(h));
	h.sock = -1;
	h.t0 = worker_now_ms();
	if (s->wd_usec > 0 && s->wd_usec / 2000 < deadline)
		deadline = s->wd_usec / 2000;
	notify_reloading();
	snprintf(release, sizeof(release), "?");
	log_info("SIGUSR2: handing over to %s", s->opts->exe);
	if (access(s->opts->exe, X_OK) == -1) {
		server_handover_failed(s, &h, MSGID_HANDOVER_EXEC,
		    "cannot execute it: %s", strerror(errno));
		return;
	}
	if ((h.pid = upgrade_spawn(s->opts->exe, s->opts->argv, &h.sock)) ==
	    -1) {
		server_handover_failed(s, &h, MSGID_HANDOVER_EXEC,
		    "cannot start it: %s", strerror(errno));
		return;
	}
	h.io.sock = h.sock;
	h.io.deadline = h.t0 + deadline;
	h.io.tick_ms = (unsigned)s->tick_ms;
	h.io.tick = server_handover_tick;
	h.io.arg = s;
	if (server_handover_hello(s, &h, rec, sizeof(rec), release,
	    sizeof(release)) == -1 ||
	    server_handover_state(s, &h, &nconns, &nfds) == -1 ||
	    server_handover_recv(s, &h, rec, sizeof(rec), &n, "ready") == -1)
		return;
	if (handover_peek(rec, n, &t, &why) == HANDOVER_OK &&
	    t == HANDOVER_REFUSE) {
		server_handover_refused(s, &h, rec, n, "ready");
		return;
	}
	if (handover_decode_ready(rec, n, &n, &why) != HANDOVER_OK) {
		server_handover_failed(s, &h, MSGID_HANDOVER_STATE,
		    "unreadable answer instead of ready: %s", why);
		return;
	}
	/* A stop asked meanwhile is ours to honour: no hand-over then. */
	if (sigpending(&pend) == 0 && (sigismember(&pend, SIGTERM) == 1 ||
	    sigismember(&pend, SIGINT) == 1)) {
		server_handover_failed(s, &h, NULL, "a stop was asked");
		return;
	}
	if (sigismember(&pend, SIGHUP) == 1)
		flags |= HANDOVER_GO_RELOAD;	/* the successor reloads */
	notify_mainpid(h.pid);
	n = handover_encode_go(go, sizeof(go), flags);
	if (upgrade_send(&h.io, go, n) == -1) {
		notify_mainpid(getpid());
		server_handover_failed(s, &h, MSGID_HANDOVER_DIED,
		    "the new process ended before go: %s", strerror(errno));
		return;
	}
	snprintf(f1, sizeof(f1), "UPCASED_BINARY=%s", s->opts->exe);
	snprintf(f2, sizeof(f2), "UPCASED_SUCCESSOR=%d", (int)h.pid);
	snprintf(f3, sizeof(f3), "UPCASED_VERSION=%s", release);
	log_event(LOG_NOTICE, MSGID_HANDED_OVER, fields,
	    "handed over to PID %d (upcased %s): %zu connections, %zu "
	    "sockets in %" PRIu64 " ms", (int)h.pid, release, nconns,
	    nfds - nconns, worker_now_ms() - h.t0);
	/*
	 * A signal that came since the check is the successor's now (it
	 * blocks them until it serves): pass it on.
	 */
	if (sigpending(&pend) == 0) {
		if (sigismember(&pend, SIGTERM) == 1)
			(void)kill(h.pid, SIGTERM);
		if (sigismember(&pend, SIGINT) == 1)
			(void)kill(h.pid, SIGINT);
		if (sigismember(&pend, SIGHUP) == 1 &&
		    !(flags & HANDOVER_GO_RELOAD))
			(void)kill(h.pid, SIGHUP);
	}
	/* No drain, no shutdown(): the successor holds every socket. */
	_exit(0);
}

/* --- the hand-over, the successor's side (--take-over) ------------------ */

/* The old process answers within its own deadline; this one is a bound. */
#define TAKE_OVER_WAIT_MS	30000

struct take_over {
	struct server		*s;
	struct listener_set	*set;		/* the echo sockets handed */
	struct listener_set	 metrics;	/* the endpoint's */
	struct stats_snapshot	 past;
	size_t			 nconns;
	char			 why[CONFIG_ERRLEN];
};

static const char *
take_over_header(void *arg, const struct handover_header *h)
{
	struct take_over *t = arg;
	static struct config hc;	/* large: not on the stack */

	/* Import under the settings the state was made with. */
	config_copy(&hc, &t->s->cf);
	memcpy(hc.exit_command, h->exit_text, (size_t)h->exit_len + 1);
	hc.transform = (enum config_transform)h->transform;
	tcp_engine_configure(t->s->stage, &hc);
	return NULL;
}

static const char *
take_over_counters(void *arg, const struct stats_snapshot *st)
{
	((struct take_over *)arg)->past = *st;
	return NULL;
}

/* Before any connection (the stream's order): they count themselves in
 * these entries again, so the open counts are not doubled. */
static const char *
take_over_sources(void *arg, const struct handover_source *v, size_t n)
{
	struct take_over *t = arg;
	uint64_t now = worker_now_ms();
	const char *why;
	size_t i;

	for (i = 0; i < n; i++)
		if ((why = srclimit_import(pool_sources(t->s->pool), &v[i],
		    now)) != NULL)
			return why;
	return NULL;
}

static const char *
take_over_listener(void *arg, const struct handover_listener *l, int fd)
{
	struct take_over *t = arg;
	int kind = l->kind == HANDOVER_L_UDP ? EV_UDP :
	    l->kind == HANDOVER_L_METRICS ? EV_HTTP_LISTEN : EV_TCP_LISTEN;

	if (listen_takeover(fd, kind, (l->flags & HANDOVER_L_ACTIVATED) != 0,
	    &l->addr, kind == EV_HTTP_LISTEN ? &t->metrics : t->set, t->why,
	    sizeof(t->why)) == -1)
		return t->why;
	return NULL;
}

static const char *
take_over_conn(void *arg, const struct handover_conn *c, int fd)
{
	struct take_over *t = arg;

	tcp_engine_clock_ms(t->s->stage, worker_now_ms());
	if (tcp_conn_import(t->s->stage, fd, c) == NULL)
		return "cannot import a connection (out of memory?)";
	t->nconns++;
	return NULL;
}

/* Before "go", a successor ends without touching a socket: _exit() only
 * closes its copies, which sends nothing; the old process serves on. */
static void
take_over_refuse(int sock, uint8_t what, const char *why, int status)
{
	static struct handover_refuse r;
	static uint8_t rec[HANDOVER_FRAME + 8 + HANDOVER_MAX_TEXT];
	size_t n;

	memset(&r, 0, sizeof(r));
	r.what = what;
	snprintf(r.why, sizeof(r.why), "%s", why);
	log_errx("taking over: %s", why);
	if ((n = handover_encode_refuse(rec, sizeof(rec), &r)) > 0)
		(void)!write(sock, rec, n);
	_exit(status);
}

/* The listeners this configuration asks for, from those handed over. */
static void
take_over_listeners(struct server *s, struct take_over *t, int sock)
{
	char err[CONFIG_ERRLEN];
	struct listener_set *next;

	if (t->set->activated || t->metrics.activated) {
		/* systemd's sockets: the file's ports are not used. */
		s->set = t->set;
		s->metrics = t->metrics;
		return;
	}
	if ((next = calloc(1, sizeof(*next))) == NULL)
		take_over_refuse(sock, HANDOVER_R_SYSTEM, "out of memory",
		    EX_OSERR);
	if (listen_open(&s->cf, t->set, next, err, sizeof(err)) == -1 ||
	    listen_open_metrics(&s->cf, &t->metrics, &s->metrics, err,
	    sizeof(err)) == -1)
		take_over_refuse(sock, HANDOVER_R_SYSTEM, err, EX_OSERR);
	/* Sockets the file dropped: our copies close, nothing is sent. */
	listen_release(t->set, next);
	listen_release(&t->metrics, &s->metrics);
	free(t->set);
	s->set = next;
}

/*
 * Read the state, rebuild listeners and connections (into the staging
 * engine: no worker runs yet), say READY and wait for GO.  Any failure
 * before GO: REFUSE and exit.  Returns with everything in s.
 */
static void
server_take_over(struct server *s, int sock)
{
	struct upgrade_sink sink = { take_over_header, take_over_counters,
	    take_over_sources, take_over_listener, take_over_conn, NULL };
	static struct take_over t;
	struct upgrade_io io;
	uint8_t rec[HANDOVER_FRAME + 8];
	const char *why;
	size_t n, used;
	uint8_t flags = 0;

	memset(&t, 0, sizeof(t));
	t.s = s;
	sink.arg = &t;
	/* Now: once the old one exits we are re-parented. */
	s->took_over_from = getppid();
	if ((t.set = calloc(1, sizeof(*t.set))) == NULL ||
	    (s->stage_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (s->stage = pool_import_engine(s->pool, s->stage_epfd,
	    &s->stage_st)) == NULL)
		take_over_refuse(sock, HANDOVER_R_SYSTEM, "out of memory",
		    EX_OSERR);
	memset(&io, 0, sizeof(io));
	io.sock = sock;
	io.deadline = worker_now_ms() + TAKE_OVER_WAIT_MS;
	io.tick_ms = 1000;
	if ((why = upgrade_recv_state(&io, &sink, t.why, sizeof(t.why))) !=
	    NULL)
		take_over_refuse(sock, HANDOVER_R_STATE, why, EX_DATAERR);
	take_over_listeners(s, &t, sock);
	/* Our own settings now, as a reload takes them (a held line is
	 * decided under a changed exit command). */
	tcp_engine_clock_ms(s->stage, worker_now_ms());
	tcp_engine_configure(s->stage, &s->cf);
	s->imported = tcp_detach_all(s->stage);
	pool_set_past(s->pool, &t.past);
	n = handover_encode_ready(rec, sizeof(rec));
	if (upgrade_send(&io, rec, n) == -1)
		_exit(EX_TEMPFAIL);
	io.deadline = worker_now_ms() + TAKE_OVER_WAIT_MS;
	if (upgrade_recv(&io, rec, sizeof(rec), &n) == -1 ||
	    handover_decode_go(rec, n, &flags, &used, &why) != HANDOVER_OK)
		_exit(EX_TEMPFAIL);	/* the old one thawed: it serves */
	close(sock);
	if (flags & HANDOVER_GO_RELOAD)
		(void)raise(SIGHUP);	/* blocked: read from the signalfd */
}

static void
server_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (s->stopping)
				log_info("SIGHUP while stopping: ignored");
			else
				server_reload(s);
			break;
		case SIGTERM:
			server_stop(s, "SIGTERM");
			break;
		case SIGINT:
			server_stop(s, "SIGINT");
			break;
		case SIGUSR2:
			server_handover(s);
			break;
		default:
			break;
		}
	}
}

/* Workers took a state, or ended. */
static void
server_wake(struct server *s)
{
	uint64_t v;

	(void)!read(s->wakefd, &v, sizeof(v));
	pool_collect(s->pool);
	if (!pool_settled(s->pool))
		return;
	server_sweep_grave(s);
	if (s->stopping && s->set->n > 0 && pool_released(s->pool)) {
		/*
		 * No worker polls the listeners any more, and each emptied
		 * the accept queues of ours as it stopped: close them, so new
		 * clients are refused now rather than queued in a backlog
		 * that would be reset at exit.  Sockets passed by systemd
		 * stay open in systemd, which queues them for the next start.
		 * UDP sockets close too: a datagram still queued is lost as
		 * any datagram may be, and a later one gets "port
		 * unreachable" at once instead of silence.
		 */
		listen_release(s->set, NULL);
	}
	server_ready_if_settled(s);
}

/* --- start and stop --------------------------------------------------- */

static int
server_signals(struct server *s)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);	/* EPIPE from send() instead */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR2);
	/* Blocked before any thread exists: workers inherit the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->sigfd == -1 ? -1 : 0;
}

static int
server_listen(struct server *s)
{
	char err[CONFIG_ERRLEN];
	int n;

	if ((s->set = calloc(1, sizeof(*s->set))) == NULL)
		fatal(EX_OSERR, "calloc");
	if ((n = listen_from_systemd(s->set, &s->metrics, err,
	    sizeof(err))) == -1) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL, "%s", err);
		return EX_CONFIG;
	}
	if (n > 0) {
		/* The started event says that the file's ports are unused. */
		server_log_listeners(s->set, NULL);
		server_log_listeners(&s->metrics, NULL);
		return 0;
	}
	if (s->cf.tcp.nports == 0 && s->cf.udp.nports == 0) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL,
		    "%s: no TCP or UDP ports to listen on, and no sockets "
		    "passed by systemd", s->cf.path);
		return EX_CONFIG;
	}
	if (listen_open(&s->cf, NULL, s->set, err, sizeof(err)) == -1 ||
	    listen_open_metrics(&s->cf, NULL, &s->metrics, err,
	    sizeof(err)) == -1) {
		log_errx("cannot listen: %s", err);
		return EX_OSERR;
	}
	server_log_listeners(s->set, NULL);
	server_log_listeners(&s->metrics, NULL);
	return 0;
}

static void
server_loop(struct server *s)
{
	struct pollfd pfd[4 + HTTPD_POLLFDS];
	size_t nh;
	int timeout;

	pfd[0].fd = s->sigfd;
	pfd[1].fd = s->timerfd;
	pfd[2].fd = s->wakefd;
	pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
	pfd[3].events = POLLIN;
	while (!(s->stopping && pool_done(s->pool))) {
		pfd[3].fd = s->reload != NULL ? confchild_fd(s->reload) : -1;
		pfd[3].revents = 0;
		timeout = s->reload != NULL ? confchild_timeout(s->reload) : -1;
		if (s->lame)
			timeout = server_lame_timeout(s, timeout);
		nh = httpd_pollfds(s->httpd, pfd + 4, &timeout);
		if (poll(pfd, 4 + nh, timeout) == -1) {
			if (errno != EINTR)
				fatal(EX_OSERR, "poll");
			continue;
		}
		/* The endpoint: accept, answer, time out (never blocks). */
		httpd_run(s->httpd, pfd + 4, nh);
		if (pfd[2].revents & POLLIN)
			server_wake(s);
		if (pfd[0].revents & POLLIN)
			server_signal(s);
		if (pfd[1].revents & POLLIN)
			server_tick(s);
		if (s->reload != NULL && (pfd[3].revents != 0 ||
		    confchild_timeout(s->reload) == 0))
			server_reload_step(s);
		if (s->lame)
			server_lame_step(s);
	}
}

static void
server_log_stopped(struct server *s)
{
	struct stats_snapshot st;
	char f1[48], f2[48], f3[48], f4[48], f5[48], f6[48], f7[48], f8[48];
	char f9[48];
	const char *fields[] = { f1, f2, f3, f4, f5, f6, f7, f8, f9, NULL };

	pool_stats(s->pool, &st);
	snprintf(f1, sizeof(f1), "UPCASED_CONNECTIONS=%" PRIu64,
	    st.conns_total);
	snprintf(f2, sizeof(f2), "UPCASED_BYTES_IN=%" PRIu64,
	    stats_bytes_in(&st));
	snprintf(f3, sizeof(f3), "UPCASED_BYTES_OUT=%" PRIu64,
	    stats_bytes_out(&st));
	snprintf(f4, sizeof(f4), "UPCASED_DATAGRAMS=%" PRIu64, st.dgrams_in);
	snprintf(f5, sizeof(f5), "UPCASED_REFUSED=%" PRIu64,
	    stats_refused(&st));
	snprintf(f6, sizeof(f6), "UPCASED_DROPPED=%" PRIu64,
	    stats_dropped(&st));
	snprintf(f7, sizeof(f7), "UPCASED_RATE_LIMITED=%" PRIu64,
	    st.dropped_limited);
	snprintf(f8, sizeof(f8), "UPCASED_PROXY_ERRORS=%" PRIu64,
	    st.refused_proxy);
	snprintf(f9, sizeof(f9), "UPCASED_DENIED=%" PRIu64,
	    stats_denied(&st));
	log_event(LOG_NOTICE, MSGID_STOPPED, fields,
	    "stopped: served %" PRIu64 " connections (%" PRIu64 " refused) "
	    "and %" PRIu64 " datagrams (%" PRIu64 " dropped, %" PRIu64
	    " rate-limited); %" PRIu64 " denied by the access rules, %" PRIu64
	    " PROXY protocol errors", st.conns_total, stats_refused(&st),
	    st.dgrams_in, stats_dropped(&st), st.dropped_limited,
	    stats_denied(&st), st.refused_proxy);
}

int
server_run(const struct config *cf, const struct server_opts *o)
{
	struct server *s;
	struct admit_rules *rules;
	struct timespec ts;
	char err[CONFIG_ERRLEN];
	uint64_t tick_ms;
	int rc;

	/* On the heap: struct config is large (the access rules). */
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal(EX_OSERR, "calloc");
	config_copy(&s->cf, cf);
	s->opts = o;
	s->sigfd = s->timerfd = s->wakefd = s->stage_epfd = -1;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	s->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	notify_init();
	if (server_signals(s) == -1 || server_timer(s) == -1 ||
	    (s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal(EX_OSERR, "start-up");
	/* Workers wake at least four times per watchdog period. */
	tick_ms = s->wd_usec > 0 ? s->wd_usec / 4000 : 1000;
	if (tick_ms > 1000)
		tick_ms = 1000;
	if (tick_ms < 10)
		tick_ms = 10;
	if ((s->pool = pool_new(s->wakefd, (unsigned)tick_ms)) == NULL)
		fatal(EX_OSERR, "pool");
	if (o->take_over != -1)
		server_take_over(s, o->take_over);
	else if ((rc = server_listen(s)) != 0) {
		pool_free(s->pool);
		free(s->set);
		free(s);
		notify_close();
		return rc;
	}
	if ((s->httpd = httpd_new(server_fill_metrics, s)) == NULL)
		fatalx(EX_OSERR, "out of memory");
	if (httpd_listen(s->httpd, &s->metrics, err, sizeof(err)) == -1)
		fatalx(EX_OSERR, "%s", err);
	server_fd_limit(s);
	if ((rules = admit_rules_new(&s->cf)) == NULL)
		fatalx(EX_OSERR, "out of memory");
	if (pool_apply(s->pool, &s->cf, s->set, rules) == -1)
		fatalx(EX_OSERR, "no worker thread could be started");
	if (s->stage != NULL) {
		/* Taken over: each worker adopts its share, and polls. */
		pool_give(s->pool, s->imported);
		s->imported = NULL;
		tcp_engine_free(s->stage);	/* empty now */
		s->stage = NULL;
		close(s->stage_epfd);
		if (s->wd_usec > 0)
			notify_watchdog();
	}
	s->ready_due = true;
	server_loop(s);

	server_log_stopped(s);
	httpd_free(s->httpd);
	pool_free(s->pool);
	server_sweep_grave(s);
	listen_release(s->set, NULL);
	listen_release(&s->metrics, NULL);
	free(s->set);
	close(s->sigfd);
	close(s->timerfd);
	close(s->wakefd);
	free(s);
	notify_close();
	return 0;
}

int
server_hello(int sock, const char *config_error)
{
	static struct handover_hello h;
	static uint8_t rec[HANDOVER_FRAME + 16 + HANDOVER_MAX_RELEASE +
	    HANDOVER_MAX_TEXT];
	size_t n, off = 0;
	ssize_t w;
	char *p;

	memset(&h, 0, sizeof(h));
	h.version = HANDOVER_VERSION;
	snprintf(h.release, sizeof(h.release), "%s", PACKAGE_VERSION);
	snprintf(h.config_error, sizeof(h.config_error), "%s", config_error);
	for (p = h.config_error; *p != '\0'; p++)	/* printable only */
		if ((*p > 0 && *p < 0x20 && *p != '\n' && *p != '\t') ||
		    *p == 0x7f)
			*p = '?';
	if ((n = handover_encode_hello(rec, sizeof(rec), &h)) == 0) {
		errno = EINVAL;
		return -1;
	}
	while (off < n) {
		if ((w = write(sock, rec + off, n - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}
