/*
 * worker.c - the worker threads and the pool that runs them.
 *
 * Contract: pool_* functions are called from the main thread only; the
 * worker_* statics run on their worker's thread.  The two meet in each
 * worker's mailbox (a mutex-protected slot holding the latest desired
 * state, plus connections handed over by a retiring worker) and in a few
 * atomics the main thread reads (heartbeat, acknowledged generation,
 * counters).  The mailbox holds state, not a queue of commands, so a
 * storm of reloads costs each worker one update, not one per signal.
 *
 * A worker picks up its mailbox only at the top of its loop, between two
 * epoll_wait() batches: no event it still has in hand can refer to a
 * listener the update removes.  The main thread closes a removed listener
 * only after every worker has acknowledged the generation that removed
 * it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "config.h"
#include "handover.h"
#include "listen.h"
#include "log.h"
#include "stats.h"
#include "tcp.h"
#include "udp.h"
#include "worker.h"

#define EVENTS_MAX	256
#define BACKOFF_MS	100	/* pause accepting after EMFILE and co. */
#define QUEUE_BATCHES	128	/* bound on emptying one accept queue */

struct worker {
	struct evsrc	 wake_ev;	/* EV_WAKE, for epoll */
	struct pool	*pool;
	unsigned	 id;
	pthread_t	 thread;
	int		 epfd;
	int		 wakefd;
	struct tcp_engine *tcp;
	struct udp_engine *udp;
	struct stats	 st;
	_Atomic uint64_t heartbeat;	/* worker_now_ms() of its last loop */
	_Atomic uint64_t acked;		/* generation applied */
	_Atomic bool	 exited;
	_Atomic bool	 released;	/* stopping: polls no listener */

	/* The mailbox, under mu: written by main (and by retirees). */
	pthread_mutex_t	 mu;
	uint64_t	 gen;
	struct config	 cf;
	const struct listener_set *set;
	const struct admit_rules *rules;
	bool		 lame_duck;
	bool		 drain;
	uint64_t	 drain_deadline;	/* worker_now_ms() */
	bool		 stop_now;
	bool		 retire;
	struct worker	*heirs[CONFIG_MAX_WORKERS];
	size_t		 nheirs;
	struct tcp_conn	*adopt;
	bool		 freeze;	/* hand-over: poll nothing, export */
	struct pool_export exp;		/* the worker's export, for main */
	struct tcp_conn	*imported;	/* the successor's, to adopt */

	/* Private to the worker thread. */
	uint64_t	 applied;
	const struct listener_set *cur;
	struct listener	*reg[LISTEN_MAX];	/* in our epoll now */
	size_t		 nreg;
	bool		 draining;
	uint64_t	 accept_until;	/* stopping: sealed queues until */
	uint64_t	 deadline;	/* of the drain, worker_now_ms() */
	uint64_t	 drain_tick_at;	/* next tcp_drain_tick() */
	uint64_t	 paused_until;	/* TCP listeners off until then */
	bool		 frozen;
	struct tcp_conn	*held;		/* frozen: our detached connections */
};

struct pool {
	int		 wake_fd;
	unsigned	 tick_ms;
	struct admit	*adm;		/* shared by the workers */
	struct worker	*w[CONFIG_MAX_WORKERS];
	size_t		 n;
	struct stats_snapshot past;	/* counters of joined workers */
	uint64_t	 gen;
	struct config	 cf;
	const struct listener_set *set;
	struct admit_rules *rules;	/* the latest */
	struct admit_rules **old_rules;	/* replaced, maybe still in use */
	size_t		 nold_rules;
	bool		 draining;
};

uint64_t
worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
poke(int fd)
{
	(void)eventfd_write(fd, 1);
}

/* --- the worker thread ------------------------------------------------ */

static bool
worker_wants(const struct worker *w, const struct listener *l, uint64_t now)
{
	if (w->frozen)
		return false;
	if (l->ev.kind == EV_TCP_LISTEN && now < w->paused_until)
		return false;
	/* Stopping: only our own sealed TCP queues, for a moment. */
	if (w->draining)
		return l->ev.kind == EV_TCP_LISTEN && !l->activated &&
		    now < w->accept_until;
	return true;
}

/* Make our epoll watch exactly the listeners we want now. */
static void
worker_sync_listeners(struct worker *w, uint64_t now)
{
	struct epoll_event ev;
	size_t i, j;

	for (i = 0; i < w->nreg;) {
		if (listen_set_has(w->cur, w->reg[i]) &&
		    worker_wants(w, w->reg[i], now)) {
			i++;
			continue;
		}
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->reg[i]->fd, NULL);
		w->reg[i] = w->reg[--w->nreg];
	}
	for (i = 0; w->cur != NULL && i < w->cur->n; i++) {
		struct listener *l = w->cur->l[i];

		if (!worker_wants(w, l, now))
			continue;
		for (j = 0; j < w->nreg && w->reg[j] != l; j++)
			;
		if (j < w->nreg)
			continue;
		/* EPOLLEXCLUSIVE: one waiting worker wakes, not all. */
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.ptr = l;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &ev) == -1) {
			log_warn("worker %u: epoll_ctl (%s)", w->id, l->name);
			continue;
		}
		w->reg[w->nreg++] = l;
	}
}

/*
 * Stopping: accept what waits in the queues of the TCP listeners we bound
 * (sealed by the main thread: no new SYN gets in), before we stop polling
 * them and the main thread closes them: closing a listener resets what
 * is queued, and a balancer that already sent data on such a connection
 * cannot retry it.  These connections are then drained like the others.
 * A worker empties the queues as it takes the drain state, goes on
 * polling them for a drain tick (handshakes that were under way at the
 * seal complete within a round trip), empties them once more and lets
 * go (worker_release).  Sockets passed by systemd are not emptied:
 * systemd keeps them open, queue included, for the next instance, so we
 * just stop accepting from them.
 */
static void
worker_empty_queues(struct worker *w)
{
	const struct listener *l;
	size_t i;
	int k;

	for (i = 0; w->cur != NULL && i < w->cur->n; i++) {
		l = w->cur->l[i];
		if (l->ev.kind != EV_TCP_LISTEN || l->activated)
			continue;
		for (k = 0; k < QUEUE_BATCHES &&
		    tcp_accept(w->tcp, l->fd) == TCP_ACCEPT_MORE; k++)
			;
	}
}

/* Stopping, the sealed queues emptied: poll no listener any more and
 * tell the main thread, which closes them once every worker let go. */
static void
worker_release(struct worker *w, uint64_t now)
{
	if (now < w->deadline)
		worker_empty_queues(w);
	w->accept_until = 0;
	worker_sync_listeners(w, now);
	atomic_store(&w->released, true);
	poke(w->pool->wake_fd);
}

/* Hand every connection to the surviving workers, round robin. */
static void
worker_hand_over(struct worker *w, struct worker *const *heirs, size_t n)
{
	struct tcp_conn *c, *next;
	struct worker *h;
	size_t k = w->id;

	for (c = tcp_detach_all(w->tcp); c != NULL; c = next) {
		next = tcp_conn_next_detached(c);
		h = heirs[k++ % n];
		pthread_mutex_lock(&h->mu);
		tcp_conn_link_detached(c, h->adopt);
		h->adopt = c;
		pthread_mutex_unlock(&h->mu);
	}
	for (k = 0; k < n; k++)
		poke(heirs[k]->wakefd);
}

/*
 * Hand-over (doc/handover.md): detach every connection and encode each
 * as a CONN record, on our own thread and clock, with its descriptor at
 * the same index.  The connections stay ours, detached, until a thaw
 * adopts them again (or the process exits once the successor has them).
 * Out of memory: exp->failed, and the main thread thaws.
 */
static void
worker_freeze(struct worker *w, struct pool_export *exp)
{
	struct handover_conn hc;
	struct tcp_conn *c;
	uint8_t *b;
	int *fds;
	size_t n, cap = 0, fcap = 0;

	memset(exp, 0, sizeof(*exp));
	w->frozen = true;
	w->held = tcp_detach_all(w->tcp);
	for (c = w->held; c != NULL; c = tcp_conn_next_detached(c)) {
		tcp_conn_export(w->tcp, c, &hc);
		if ((n = handover_encode_conn(NULL, 0, &hc)) == 0)
			goto fail;
		if (exp->len + n > cap) {
			cap = (exp->len + n) * 2;
			if ((b = realloc(exp->buf, cap)) == NULL)
				goto fail;
			exp->buf = b;
		}
		if (exp->nfds == fcap) {
			fcap = fcap * 2 + 16;
			if ((fds = reallocarray(exp->fds, fcap,
			    sizeof(*fds))) == NULL)
				goto fail;
			exp->fds = fds;
		}
		(void)handover_encode_conn(exp->buf + exp->len, n, &hc);
		exp->len += n;
		exp->fds[exp->nfds++] = tcp_conn_fd(c);
	}
	return;
fail:
	log_warnx("worker %u: out of memory exporting its connections",
	    w->id);
	exp->failed = true;
}

/* The hand-over failed: take our connections back, poll again. */
static void
worker_thaw(struct worker *w)
{
	struct tcp_conn *c, *next;

	w->frozen = false;
	for (c = w->held; c != NULL; c = next) {
		next = tcp_conn_next_detached(c);
		(void)tcp_adopt(w->tcp, c);
	}
	w->held = NULL;
}

/* Returns false when the worker is to end its loop. */
static bool
worker_mailbox(struct worker *w, uint64_t now)
{
	struct worker *heirs[CONFIG_MAX_WORKERS];
	struct tcp_conn *adopt, *next;
	struct pool_export exp;
	uint16_t ports[CONFIG_MAX_PORTS];
	size_t nheirs = 0;
	bool changed, retire, stop;

	/*
	 * Connections handed over by a retiring worker are adopted first,
	 * so that the state below (access rules, exit command, transform,
	 * drain) applies to them as to our own: a reload that shrinks the
	 * pool and denies their clients arrives with them.
	 */
	pthread_mutex_lock(&w->mu);
	adopt = w->adopt;
	w->adopt = NULL;
	if (w->imported != NULL) {
		/* A successor's, imported before we started: not polled
		 * yet, so the order with adopt does not matter. */
		for (next = w->imported; tcp_conn_next_detached(next) != NULL;
		    next = tcp_conn_next_detached(next))
			;
		tcp_conn_link_detached(next, adopt);
		adopt = w->imported;
		w->imported = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	for (; adopt != NULL; adopt = next) {
		next = tcp_conn_next_detached(adopt);
		(void)tcp_adopt(w->tcp, adopt);
	}

	pthread_mutex_lock(&w->mu);
	changed = w->gen != w->applied;
	if (changed && w->freeze && !w->frozen) {
		worker_freeze(w, &exp);
		w->exp = exp;
	} else if (changed && !w->freeze && w->frozen)
		worker_thaw(w);
	if (changed) {
		tcp_engine_configure(w->tcp, &w->cf);
		tcp_engine_rules(w->tcp, w->rules);
		udp_engine_rules(w->udp, w->rules);
		udp_engine_configure(w->udp, &w->cf);
		tcp_set_lame_duck(w->tcp, w->lame_duck && !w->drain);
		w->cur = w->set;
		if (w->drain && !w->draining) {
			if (w->drain_deadline > now)
				worker_empty_queues(w);
			w->draining = true;
			/* (drain_timeout = 0: no time to serve them.) */
			w->accept_until = now + TCP_DRAIN_TICK_MS;
			if (w->accept_until > w->drain_deadline)
				w->accept_until = w->drain_deadline;
			w->deadline = w->drain_deadline;
			w->drain_tick_at = now + TCP_DRAIN_TICK_MS;
			tcp_drain(w->tcp,
			    (time_t)((w->deadline + 999) / 1000));
		}
		w->applied = w->gen;
	}
	retire = w->retire;
	stop = w->stop_now;
	if (retire) {
		nheirs = w->nheirs;
		memcpy(heirs, w->heirs, nheirs * sizeof(heirs[0]));
	}
	pthread_mutex_unlock(&w->mu);

	if (changed) {
		if (w->cur != NULL)
			udp_engine_ports(w->udp, ports, listen_udp_ports(w->cur,
			    ports, CONFIG_MAX_PORTS));
		worker_sync_listeners(w, now);
		atomic_store(&w->acked, w->applied);
		poke(w->pool->wake_fd);
	}
	if (stop) {
		tcp_close_all(w->tcp);
		return false;
	}
	if (retire) {
		w->cur = NULL;
		worker_sync_listeners(w, now);
		if (nheirs > 0)
			worker_hand_over(w, heirs, nheirs);
		else
			tcp_close_all(w->tcp);
		return false;
	}
	return true;
}

static void
worker_dispatch(struct worker *w, struct epoll_event *ev, uint64_t now,
    bool *mail)
{
	struct evsrc *src = ev->data.ptr;
	eventfd_t v;

	switch (src->kind) {
	case EV_WAKE:
		(void)eventfd_read(w->wakefd, &v);
		*mail = true;
		break;
	case EV_TCP_LISTEN:
		if (tcp_accept(w->tcp, ((struct listener *)(void *)src)->fd) ==
		    TCP_ACCEPT_BACKOFF) {
			w->paused_until = now + BACKOFF_MS;
			worker_sync_listeners(w, now);
		}
		break;
	case EV_UDP:
		udp_serve(w->udp, (struct listener *)(void *)src);
		break;
	case EV_TCP_CONN:
		(void)tcp_conn_event(w->tcp, (struct tcp_conn *)(void *)src,
		    ev->events);
		break;
	default:
		break;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_MAX];
	uint64_t now = worker_now_ms();
	char name[16];
	int i, n, timeout;
	bool mail = true, paused;

	/* "upcased-w3" in top -H, ps -L and /proc/PID/task/TID/comm. */
	snprintf(name, sizeof(name), "upcased-w%u", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	for (;;) {
		atomic_store_explicit(&w->heartbeat, now,
		    memory_order_relaxed);
		tcp_engine_clock_ms(w->tcp, now);
		if (mail && !worker_mailbox(w, now))
			break;
		mail = false;
		if (w->draining && now >= w->deadline)
			tcp_close_all(w->tcp);
		if (w->draining && !atomic_load(&w->released) &&
		    now >= w->accept_until)
			worker_release(w, now);
		if (w->draining && tcp_count(w->tcp) == 0 &&
		    atomic_load(&w->released))
			break;
		paused = w->paused_until != 0;
		timeout = (int)w->pool->tick_ms;
		if (paused && w->paused_until - now < (uint64_t)timeout)
			timeout = (int)(w->paused_until - now);
		if (w->draining && TCP_DRAIN_TICK_MS < timeout)
			timeout = TCP_DRAIN_TICK_MS;
		if (w->draining && w->deadline - now < (uint64_t)timeout)
			timeout = (int)(w->deadline - now);
		if (w->draining && !atomic_load(&w->released) &&
		    w->accept_until - now < (uint64_t)timeout)
			timeout = (int)(w->accept_until - now);
		n = epoll_wait(w->epfd, evs, EVENTS_MAX, timeout);
		if (n == -1 && errno != EINTR)
			log_warn("worker %u: epoll_wait", w->id);
		now = worker_now_ms();
		tcp_engine_clock_ms(w->tcp, now);
		udp_engine_clock(w->udp, now);
		for (i = 0; i < n; i++)
			worker_dispatch(w, &evs[i], now, &mail);
		(void)tcp_sweep(w->tcp);
		if (w->draining && now >= w->drain_tick_at) {
			tcp_drain_tick(w->tcp);
			w->drain_tick_at = now + TCP_DRAIN_TICK_MS;
		}
		if (paused && now >= w->paused_until) {
			w->paused_until = 0;
			worker_sync_listeners(w, now);
		}
	}
	atomic_store(&w->exited, true);
	poke(w->pool->wake_fd);
	return NULL;
}

/* --- the pool (main thread) ------------------------------------------- */

static void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	tcp_engine_free(w->tcp);
	udp_engine_free(w->udp);
	if (w->epfd != -1)
		close(w->epfd);
	if (w->wakefd != -1)
		close(w->wakefd);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static struct worker *
worker_new(struct pool *p, unsigned id)
{
	struct epoll_event ev;
	struct worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->pool = p;
	w->id = id;
	w->wake_ev.kind = EV_WAKE;
	w->wakefd = -1;
	pthread_mutex_init(&w->mu, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd == -1 || w->wakefd == -1)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.ptr = &w->wake_ev;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) == -1)
		goto fail;
	w->tcp = tcp_engine_new(w->epfd, p->adm, &w->st);
	w->udp = udp_engine_new(&w->st);
	if (w->tcp == NULL || w->udp == NULL)
		goto fail;
	atomic_store(&w->heartbeat, worker_now_ms());
	return w;
fail:
	log_warn("worker %u", id);
	worker_free(w);
	return NULL;
}

/* Put the pool's current state in w's mailbox. */
static void
pool_post(struct pool *p, struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->gen = p->gen;
	config_copy(&w->cf, &p->cf);
	w->set = p->set;
	w->rules = p->rules;
	pthread_mutex_unlock(&w->mu);
	poke(w->wakefd);
}

static int
pool_spawn(struct pool *p)
{
	struct worker *w;
	int rc;

	if ((w = worker_new(p, (unsigned)p->n)) == NULL)
		return -1;
	pool_post(p, w);
	/* Workers inherit the main thread's signal mask: all blocked. */
	if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		errno = rc;
		log_warn("pthread_create");
		worker_free(w);
		return -1;
	}
	p->w[p->n++] = w;
	return 0;
}

static void
pool_join(struct pool *p, struct worker *w)
{
	pthread_join(w->thread, NULL);
	stats_sum(&p->past, &w->st);
	worker_free(w);
}

/* Retire the last worker; its connections go to the others. */
static void
pool_retire_one(struct pool *p)
{
	struct worker *w = p->w[--p->n];

	pthread_mutex_lock(&w->mu);
	w->retire = true;
	w->nheirs = p->n;
	memcpy(w->heirs, p->w, p->n * sizeof(p->w[0]));
	pthread_mutex_unlock(&w->mu);
	poke(w->wakefd);
	/* Handing over is quick (no I/O); waiting keeps heirs alive. */
	pool_join(p, w);
}

struct pool *
pool_new(int wake_fd, unsigned tick_ms)
{
	struct pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->adm = admit_new()) == NULL) {
		free(p);
		return NULL;
	}
	p->wake_fd = wake_fd;
	p->tick_ms = tick_ms > 0 ? tick_ms : 1000;
	return p;
}

/* Keep the rules being replaced until every worker took the new ones. */
static void
pool_retire_rules(struct pool *p)
{
	struct admit_rules **o;

	if (p->rules == NULL)
		return;
	o = reallocarray(p->old_rules, p->nold_rules + 1, sizeof(*o));
	if (o == NULL) {
		/* Out of memory: leak them rather than free them in use. */
		log_warnx("out of memory: the old rules stay allocated");
		p->rules = NULL;
		return;
	}
	p->old_rules = o;
	p->old_rules[p->nold_rules++] = p->rules;
	p->rules = NULL;
}

static void
pool_free_old_rules(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->nold_rules; i++)
		admit_rules_free(p->old_rules[i]);
	free(p->old_rules);
	p->old_rules = NULL;
	p->nold_rules = 0;
}

int
pool_apply(struct pool *p, const struct config *cf,
    const struct listener_set *set, struct admit_rules *rules)
{
	unsigned want = config_effective_workers(cf);
	size_t i;

	if (p->draining) {
		admit_rules_free(rules);
		return 0;
	}
	pool_retire_rules(p);
	p->rules = rules;
	p->gen++;
	config_copy(&p->cf, cf);
	p->set = set;
	admit_configure(p->adm, cf);
	while (p->n > want && p->n > 1)
		pool_retire_one(p);
	for (i = 0; i < p->n; i++)
		pool_post(p, p->w[i]);
	while (p->n < want)
		if (pool_spawn(p) == -1)
			break;
	return p->n > 0 ? 0 : -1;
}

void
pool_set_max_connections(struct pool *p, unsigned max)
{
	admit_set_max(p->adm, max);
}

void
pool_collect(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n;) {
		if (atomic_load(&p->w[i]->exited)) {
			pool_join(p, p->w[i]);
			p->w[i] = p->w[--p->n];
		} else
			i++;
	}
	if (pool_settled(p))
		pool_free_old_rules(p);
}

bool
pool_settled(const struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (atomic_load(&p->w[i]->acked) != p->gen)
			return false;
	return true;
}

void
pool_lame_duck(struct pool *p)
{
	size_t i;

	p->gen++;
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		p->w[i]->lame_duck = true;
		pthread_mutex_unlock(&p->w[i]->mu);
		pool_post(p, p->w[i]);
	}
}

void
pool_drain(struct pool *p, unsigned timeout_s)
{
	uint64_t deadline = worker_now_ms() + (uint64_t)timeout_s * 1000;
	size_t i;

	p->draining = true;
	p->gen++;
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		p->w[i]->drain = true;
		p->w[i]->drain_deadline = deadline;
		pthread_mutex_unlock(&p->w[i]->mu);
		pool_post(p, p->w[i]);
	}
}

void
pool_stop_now(struct pool *p)
{
	size_t i;

	p->draining = true;
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		p->w[i]->stop_now = true;
		pthread_mutex_unlock(&p->w[i]->mu);
		poke(p->w[i]->wakefd);
	}
}

bool
pool_released(const struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!atomic_load(&p->w[i]->released))
			return false;
	return true;
}

bool
pool_done(const struct pool *p)
{
	return p->n == 0;
}

unsigned
pool_size(const struct pool *p)
{
	return (unsigned)p->n;
}

void
pool_stats(struct pool *p, struct stats_snapshot *out)
{
	size_t i;

	*out = p->past;
	for (i = 0; i < p->n; i++)
		stats_sum(out, &p->w[i]->st);
	out->conns_open = atomic_load_explicit(&p->adm->open,
	    memory_order_relaxed);
}

bool
pool_alive(const struct pool *p, uint64_t max_age_ms)
{
	uint64_t now = worker_now_ms();
	size_t i;

	for (i = 0; i < p->n; i++)
		if (now - atomic_load_explicit(&p->w[i]->heartbeat,
		    memory_order_relaxed) > max_age_ms)
			return false;
	return true;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pool_stop_now(p);
	while (p->n > 0)
		pool_join(p, p->w[--p->n]);
	admit_free(p->adm);
	pool_free_old_rules(p);
	admit_rules_free(p->rules);
	free(p);
}

/* --- the hand-over (main thread) -------------------------------------- */

static void
pool_set_freeze(struct pool *p, bool on)
{
	size_t i;

	p->gen++;
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		p->w[i]->freeze = on;
		pthread_mutex_unlock(&p->w[i]->mu);
		pool_post(p, p->w[i]);
	}
}

void
pool_freeze(struct pool *p)
{
	pool_set_freeze(p, true);
}

void
pool_thaw(struct pool *p)
{
	size_t i;

	/* Records not taken (a failed export) are dropped here. */
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		free(p->w[i]->exp.buf);
		free(p->w[i]->exp.fds);
		memset(&p->w[i]->exp, 0, sizeof(p->w[i]->exp));
		pthread_mutex_unlock(&p->w[i]->mu);
	}
	pool_set_freeze(p, false);
}

bool
pool_take_export(struct pool *p, struct pool_export *out)
{
	struct pool_export *e;
	uint8_t *b;
	int *fds;
	size_t i;
	bool ok = true;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i]->mu);
		e = &p->w[i]->exp;
		if (e->failed)
			ok = false;
		b = ok && e->len > 0 ? realloc(out->buf, out->len + e->len) :
		    out->buf;
		fds = ok && e->nfds > 0 ? reallocarray(out->fds,
		    out->nfds + e->nfds, sizeof(*fds)) : out->fds;
		if (b != NULL)
			out->buf = b;
		if (fds != NULL)
			out->fds = fds;
		if (ok && ((e->len > 0 && b == NULL) ||
		    (e->nfds > 0 && fds == NULL)))
			ok = false;
		if (ok) {
			if (e->len > 0)
				memcpy(out->buf + out->len, e->buf, e->len);
			if (e->nfds > 0)
				memcpy(out->fds + out->nfds, e->fds,
				    e->nfds * sizeof(*fds));
			out->len += e->len;
			out->nfds += e->nfds;
		}
		free(e->buf);
		free(e->fds);
		memset(e, 0, sizeof(*e));
		pthread_mutex_unlock(&p->w[i]->mu);
	}
	if (!ok) {
		free(out->buf);
		free(out->fds);
		memset(out, 0, sizeof(*out));
	}
	return ok;
}

struct srclimit *
pool_sources(struct pool *p)
{
	return p->adm->per_source;
}

struct tcp_engine *
pool_import_engine(struct pool *p, int epfd, struct stats *st)
{
	return tcp_engine_new(epfd, p->adm, st);
}

void
pool_give(struct pool *p, struct tcp_conn *list)
{
	struct tcp_conn *c, *next;
	struct worker *w;
	size_t k = 0;

	if (p->n == 0)
		return;
	for (c = list; c != NULL; c = next) {
		next = tcp_conn_next_detached(c);
		w = p->w[k++ % p->n];
		pthread_mutex_lock(&w->mu);
		tcp_conn_link_detached(c, w->imported);
		w->imported = c;
		pthread_mutex_unlock(&w->mu);
	}
	for (k = 0; k < p->n; k++)
		poke(p->w[k]->wakefd);
}

void
pool_set_past(struct pool *p, const struct stats_snapshot *past)
{
	p->past = *past;
}
