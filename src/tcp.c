/*
 * tcp.c - the TCP connections of one worker.
 *
 * A connection costs one small struct and no buffer while it is idle: it
 * reads into the worker's scratch buffer, uppercases in place, and writes
 * straight back.  Only what the kernel would not take is copied into a
 * per-connection output buffer, which is freed as soon as it drains.
 * While output is pending the connection reads at most up to
 * max_pending_output, then stops reading until the client catches up:
 * a client that never reads costs at most that much memory.
 *
 * Closing follows one rule: we never close a socket that may still have
 * unread input, because the kernel then answers with a reset that can
 * destroy replies the client has not read yet.  After the client's FIN
 * (read returns 0) everything is answered and the socket closed at once.
 * After the exit line, or when the daemon stops, we flush, send our FIN
 * (shutdown), and discard input until the client's FIN arrives or
 * TCP_LINGER seconds pass: the "lingering close".
 *
 * A connection from a trusted balancer (proxy_protocol.from) starts in a
 * header phase: its bytes collect in a small buffer of its own, nothing
 * is answered, until proxyproto.c says the PROXY header is whole; the
 * client address in it then becomes the connection's identity (admit.c
 * moves its per-source count and judges it), the buffer is freed, and
 * what followed the header is ordinary input.  A bad or missing header,
 * or one still incomplete after proxy_protocol.timeout, closes the
 * connection with nothing answered.
 *
 * Connections sit on one of three lists, each in time order so the
 * sweeps only look at their heads: "header", in order of arrival (for
 * proxy_protocol.timeout), "active", in order of last activity (for
 * idle_timeout), and "closing", in order of our FIN (for TCP_LINGER).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "admit.h"
#include "config.h"
#include "event.h"
#include "exitmatch.h"
#include "handover.h"
#include "listen.h"
#include "log.h"
#include "proxyproto.h"
#include "stats.h"
#include "tcp.h"
#include "upcase.h"

#define ACCEPT_BATCH	64
#define HEADROOM	128	/* >= CONFIG_MAX_EXIT + 2: replayed bytes */

enum {
	TC_EOF		= 0x01,	/* client sent FIN: close once answered */
	TC_EXIT		= 0x02,	/* exit line seen: answer no more input */
	TC_LINGER	= 0x04,	/* our FIN is sent: on the closing list */
	TC_POLLIN	= 0x08,	/* what epoll watches now */
	TC_POLLOUT	= 0x10,
	TC_COUNTED	= 0x20,	/* counted per source by admit_tcp() */
	TC_FRESH	= 0x40,	/* input since the last drain tick */
	TC_HEADER	= 0x80	/* waiting for the PROXY header */
};

union conn_addr {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

/* A connection from a trusted balancer. */
struct conn_proxy {
	union conn_addr	 balancer;
	uint16_t	 len;		/* header bytes held */
	uint16_t	 cap;
	uint8_t		*buf;		/* NULL once the header is in */
};

struct outbuf {
	size_t		 off;
	size_t		 len;
	size_t		 cap;
	uint8_t		 data[];
};

struct tcp_conn {
	struct evsrc	 ev;		/* EV_TCP_CONN; must be first */
	uint8_t		 flags;
	exitmatch_state	 xs;
	int		 fd;
	struct upcase_carry carry;	/* UTF-8 cut at the end of a read */
	uint32_t	 last;		/* engine clock at last activity */
	struct tcp_conn	*prev;
	struct tcp_conn	*next;
	struct outbuf	*out;		/* NULL when nothing is pending */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	struct conn_proxy *px;		/* NULL unless through a balancer */
	union conn_addr	 peer;		/* the client: the socket's peer or
					   the PROXY header's source */
	uint32_t	 born;		/* engine ms clock at accept (for
					   the duration histogram) */
};

struct conn_list {
	struct tcp_conn	*head;
	struct tcp_conn	*tail;
};

struct tcp_engine {
	int		 epfd;
	struct admit	*adm;
	struct stats	*st;
	struct exitcmd	 exit;
	enum config_transform transform;
	size_t		 max_pending;
	unsigned	 idle_timeout;
	unsigned	 crowded_idle;
	uint32_t	 now;
	uint32_t	 now_ms;	/* the same clock in ms (wraps) */
	bool		 draining;
	bool		 lame_duck;	/* health checks fail, see tcp.h */
	uint32_t	 deadline;
	size_t		 count;
	unsigned	 pp_timeout;	/* proxy_protocol.timeout */
	const struct admit_rules *rules;
	struct conn_list header;
	struct conn_list active;
	struct conn_list closing;
	uint8_t		*scratch;	/* HEADROOM + TCP_READ_SIZE */
	uint8_t		*xbuf;		/* unicode output of a scratch */
};

#define XBUF_SIZE	UPCASE_UTF8_MAX(HEADROOM + TCP_READ_SIZE)

static bool	conn_settle(struct tcp_engine *, struct tcp_conn *);
static void	conn_close(struct tcp_engine *, struct tcp_conn *,
		    const char *);
static void	conn_proxy_fail(struct tcp_engine *, struct tcp_conn *,
		    const char *);

/* --- lists ------------------------------------------------------------ */

static void
list_push(struct conn_list *l, struct tcp_conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
list_unlink(struct conn_list *l, struct tcp_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static struct conn_list *
conn_list_of(struct tcp_engine *e, const struct tcp_conn *c)
{
	if (c->flags & TC_HEADER)
		return &e->header;
	return (c->flags & TC_LINGER) ? &e->closing : &e->active;
}

/* Activity: move to the tail of the idle order. */
static void
conn_touch(struct tcp_engine *e, struct tcp_conn *c)
{
	if (c->last == e->now || (c->flags & (TC_LINGER | TC_HEADER)))
		return;
	c->last = e->now;
	if (e->active.tail != c) {
		list_unlink(&e->active, c);
		list_push(&e->active, c);
	}
}

/* --- engine ----------------------------------------------------------- */

/* Everything of a new engine but its buffers, which e keeps. */
static void
engine_init(struct tcp_engine *e, int epfd, struct admit *adm,
    struct stats *st)
{
	uint8_t *scratch = e->scratch, *xbuf = e->xbuf;

	memset(e, 0, sizeof(*e));
	e->scratch = scratch;
	e->xbuf = xbuf;
	e->epfd = epfd;
	e->adm = adm;
	e->st = st;
	e->max_pending = CONFIG_DEF_MAX_PENDING;
	e->idle_timeout = CONFIG_DEF_IDLE_TIMEOUT;
	e->crowded_idle = CONFIG_DEF_CROWDED_IDLE;
	e->pp_timeout = CONFIG_DEF_PROXY_TIMEOUT;
	exitcmd_init(&e->exit, CONFIG_DEF_EXIT);
}

struct tcp_engine *
tcp_engine_new(int epfd, struct admit *adm, struct stats *st)
{
	struct tcp_engine *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->scratch = malloc(HEADROOM + TCP_READ_SIZE);
	e->xbuf = malloc(XBUF_SIZE);
	if (e->scratch == NULL || e->xbuf == NULL) {
		free(e->scratch);
		free(e->xbuf);
		free(e);
		return NULL;
	}
	engine_init(e, epfd, adm, st);
	return e;
}

/*
 * As tcp_engine_free() then tcp_engine_new(), without giving back and
 * taking again the buffers: their bytes are wiped, so nothing of what
 * the engine did before can show through.
 */
void
tcp_engine_reset(struct tcp_engine *e, int epfd, struct admit *adm,
    struct stats *st)
{
	tcp_close_all(e);
	memset(e->scratch, 0, HEADROOM + TCP_READ_SIZE);
	memset(e->xbuf, 0, XBUF_SIZE);
	engine_init(e, epfd, adm, st);
}

void
tcp_engine_free(struct tcp_engine *e)
{
	if (e == NULL)
		return;
	tcp_close_all(e);
	free(e->scratch);
	free(e->xbuf);
	free(e);
}

static bool	conn_replay(struct tcp_engine *, struct tcp_conn *,
		    const struct exitcmd *, size_t, bool);
static bool	conn_send(struct tcp_engine *, struct tcp_conn *,
		    const uint8_t *, size_t);

/* Switching to "ascii": send what is carried of a cut UTF-8 character
 * as it is, since the ASCII transform carries nothing. */
static void
engine_flush_carries(struct tcp_engine *e)
{
	struct tcp_conn *c, *nc;
	uint8_t buf[4];
	size_t n;

	for (c = e->active.head; c != NULL; c = nc) {
		nc = c->next;
		if (c->carry.len == 0)
			continue;
		n = upcase_utf8_flush(buf, &c->carry);
		if (conn_send(e, c, buf, n))
			(void)conn_settle(e, c);
	}
}

void
tcp_engine_configure(struct tcp_engine *e, const struct config *cf)
{
	struct exitcmd next, old;
	struct tcp_conn *c, *nc;

	e->max_pending = cf->max_pending_output;
	e->idle_timeout = cf->idle_timeout;
	e->crowded_idle = cf->crowded_idle_timeout;
	e->pp_timeout = cf->proxy_timeout;
	exitcmd_init(&next, cf->exit_command);
	if (next.len != e->exit.len ||
	    memcmp(next.text, e->exit.text, next.len) != 0) {
		old = e->exit;
		e->exit = next;
		/*
		 * A line held back as a possible old command is decided now:
		 * it is not the command, and its held bytes are sent from
		 * the old text.  (Held counts index "command\r" and mean
		 * nothing for another command.)
		 */
		for (c = e->active.head; c != NULL; c = nc) {
			nc = c->next;
			if (c->xs > 0 && conn_replay(e, c, &old,
			    exitmatch_release(&c->xs), false))
				(void)conn_settle(e, c);
		}
	}
	if (cf->transform != e->transform &&
	    cf->transform == CONFIG_TRANSFORM_ASCII)
		engine_flush_carries(e);
	e->transform = cf->transform;
}

/*
 * New rules (a reload): an open connection whose client they deny is
 * closed now, and counted as closed (closed_denied), not refused: it
 * was admitted.  (One still waiting for its PROXY header is judged, and
 * refused, when the header names the client; one closing is let
 * finish.)
 */
void
tcp_engine_rules(struct tcp_engine *e, const struct admit_rules *r)
{
	struct tcp_conn *c, *next;

	if (r == e->rules)
		return;
	e->rules = r;
	if (r == NULL || r->access == NULL)
		return;
	for (c = e->active.head; c != NULL; c = next) {
		next = c->next;
		if (admit_rejudge(e->adm, r, e->st, &c->peer.sa, e->now) !=
		    ADMIT_OK)
			conn_close(e, c, "denied by the new access rules");
	}
}

void
tcp_engine_clock(struct tcp_engine *e, time_t now)
{
	tcp_engine_clock_ms(e, (uint64_t)now * 1000);
}

void
tcp_engine_clock_ms(struct tcp_engine *e, uint64_t now_ms)
{
	e->now = (uint32_t)(now_ms / 1000);
	e->now_ms = (uint32_t)now_ms;
}

void
tcp_set_lame_duck(struct tcp_engine *e, bool on)
{
	e->lame_duck = on;
}

bool
tcp_lame_duck(const struct tcp_engine *e)
{
	return e->lame_duck;
}

size_t
tcp_count(const struct tcp_engine *e)
{
	return e->count;
}

/* --- closing ---------------------------------------------------------- */

/*
 * The debug log names a connection by its client (UPCASED_PEER) and, once
 * a PROXY header replaced the balancer's address, the balancer
 * (UPCASED_PROXY).  who: " via BALANCER" or "", for the message.
 */
struct conn_names {
	char		 who[ADDR_STRLEN + 8];
	char		 peer[ADDR_STRLEN];
	char		 f_peer[ADDR_STRLEN + 16];
	char		 f_proxy[ADDR_STRLEN + 16];
};

static size_t
conn_name(const struct tcp_conn *c, struct conn_names *n,
    const char **fields)
{
	char bal[ADDR_STRLEN];
	size_t k = 0;

	addr_format(&c->peer.sa, n->peer, sizeof(n->peer));
	snprintf(n->f_peer, sizeof(n->f_peer), "UPCASED_PEER=%s", n->peer);
	fields[k++] = "UPCASED_PROTOCOL=tcp";
	fields[k++] = n->f_peer;
	n->who[0] = '\0';
	if (c->px != NULL && !(c->flags & TC_HEADER)) {
		addr_format(&c->px->balancer.sa, bal, sizeof(bal));
		snprintf(n->f_proxy, sizeof(n->f_proxy), "UPCASED_PROXY=%s",
		    bal);
		snprintf(n->who, sizeof(n->who), " via %s", bal);
		fields[k++] = n->f_proxy;
	}
	return k;
}

static void
conn_log_close(const struct tcp_conn *c, const char *why)
{
	struct conn_names nm;
	char f2[40], f3[40];
	const char *fields[6];
	size_t k;

	if (!log_enabled(LOG_DEBUG))
		return;
	k = conn_name(c, &nm, fields);
	snprintf(f2, sizeof(f2), "UPCASED_BYTES_IN=%llu",
	    (unsigned long long)c->bytes_in);
	snprintf(f3, sizeof(f3), "UPCASED_BYTES_OUT=%llu",
	    (unsigned long long)c->bytes_out);
	fields[k++] = f2;
	fields[k++] = f3;
	fields[k] = NULL;
	log_event(LOG_DEBUG, NULL, fields,
	    "connection from %s%s closed (%s): %llu bytes in, %llu out",
	    nm.peer, nm.who, why, (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out);
}

/*
 * served: c was admitted (counted in conns_total), so its life goes into
 * the duration histogram; a connection refused before or after its PROXY
 * header was never served.
 */
static void
conn_end(struct tcp_engine *e, struct tcp_conn *c, const char *why,
    bool served)
{
	if (served)
		stats_closed(e->st, (uint32_t)(e->now_ms - c->born));
	conn_log_close(c, why);
	admit_tcp_close(e->adm, &c->peer.sa, (c->flags & TC_COUNTED) != 0);
	list_unlink(conn_list_of(e, c), c);
	/*
	 * close() takes fd out of the epoll set only if no other
	 * descriptor holds the socket, and the configuration parser's child
	 * (confchild.c, forked on a reload) holds a copy of each for a
	 * while: epoll would go on reporting the freed c.
	 */
	(void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->out != NULL)
		stats_sub(&e->st->pending_out, c->out->len);
	free(c->out);
	if (c->px != NULL)
		free(c->px->buf);
	free(c->px);
	free(c);
	e->count--;
}

static void
conn_close(struct tcp_engine *e, struct tcp_conn *c, const char *why)
{
	conn_end(e, c, why, !(c->flags & TC_HEADER));
}

/* Refused once its PROXY header named the client: never served. */
static void
conn_refuse(struct tcp_engine *e, struct tcp_conn *c, const char *why)
{
	conn_end(e, c, why, false);
}

void
tcp_close_all(struct tcp_engine *e)
{
	while (e->header.head != NULL)
		conn_close(e, e->header.head, "stopped");
	while (e->active.head != NULL)
		conn_close(e, e->active.head, "stopped");
	while (e->closing.head != NULL)
		conn_close(e, e->closing.head, "stopped");
}

/*
 * Our FIN: nothing more will be sent.  Input is still read (and thrown
 * away) until the client's FIN, so no reset can overtake our replies.
 */
static bool
conn_linger(struct tcp_engine *e, struct tcp_conn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(e, c, "shutdown failed");
		return false;
	}
	list_unlink(&e->active, c);
	c->flags |= TC_LINGER;
	c->last = e->now;
	list_push(&e->closing, c);
	return true;
}

size_t
tcp_sweep(struct tcp_engine *e)
{
	size_t n = 0;
	struct tcp_conn *c;

	if (e->draining && e->now >= e->deadline) {
		n = e->count;
		tcp_close_all(e);
		return n;
	}
	/*
	 * The clock counts whole seconds, so "more than" makes a timeout of
	 * T seconds fire after T to T+1 seconds, never before T.
	 */
	while ((c = e->header.head) != NULL &&
	    e->now - c->last > e->pp_timeout) {
		conn_proxy_fail(e, c, "header not complete within "
		    "proxy_protocol.timeout");
		n++;
	}
	while ((c = e->closing.head) != NULL &&
	    e->now - c->last > TCP_LINGER) {
		conn_close(e, c, "closed");
		n++;
	}
	/*
	 * Crowded (ADMIT_CROWDED_PERCENT of max_connections open): the
	 * connections idle longest go first, after crowded_idle_timeout
	 * rather than idle_timeout, so clients that hold connections open
	 * with a byte now and then cannot lock others out.
	 */
	if (admit_crowded(e->adm))
		while ((c = e->active.head) != NULL &&
		    e->now - c->last > e->crowded_idle) {
			conn_close(e, c, "idle while crowded");
			n++;
		}
	if (e->idle_timeout == 0)
		return n;
	while ((c = e->active.head) != NULL &&
	    e->now - c->last > e->idle_timeout) {
		conn_close(e, c, "idle timeout");
		n++;
	}
	return n;
}

/* --- output ----------------------------------------------------------- */

/* Rate limits of the engine's own warnings, over all workers. */
static _Atomic uint64_t fd_warned;
static _Atomic uint64_t oom_warned;

/* Out of memory: the affected connection goes, the others go on. */
static void
warn_oom(struct tcp_engine *e, const char *what)
{
	if (log_due(&oom_warned, (uint64_t)e->now + 1))
		log_warnx("out of memory for %s (this warning is repeated "
		    "at most every %d s)", what, LOG_REPEAT_INTERVAL);
}

size_t
tcp_conn_pending(const struct tcp_conn *c)
{
	return c->out != NULL ? c->out->len : 0;
}

static bool
conn_can_read(const struct tcp_engine *e, const struct tcp_conn *c)
{
	if (c->flags & TC_LINGER)
		return true;		/* to see the client's FIN */
	if (c->flags & (TC_EOF | TC_EXIT))
		return false;
	return tcp_conn_pending(c) < e->max_pending;
}

bool
tcp_conn_reading(const struct tcp_conn *c)
{
	return (c->flags & TC_POLLIN) != 0;
}

const struct sockaddr *
tcp_conn_peer(const struct tcp_conn *c)
{
	return &c->peer.sa;
}

/* Tell epoll what c waits for now, if that changed. */
static bool
conn_poll(struct tcp_engine *e, struct tcp_conn *c, int op)
{
	struct epoll_event ev;
	uint8_t want = 0;

	if (conn_can_read(e, c))
		want |= TC_POLLIN;
	if (tcp_conn_pending(c) > 0)
		want |= TC_POLLOUT;
	if (op == EPOLL_CTL_MOD &&
	    want == (c->flags & (TC_POLLIN | TC_POLLOUT)))
		return true;
	ev.events = ((want & TC_POLLIN) ? EPOLLIN : 0u) |
	    ((want & TC_POLLOUT) ? EPOLLOUT : 0u);
	ev.data.ptr = c;
	if (epoll_ctl(e->epfd, op, c->fd, &ev) == -1) {
		log_warn("epoll_ctl (connection)");
		return false;
	}
	c->flags = (uint8_t)((c->flags & ~(TC_POLLIN | TC_POLLOUT)) | want);
	return true;
}

/* Keep len bytes that the kernel did not take. */
static bool
conn_queue(struct tcp_engine *e, struct tcp_conn *c, const uint8_t *p,
    size_t len)
{
	struct outbuf *o = c->out, *n;
	size_t need, cap;

	if (o != NULL && o->off + o->len + len > o->cap && o->off > 0) {
		memmove(o->data, o->data + o->off, o->len);
		o->off = 0;
	}
	need = (o != NULL ? o->len : 0) + len;
	if (o == NULL || o->off + need > o->cap) {
		cap = o != NULL ? o->cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		if ((n = realloc(o, sizeof(*n) + cap)) == NULL)
			return false;
		if (o == NULL)
			n->off = n->len = 0;
		n->cap = cap;
		c->out = o = n;
	}
	memcpy(o->data + o->off + o->len, p, len);
	o->len += len;
	stats_add(&e->st->pending_out, len);
	return true;
}

static ssize_t
conn_write(struct tcp_engine *e, struct tcp_conn *c, const uint8_t *p,
    size_t len)
{
	ssize_t n;

	do {
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	c->bytes_out += (uint64_t)n;
	stats_add(&e->st->tcp_bytes_out, (uint64_t)n);
	return n;
}

/* Send p, or queue what does not go out now behind what is queued. */
static bool
conn_send(struct tcp_engine *e, struct tcp_conn *c, const uint8_t *p,
    size_t len)
{
	ssize_t n = 0;

	if (len == 0)
		return true;
	if (c->out == NULL && (n = conn_write(e, c, p, len)) == -1) {
		conn_close(e, c, "write error");
		return false;
	}
	if ((size_t)n < len && !conn_queue(e, c, p + n, len - (size_t)n)) {
		warn_oom(e, "a connection's output: closing it");
		conn_close(e, c, "out of memory");
		return false;
	}
	return true;
}

static bool
conn_flush(struct tcp_engine *e, struct tcp_conn *c)
{
	struct outbuf *o = c->out;
	ssize_t n;

	while (o->len > 0) {
		n = conn_write(e, c, o->data + o->off, o->len);
		if (n == -1) {
			conn_close(e, c, "write error");
			return false;
		}
		if (n == 0)
			break;
		o->off += (size_t)n;
		o->len -= (size_t)n;
		stats_sub(&e->st->pending_out, (uint64_t)n);
		conn_touch(e, c);
	}
	if (o->len == 0) {
		free(o);		/* an idle connection holds no buffer */
		c->out = NULL;
	}
	return true;
}

/* --- input ------------------------------------------------------------ */

/*
 * Uppercase p[0..n) (in place for "ascii", and for "unicode" on ASCII;
 * into xbuf for other UTF-8) and send it.  final: the stream ends here,
 * so a UTF-8 character still cut goes out as it is.
 */
static bool
conn_emit(struct tcp_engine *e, struct tcp_conn *c, uint8_t *p, size_t n,
    bool final)
{
	const uint8_t *out;
	size_t len;

	if (e->transform == CONFIG_TRANSFORM_ASCII) {
		upcase_ascii(p, p, n);
		return conn_send(e, c, p, n);
	}
	out = upcase_utf8_inplace(e->xbuf, p, n, &c->carry, &len);
	if (final && c->carry.len > 0)	/* then out is xbuf */
		len += upcase_utf8_flush(e->xbuf + len, &c->carry);
	return conn_send(e, c, out, len);
}

/* Send held bytes of the exit command that turned out not to be it. */
static bool
conn_replay(struct tcp_engine *e, struct tcp_conn *c,
    const struct exitcmd *cmd, size_t n, bool final)
{
	uint8_t buf[HEADROOM];

	memcpy(buf, cmd->text, n);
	return conn_emit(e, c, buf, n, final);
}

static bool
conn_eof(struct tcp_engine *e, struct tcp_conn *c)
{
	if (c->flags & TC_HEADER) {
		conn_proxy_fail(e, c, c->px->len == 0 ? "no PROXY header" :
		    "closed within the PROXY header");
		return false;
	}
	c->flags |= TC_EOF;
	if (c->flags & TC_LINGER) {
		conn_close(e, c, "closed");
		return false;
	}
	/* An unfinished last line is not the exit command: answer it. */
	if (!conn_replay(e, c, &e->exit, exitmatch_release(&c->xs), true))
		return false;
	return true;
}

/* Answer n bytes of input at in (with HEADROOM bytes free before it). */
static bool
conn_input(struct tcp_engine *e, struct tcp_conn *c, uint8_t *in, size_t n)
{
	struct exitmatch_step step;
	uint8_t *out;

	conn_touch(e, c);
	c->flags |= TC_FRESH;
	step = exitmatch_feed(&e->exit, &c->xs, in, n);
	out = in - step.replay;
	memcpy(out, e->exit.text, step.replay);
	if (step.matched)
		c->flags |= TC_EXIT;
	return conn_emit(e, c, out, step.replay + step.emit, step.matched);
}

/* --- the PROXY header ------------------------------------------------- */

/* Out of the header phase, onto the active list; while stopping, with a
 * drain tick to speak, like a connection accepted while stopping. */
static void
conn_header_done(struct tcp_engine *e, struct tcp_conn *c)
{
	free(c->px->buf);
	c->px->buf = NULL;
	list_unlink(&e->header, c);
	c->flags &= (uint8_t)~TC_HEADER;
	if (e->draining)
		c->flags |= TC_FRESH;
	c->last = e->now;
	list_push(&e->active, c);
}

/* Nothing answered, counted, warned about (naming the balancer). */
static void
conn_proxy_fail(struct tcp_engine *e, struct tcp_conn *c, const char *why)
{
	admit_proxy_error(e->adm, e->st, &c->peer.sa, why, e->now);
	conn_close(e, c, why);
}

static void
conn_log_proxied(const struct tcp_conn *c, int version)
{
	struct conn_names nm;
	const char *fields[5];

	if (!log_enabled(LOG_DEBUG))
		return;
	fields[conn_name(c, &nm, fields)] = NULL;
	log_event(LOG_DEBUG, NULL, fields, "connection from %s%s (PROXY v%d)",
	    nm.peer, nm.who, version);
}

/* The client is known: may it in?  False if c was closed. */
static bool
conn_judge(struct tcp_engine *e, struct tcp_conn *c)
{
	enum admit_verdict v;

	v = admit_judge(e->adm, e->rules, e->st, &c->peer.sa, e->now);
	if (v == ADMIT_OK) {
		stats_add(&e->st->conns_total, 1);
		return true;
	}
	conn_refuse(e, c, v == ADMIT_DENIED ? "denied" : "refused");
	return false;
}

/*
 * The header is whole: the client it names becomes the connection's
 * identity (LOCAL and UNKNOWN keep the balancer's), and admission judges
 * that.  False if c was closed.
 */
static bool
conn_identify(struct tcp_engine *e, struct tcp_conn *c,
    const struct proxyproto_header *h)
{
	enum admit_verdict v;
	bool counted = (c->flags & TC_COUNTED) != 0;

	conn_header_done(e, c);
	if (h->local && e->lame_duck) {
		/*
		 * A balancer's health check while we stop: let it fail, so
		 * the balancer takes us out of rotation (tcp.h).
		 */
		stats_add(&e->st->lame_checks, 1);
		conn_refuse(e, c, "health check failed on purpose: lame duck");
		return false;
	}
	if (h->local || (h->src.ss_family != AF_INET &&
	    h->src.ss_family != AF_INET6)) {
		free(c->px);
		c->px = NULL;
		conn_log_proxied(c, h->version);
		return conn_judge(e, c);
	}
	c->px->balancer = c->peer;
	memset(&c->peer, 0, sizeof(c->peer));
	memcpy(&c->peer, &h->src, h->src.ss_family == AF_INET ?
	    sizeof(c->peer.in) : sizeof(c->peer.in6));
	v = admit_tcp_move(e->adm, e->st, &c->px->balancer.sa, &c->peer.sa,
	    e->now, &counted);
	c->flags = (uint8_t)((c->flags & ~TC_COUNTED) |
	    (counted ? TC_COUNTED : 0));
	conn_log_proxied(c, h->version);
	if (v != ADMIT_OK) {
		conn_refuse(e, c, "refused");
		return false;
	}
	return conn_judge(e, c);
}

/* Room for len header bytes: the buffer grows to PROXYPROTO_MAX. */
static bool
conn_header_room(struct conn_proxy *px, size_t len)
{
	size_t cap = px->cap;
	uint8_t *b;

	if (px->buf != NULL && len <= cap)
		return true;
	while (cap < len)
		cap *= 2;
	if (cap > PROXYPROTO_MAX)
		cap = PROXYPROTO_MAX;
	if ((b = realloc(px->buf, cap)) == NULL)
		return false;
	px->buf = b;
	px->cap = (uint16_t)cap;
	return true;
}

/* n bytes of payload received (a PROXY header is not payload). */
static void
conn_count_in(struct tcp_engine *e, struct tcp_conn *c, size_t n)
{
	c->bytes_in += (uint64_t)n;
	stats_add(&e->st->tcp_bytes_in, (uint64_t)n);
}

/*
 * n more bytes at in of a connection still in its header phase.  The
 * parse starts over on all bytes held (it is stateless), and the bytes
 * past the header's end are input, answered as usual.
 */
static bool
conn_header(struct tcp_engine *e, struct tcp_conn *c, uint8_t *in, size_t n)
{
	struct conn_proxy *px = c->px;
	struct proxyproto_header h;
	enum proxyproto_result r;
	const char *why = "bad PROXY header";
	size_t had = px->len, take = n, skip;

	if (take > PROXYPROTO_MAX - had)
		take = PROXYPROTO_MAX - had;
	if (!conn_header_room(px, had + take)) {
		stats_add(&e->st->refused_oom, 1);
		warn_oom(e, "a PROXY header: closing its connection");
		conn_close(e, c, "out of memory");
		return false;
	}
	memcpy(px->buf + had, in, take);
	px->len = (uint16_t)(had + take);
	r = proxyproto_parse(px->buf, px->len, &h, &why);
	if (r == PROXYPROTO_MORE && px->len == PROXYPROTO_MAX) {
		r = PROXYPROTO_BAD;
		why = "PROXY header too long";
	}
	if (r == PROXYPROTO_MORE)
		return true;
	if (r == PROXYPROTO_BAD) {
		conn_proxy_fail(e, c, why);
		return false;
	}
	if (h.len <= had || h.len > px->len) {	/* cannot be: it said MORE */
		conn_proxy_fail(e, c, "bad PROXY header");
		return false;
	}
	skip = h.len - had;
	if (!conn_identify(e, c, &h))
		return false;
	if (n <= skip)
		return true;
	conn_count_in(e, c, n - skip);
	return conn_input(e, c, in + skip, n - skip);
}

/* --- reading ---------------------------------------------------------- */

static bool
conn_read(struct tcp_engine *e, struct tcp_conn *c)
{
	uint8_t *in = e->scratch + HEADROOM;
	size_t room = TCP_READ_SIZE, pending = tcp_conn_pending(c);
	ssize_t n;

	/*
	 * Read no more than max_pending_output may still hold if the
	 * client reads none of it, counting that "unicode" output can be
	 * 3/2 of its input.  (conn_can_read() saw pending < max_pending.)
	 */
	if (!(c->flags & TC_LINGER)) {
		room = e->max_pending - pending;
		if (e->transform == CONFIG_TRANSFORM_UNICODE)
			room = room / 3 * 2 + 1;
		if (room > TCP_READ_SIZE)
			room = TCP_READ_SIZE;
	}
	do {
		n = recv(c->fd, in, room, MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return true;
		if (c->flags & TC_HEADER)	/* ended unanswered: counted */
			conn_proxy_fail(e, c, errno == ECONNRESET ?
			    "reset before its PROXY header was whole" :
			    "read error before its PROXY header was whole");
		else
			conn_close(e, c, errno == ECONNRESET ? "reset" :
			    "read error");
		return false;
	}
	if (n == 0)
		return conn_eof(e, c);
	if (c->flags & TC_HEADER)	/* counts only what follows it */
		return conn_header(e, c, in, (size_t)n);
	conn_count_in(e, c, (size_t)n);
	if (c->flags & TC_LINGER)
		return true;		/* after our FIN: thrown away */
	return conn_input(e, c, in, (size_t)n);
}

/* Is there nothing more to answer on c right now? */
static bool
conn_quiet(struct tcp_conn *c)
{
	int avail = 0;

	if (c->out != NULL)
		return false;
	if (ioctl(c->fd, FIONREAD, &avail) == -1)
		return true;
	return avail == 0;
}

/*
 * After any event: close, linger or wait, and tell epoll which.
 * Returns false if c is gone.
 */
static bool
conn_settle(struct tcp_engine *e, struct tcp_conn *c)
{
	if (c->out == NULL && !(c->flags & TC_LINGER)) {
		if (c->flags & TC_EOF) {
			conn_close(e, c, "closed by peer");
			return false;
		}
		/*
		 * Draining: not one within its PROXY header, which is on the
		 * header list (conn_linger() takes from the active one) and
		 * has had no say yet; proxy_protocol.timeout bounds it.
		 */
		if ((c->flags & TC_EXIT) || (e->draining &&
		    !(c->flags & (TC_FRESH | TC_HEADER)) && conn_quiet(c))) {
			if (e->draining &&
			    !conn_replay(e, c, &e->exit,
			    exitmatch_release(&c->xs), true))
				return false;
			if (c->out == NULL && !conn_linger(e, c))
				return false;
		}
	}
	if (!conn_poll(e, c, EPOLL_CTL_MOD)) {
		conn_close(e, c, "epoll error");
		return false;
	}
	return true;
}

bool
tcp_conn_event(struct tcp_engine *e, struct tcp_conn *c, uint32_t events)
{
	bool err = (events & (EPOLLERR | EPOLLHUP)) != 0;

	if (c->out != NULL && ((events & EPOLLOUT) || err) &&
	    !conn_flush(e, c))
		return false;
	if ((events & EPOLLIN) || err) {
		if (conn_can_read(e, c)) {
			if (!conn_read(e, c))
				return false;
		} else if (err && c->out == NULL) {
			conn_close(e, c, "error");
			return false;
		}
	}
	return conn_settle(e, c);
}

/* --- accepting -------------------------------------------------------- */

/* ss: the peer, or NULL; trusted: from a balancer (a header first). */
static struct tcp_conn *
conn_new(struct tcp_engine *e, int fd, const struct sockaddr *sa,
    bool trusted)
{
	struct tcp_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (trusted && (c->px = calloc(1, sizeof(*c->px))) == NULL)) {
		free(c);
		warn_oom(e, "a new connection: refused");
		stats_add(&e->st->refused_oom, 1);
		close(fd);
		return NULL;
	}
	c->ev.kind = EV_TCP_CONN;
	c->fd = fd;
	c->xs = EXITMATCH_START;
	c->last = e->now;
	/* Accepted while stopping (from a queue being emptied): a drain
	 * tick to speak, like a connection that was talking at the stop. */
	if (e->draining)
		c->flags |= TC_FRESH;
	if (sa != NULL && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6))
		memcpy(&c->peer, sa, sa->sa_family == AF_INET ?
		    sizeof(c->peer.in) : sizeof(c->peer.in6));
	if (trusted) {
		c->flags |= TC_HEADER;
		c->px->cap = 128;	/* v1, or v2 without TLVs, fits */
	}
	if (!conn_poll(e, c, EPOLL_CTL_ADD)) {
		close(fd);
		free(c->px);
		free(c);
		return NULL;
	}
	list_push(conn_list_of(e, c), c);
	e->count++;
	c->born = e->now_ms;
	/* Through a balancer: admitted once its header is (conn_judge). */
	if (!trusted)
		stats_add(&e->st->conns_total, 1);
	return c;
}

struct tcp_conn *
tcp_conn_add(struct tcp_engine *e, int fd)
{
	struct tcp_conn *c;

	admit_tcp_count(e->adm);
	if ((c = conn_new(e, fd, NULL, false)) == NULL)
		admit_tcp_close(e->adm, NULL, false);
	return c;
}

static void
accept_log(const struct sockaddr *sa, bool trusted)
{
	char peer[ADDR_STRLEN], f1[ADDR_STRLEN + 16];
	const char *fields[] = { "UPCASED_PROTOCOL=tcp", f1, NULL };

	if (!log_enabled(LOG_DEBUG))
		return;
	addr_format(sa, peer, sizeof(peer));
	snprintf(f1, sizeof(f1), "UPCASED_PEER=%s", peer);
	log_event(LOG_DEBUG, NULL, fields, "connection from %s%s", peer,
	    trusted ? " (a balancer: PROXY header expected)" : "");
}

struct tcp_conn *
tcp_conn_accepted(struct tcp_engine *e, int fd, const struct sockaddr *sa)
{
	struct tcp_conn *c;
	bool counted, trusted;

	/* A balancer's client is judged once its header names it. */
	trusted = admit_proxied(e->rules, sa);
	if ((!trusted && admit_judge(e->adm, e->rules, e->st, sa, e->now) !=
	    ADMIT_OK) ||
	    admit_tcp(e->adm, e->st, sa, !trusted, e->now, &counted) !=
	    ADMIT_OK) {
		close(fd);
		return NULL;
	}
	accept_log(sa, trusted);
	if ((c = conn_new(e, fd, sa, trusted)) == NULL)
		admit_tcp_close(e->adm, sa, counted);
	else if (counted)
		c->flags |= TC_COUNTED;
	return c;
}

enum tcp_accept_result
tcp_accept(struct tcp_engine *e, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (listen_accept_error(errno)) {
			case LISTEN_ACCEPT_DRAINED:
				return TCP_ACCEPT_OK;
			case LISTEN_ACCEPT_SKIP:
				continue;
			case LISTEN_ACCEPT_BACKOFF:
				break;
			}
			if (log_due(&fd_warned, (uint64_t)e->now + 1))
				log_warn("accept (backing off; this warning "
				    "is repeated at most every %d s)",
				    LOG_REPEAT_INTERVAL);
			return TCP_ACCEPT_BACKOFF;
		}
		(void)tcp_conn_accepted(e, fd, (struct sockaddr *)&ss);
	}
	return TCP_ACCEPT_MORE;
}

/* --- stopping and moving ---------------------------------------------- */

void
tcp_drain(struct tcp_engine *e, time_t deadline)
{
	struct tcp_conn *c, *next;

	e->draining = true;
	e->deadline = (uint32_t)deadline;
	for (c = e->active.head; c != NULL; c = next) {
		next = c->next;
		/* Sent something in the last second or so: still talking. */
		if (c->last + 1 >= e->now)
			c->flags |= TC_FRESH;
		else
			c->flags &= (uint8_t)~TC_FRESH;
		(void)conn_settle(e, c);
	}
}

void
tcp_drain_tick(struct tcp_engine *e)
{
	struct tcp_conn *c, *next;

	for (c = e->active.head; c != NULL; c = next) {
		next = c->next;
		if (c->flags & TC_FRESH)
			c->flags &= (uint8_t)~TC_FRESH;
		else
			(void)conn_settle(e, c);
	}
}

struct tcp_conn *
tcp_detach_all(struct tcp_engine *e)
{
	struct tcp_conn *head = NULL, *c;
	struct conn_list *lists[] = { &e->header, &e->active, &e->closing };
	size_t i;

	for (i = 0; i < 3; i++) {
		while ((c = lists[i]->head) != NULL) {
			list_unlink(lists[i], c);
			(void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			c->flags &= (uint8_t)~(TC_POLLIN | TC_POLLOUT);
			if (c->out != NULL)	/* its queue moves with it */
				stats_sub(&e->st->pending_out, c->out->len);
			c->next = head;
			head = c;
			e->count--;
		}
	}
	return head;
}

struct tcp_conn *
tcp_conn_next_detached(struct tcp_conn *c)
{
	return c->next;
}

void
tcp_conn_link_detached(struct tcp_conn *c, struct tcp_conn *next)
{
	c->next = next;
}

bool
tcp_adopt(struct tcp_engine *e, struct tcp_conn *c)
{
	c->prev = c->next = NULL;
	c->last = e->now;
	list_push(conn_list_of(e, c), c);
	e->count++;
	if (c->out != NULL)
		stats_add(&e->st->pending_out, c->out->len);
	if (!conn_poll(e, c, EPOLL_CTL_ADD)) {
		conn_close(e, c, "epoll error");
		return false;
	}
	return true;
}

/* --- the upgrade's hand-over ------------------------------------------- */

/* Connection flags and their wire form (handover.h), one for one. */
static const struct {
	uint8_t		 tc;
	uint8_t		 wire;
} conn_flags[] = {
	{ TC_EOF,	HANDOVER_C_EOF },
	{ TC_EXIT,	HANDOVER_C_EXIT },
	{ TC_LINGER,	HANDOVER_C_LINGER },
	{ TC_COUNTED,	HANDOVER_C_COUNTED },
	{ TC_FRESH,	HANDOVER_C_FRESH },
	{ TC_HEADER,	HANDOVER_C_HEADER }
};

void
tcp_engine_export(const struct tcp_engine *e, struct handover_header *h)
{
	h->transform = (uint8_t)e->transform;
	h->exit_len = e->exit.len;
	memcpy(h->exit_text, e->exit.text, e->exit.len);
	h->exit_text[e->exit.len] = '\0';
}

void
tcp_conn_export(const struct tcp_engine *e, const struct tcp_conn *c,
    struct handover_conn *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < sizeof(conn_flags) / sizeof(conn_flags[0]); i++)
		if (c->flags & conn_flags[i].tc)
			h->flags |= conn_flags[i].wire;
	h->xs = c->xs;
	h->carry_len = c->carry.len;
	memcpy(h->carry, c->carry.b, c->carry.len);
	h->idle_s = e->now - c->last;
	h->age_ms = e->now_ms - c->born;
	h->bytes_in = c->bytes_in;
	h->bytes_out = c->bytes_out;
	memcpy(&h->peer, &c->peer, sizeof(c->peer));
	if (c->out != NULL) {
		h->out = c->out->data + c->out->off;
		h->out_len = (uint32_t)c->out->len;
	}
	if (c->px != NULL) {
		h->flags |= HANDOVER_C_PROXIED;
		if (!(c->flags & TC_HEADER))
			memcpy(&h->balancer, &c->px->balancer,
			    sizeof(c->px->balancer));
		h->hdr = c->px->buf;
		h->hdr_len = c->px->buf != NULL ? c->px->len : 0;
	}
}

/* Onto l in the order of last (the tail first: records come in order). */
static void
list_insert_by_last(struct conn_list *l, struct tcp_conn *c, uint32_t now)
{
	struct tcp_conn *at = l->tail;

	while (at != NULL && now - at->last < now - c->last)
		at = at->prev;
	if (at == NULL) {		/* the oldest: at the head */
		c->prev = NULL;
		c->next = l->head;
		if (l->head != NULL)
			l->head->prev = c;
		else
			l->tail = c;
		l->head = c;
		return;
	}
	c->prev = at;
	c->next = at->next;
	if (at->next != NULL)
		at->next->prev = c;
	else
		l->tail = c;
	at->next = c;
}

/* The PROXY state of h into c; false if out of memory. */
static bool
conn_import_proxy(struct tcp_conn *c, const struct handover_conn *h)
{
	size_t cap = 128;

	if ((c->px = calloc(1, sizeof(*c->px))) == NULL)
		return false;
	memcpy(&c->px->balancer, &h->balancer, sizeof(c->px->balancer));
	while (cap < h->hdr_len)
		cap *= 2;
	if (cap > PROXYPROTO_MAX)
		cap = PROXYPROTO_MAX;
	c->px->cap = (uint16_t)cap;
	if (h->hdr_len == 0)
		return true;
	if ((c->px->buf = malloc(cap)) == NULL)
		return false;
	memcpy(c->px->buf, h->hdr, h->hdr_len);
	c->px->len = h->hdr_len;
	return true;
}

/* The queued output of h into c; false if out of memory. */
static bool
conn_import_out(struct tcp_conn *c, const struct handover_conn *h)
{
	size_t cap = 4096;

	if (h->out_len == 0)
		return true;
	while (cap < h->out_len)
		cap *= 2;
	if ((c->out = malloc(sizeof(*c->out) + cap)) == NULL)
		return false;
	c->out->off = 0;
	c->out->len = h->out_len;
	c->out->cap = cap;
	memcpy(c->out->data, h->out, h->out_len);
	return true;
}

struct tcp_conn *
tcp_conn_import(struct tcp_engine *e, int fd, const struct handover_conn *h)
{
	struct tcp_conn *c;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->ev.kind = EV_TCP_CONN;
	c->fd = fd;
	for (i = 0; i < sizeof(conn_flags) / sizeof(conn_flags[0]); i++)
		if (h->flags & conn_flags[i].wire)
			c->flags |= conn_flags[i].tc;
	c->xs = h->xs;
	c->carry.len = h->carry_len;
	memcpy(c->carry.b, h->carry, h->carry_len);
	c->last = e->now - h->idle_s;
	c->born = e->now_ms - h->age_ms;
	c->bytes_in = h->bytes_in;
	c->bytes_out = h->bytes_out;
	memcpy(&c->peer, &h->peer, sizeof(c->peer));
	if (((h->flags & HANDOVER_C_PROXIED) && !conn_import_proxy(c, h)) ||
	    !conn_import_out(c, h)) {
		warn_oom(e, "a connection handed over: closing it");
		goto fail;
	}
	if (!conn_poll(e, c, EPOLL_CTL_ADD))
		goto fail;
	list_insert_by_last(conn_list_of(e, c), c, e->now);
	e->count++;
	admit_tcp_count(e->adm);
	/* Its source's count, as the old process had it (not its rate). */
	if ((c->flags & TC_COUNTED) && !admit_tcp_recount(e->adm, &c->peer.sa))
		c->flags &= (uint8_t)~TC_COUNTED;
	if (c->out != NULL)
		stats_add(&e->st->pending_out, c->out->len);
	return c;
fail:
	if (c != NULL) {
		if (c->px != NULL)
			free(c->px->buf);
		free(c->px);
		free(c->out);
		free(c);
	}
	close(fd);
	return NULL;
}

int
tcp_conn_fd(const struct tcp_conn *c)
{
	return c->fd;
}

void
tcp_conn_forget(struct tcp_engine *e, struct tcp_conn *c)
{
	admit_tcp_close(e->adm, &c->peer.sa, (c->flags & TC_COUNTED) != 0);
	close(c->fd);
	free(c->out);
	if (c->px != NULL)
		free(c->px->buf);
	free(c->px);
	free(c);
}
