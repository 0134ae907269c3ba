/*
 * fuzz_tcp.c - the TCP connection engine (tcp.c) driven by a script,
 * checked against a model of what the client must get back.
 *
 * One connection over an AF_UNIX socketpair, registered with a real epoll
 * set, as in tests/unit/check_tcp.c.  The input is a script: three bytes
 * of settings, then operations (see the table in README.md): the client
 * writes data taken from the input (possibly repeated, possibly only in
 * part when its send buffer is full), reads with random sizes, half-closes
 * at some point or aborts (close); the engine is pumped (epoll_wait with
 * a 0 ms timeout and tcp_conn_event()), handed spurious events, reloaded
 * (tcp_engine_configure: max_pending_output, and while the client still
 * writes the exit command and the transform), swept, drained (tcp_drain,
 * then tcp_drain_tick) or its connection handed to another engine
 * (tcp_detach_all and tcp_adopt).  Small socket buffers force partial
 * writes on both sides.  The clock is fixed, so no idle or linger timeout
 * ever fires.
 *
 * At the end the client half-closes (unless it did) and reads until EOF
 * while the engine is pumped; the loop fails if nothing can move any more
 * ("stuck": a connection that neither reads, writes nor closes).
 *
 * Model.  W is what the kernel accepted from the client (it writes
 * nothing after its FIN or a drain).  E is W up to the first line equal
 * to the exit command in force (with an optional '\r', the rule of
 * check_exitmatch.c), or all of W; a line under way when a reload changes
 * the command cannot be the command.  The client must receive exactly
 * T(E) followed by EOF, where T is the ASCII transform, or upcase_utf8()
 * over all of E at once with a flush: cutting the stream into reads must
 * not matter.  (With reloads, each byte is transformed as the engine
 * answers it: as soon as it is known not to be part of an exit line; see
 * model_output().)  Then the connection count is 0, the shared open
 * counter is 0, the engine read every byte written (bytes_in) and the
 * client every byte sent (bytes_out).  After an abort only a prefix of
 * T(E) is required, and the connection must still go away.  Never
 * allowed at any time: a reset or a write error seen by the client
 * (upcased closes no socket with unread input), max_pending_output or
 * more queued while the connection still reads, or a read that takes the
 * queue past max_pending_output by more than a replayed command.
 *
 * FUZZ_TCP_TRACE=1 in the environment prints the script as it runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "config.h"
#include "stats.h"
#include "tcp.h"
#include "upcase.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);

#define MAX_TOTAL	(256 * 1024)	/* bytes the client writes at most */
#define OUT_CAP		(2 * MAX_TOTAL + 4096)
#define CLOCK		1000
#define FINAL_LOOPS	100000
#define MAX_EPOCHS	64	/* reloads that change something */
#define HEADROOM_OUT	256	/* replayed command, carry, rounding */

static const char *const commands[] = {
	"",			/* no exit line */
	"exit",
	"e",
	"quit now",
	"\xc3\xa9t\xc3\xa9",	/* non-ASCII, grows nothing */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				/* 63 bytes: the longest, fills HEADROOM */
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const size_t pendings[] = {
	4096, 4097, 5000, 8192, 12345, 16384, 65536, 1048576
};
static const int bufsizes[] = {	/* 0: the kernel's default */
	0, 1, 2048, 4096, 8192, 16384, 32768, 65536
};
static const size_t readsizes[] = {
	1, 2, 7, 64, 512, 4096, 65536, 0 /* until EAGAIN */
};
static const unsigned idles[] = { 0, 1, 300, 86400 };

struct rig {
	/* script */
	const uint8_t	*p;
	size_t		 left;
	/* the engine side */
	int		 epfd[2];
	struct tcp_engine *e[2];
	struct stats	 st[2];
	int		 cur;
	struct admit	 lim;
	struct config	 cf;
	struct tcp_conn	*c;		/* NULL once closed */
	bool		 drained;
	bool		 repoll;	/* reconfigured: the engine updates
					   what it polls at the next event */
	/* the client side */
	int		 client;
	bool		 shut;		/* sent our FIN */
	bool		 aborted;	/* closed the socket */
	bool		 eof;		/* read EOF */
	size_t		 wlen;		/* W: all the client wrote */
	size_t		 rlen;
};

/*
 * The two engines, made once and reset for each input (a new engine
 * allocates ~1.3 MB, which costs more than a short script): a reset
 * engine is a new one, its buffers wiped, so an input runs the same
 * first or after a million others.
 */
static struct tcp_engine *engines[2];

static uint8_t	*wbuf, *rbuf, *xbuf;	/* W, received, expected */
static uint8_t	*ubuf;			/* the model's unicode run */
static bool	 trace;

static void	report(struct rig *, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

static void __attribute__((format(printf, 1, 2)))
tr(const char *fmt, ...)
{
	va_list ap;

	if (!trace)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_TCP_TRACE");

	(void)argc;
	(void)argv;
	trace = t != NULL && *t != '\0' && strcmp(t, "0") != 0;
	wbuf = malloc(MAX_TOTAL);
	rbuf = malloc(OUT_CAP);
	xbuf = malloc(OUT_CAP);
	ubuf = malloc(MAX_TOTAL);
	if (wbuf == NULL || rbuf == NULL || xbuf == NULL || ubuf == NULL)
		abort();
	return 0;
}

static uint8_t
next(struct rig *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

/* --- the model ------------------------------------------------------ */

/*
 * A reload (tcp_engine_configure) while the connection is open: from the
 * at-th byte the engine reads on, this command and transform apply.
 */
struct epoch {
	size_t			 at;
	char			 cmd[CONFIG_MAX_EXIT + 1];
	enum config_transform	 tf;
};

static struct epoch	 epochs[MAX_EPOCHS];
static size_t		 nepochs;

struct model {
	size_t		 olen;		/* T so far, in xbuf */
	size_t		 ulen;		/* unicode run not yet transformed */
	enum config_transform tf;
};

/* A run of "unicode" output ends: transform it at once, with a flush. */
static void
model_flush(struct model *m)
{
	struct upcase_carry carry = { 0, { 0, 0, 0 } };

	if (m->ulen == 0)
		return;
	m->olen += upcase_utf8(xbuf + m->olen, ubuf, m->ulen, &carry);
	m->olen += upcase_utf8_flush(xbuf + m->olen, &carry);
	m->ulen = 0;
}

/* Bytes the engine answers, under the transform in force now. */
static void
model_emit(struct model *m, const uint8_t *p, size_t n)
{
	if (m->tf == CONFIG_TRANSFORM_UNICODE) {
		memcpy(ubuf + m->ulen, p, n);
		m->ulen += n;
	} else {
		upcase_ascii_scalar(xbuf + m->olen, p, n);
		m->olen += n;
	}
}

/*
 * T(E) into xbuf; returns its length.  Written from the rules, byte by
 * byte, not from exitmatch.c: a line equal to the command, with an
 * optional '\r', ends the stream before it; a line that may still be the
 * command is held back and answered once it is not (or at the end of the
 * stream); a line under way when a reload changes the command can no
 * longer be the command, and its held bytes are answered at the reload,
 * under the old transform.  Switching from "unicode" to "ascii" sends a
 * character cut so far as it is; within a run of "unicode" the cuts do
 * not matter, so each run is transformed at once.
 */
static size_t
model_output(size_t wlen, bool *matched)
{
	struct model m = { 0, 0, epochs[0].tf };
	const char *cmd = epochs[0].cmd;
	size_t clen = strlen(cmd), j = 1, b, held = 0, linepos = 0;
	uint8_t c;

	*matched = false;
	for (b = 0; b <= wlen; b++) {
		for (; j < nepochs && epochs[j].at <= b; j++) {
			if (strcmp(epochs[j].cmd, cmd) != 0) {
				model_emit(&m, wbuf + b - held, held);
				held = 0;	/* a line under way is out */
				cmd = epochs[j].cmd;
				clen = strlen(cmd);
			}
			if (m.tf == CONFIG_TRANSFORM_UNICODE &&
			    epochs[j].tf == CONFIG_TRANSFORM_ASCII)
				model_flush(&m);
			m.tf = epochs[j].tf;
		}
		if (b == wlen)
			break;
		c = wbuf[b];
		if (clen > 0 && held == linepos) {	/* a candidate */
			if (c == '\n' && (linepos == clen ||
			    (linepos == clen + 1 && wbuf[b - 1] == '\r'))) {
				*matched = true;
				model_flush(&m);
				return m.olen;
			}
			if (linepos <= clen &&
			    c == (linepos < clen ? (uint8_t)cmd[linepos] : '\r')) {
				held++;
				linepos++;
				continue;
			}
			model_emit(&m, wbuf + b - held, held);
			held = 0;
		}
		model_emit(&m, wbuf + b, 1);
		linepos = c == '\n' ? 0 : linepos + 1;
	}
	/* End of the stream: what is held is answered. */
	model_emit(&m, wbuf + wlen - held, held);
	model_flush(&m);
	return m.olen;
}

/* --- failure --------------------------------------------------------- */

static void
report(struct rig *r, const char *fmt, ...)
{
	bool matched = false;
	size_t xlen, i;
	va_list ap;

	fprintf(stderr, "\nfuzz_tcp: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	xlen = model_output(r->wlen, &matched);
	for (i = 0; i < r->rlen && i < xlen && rbuf[i] == xbuf[i]; i++)
		;
	fprintf(stderr, "\n  settings: exit_command \"%s\", transform %s, "
	    "max_pending_output %zu\n  client: wrote %zu, read %zu, eof %d, "
	    "shut %d, aborted %d\n  model: "
	    "exit line %s, expected %zu bytes; first difference at %zu\n"
	    "  engine: connection %s, count %zu, open %u, drained %d\n",
	    r->cf.exit_command, config_transform_name(r->cf.transform),
	    r->cf.max_pending_output, r->wlen, r->rlen, r->eof,
	    r->shut, r->aborted, matched ? "seen" : "not seen", xlen, i,
	    r->c != NULL ? "open" : "closed", tcp_count(r->e[r->cur]),
	    atomic_load(&r->lim.open), r->drained);
	if (r->c != NULL)
		fprintf(stderr, "  pending %zu, reading %d\n",
		    tcp_conn_pending(r->c), tcp_conn_reading(r->c));
	abort();
}

/* --- the engine side ------------------------------------------------- */

/*
 * The state the engine must be in after anything it did.  before: bytes
 * pending before the event, in: bytes the event read.  Output grows past
 * max_pending_output only by a replayed command and a carry: every read
 * is cut to what the limit can still hold.
 */
static void
check_conn_io(struct rig *r, size_t before, uint64_t in)
{
	size_t pend;

	if (tcp_count(r->e[r->cur]) == 0)
		r->c = NULL;
	if (r->e[!r->cur] != NULL && tcp_count(r->e[!r->cur]) != 0)
		report(r, "a connection left in the old engine");
	if (atomic_load(&r->lim.open) != (r->c != NULL ? 1u : 0u))
		report(r, "open counter %u", atomic_load(&r->lim.open));
	if (r->c == NULL)
		return;
	if (tcp_count(r->e[r->cur]) != 1)
		report(r, "count %zu", tcp_count(r->e[r->cur]));
	pend = tcp_conn_pending(r->c);
	if (pend > before && pend > r->cf.max_pending_output + HEADROOM_OUT)
		report(r, "%zu bytes pending (%zu before, %llu read)", pend,
		    before, (unsigned long long)in);
	if (!r->repoll && pend >= r->cf.max_pending_output &&
	    tcp_conn_reading(r->c))
		report(r, "still reading with %zu bytes pending", pend);
}

static void
check_conn(struct rig *r)
{
	check_conn_io(r, r->c != NULL ? tcp_conn_pending(r->c) : 0, 0);
}

static void
event(struct rig *r, struct tcp_conn *c, uint32_t events)
{
	_Atomic uint64_t *in = &r->st[r->cur].tcp_bytes_in;
	uint64_t in0 = stats_get(in);
	size_t before = tcp_conn_pending(c);
	bool alive;

	alive = tcp_conn_event(r->e[r->cur], c, events);
	if (!alive && tcp_count(r->e[r->cur]) != 0)
		report(r, "tcp_conn_event said closed, count %zu",
		    tcp_count(r->e[r->cur]));
	if (alive && tcp_count(r->e[r->cur]) != 1)
		report(r, "tcp_conn_event said open, count %zu",
		    tcp_count(r->e[r->cur]));
	if (!alive)
		r->c = NULL;
	r->repoll = false;
	check_conn_io(r, before, stats_get(in) - in0);
}

/* One epoll_wait (0 ms) and its events; returns how many. */
static int
pump(struct rig *r)
{
	struct epoll_event ev[8];
	int n, i;

	n = epoll_wait(r->epfd[r->cur], ev, 8, 0);
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		report(r, "epoll_wait: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		if (ev[i].data.ptr != r->c)
			report(r, "event for an unknown connection");
		event(r, ev[i].data.ptr, ev[i].events);
	}
	return n;
}

static void
configure(struct rig *r)
{
	int i;

	for (i = 0; i < 2; i++)
		if (r->e[i] != NULL)
			tcp_engine_configure(r->e[i], &r->cf);
	r->repoll = true;
	check_conn(r);
}

static struct tcp_engine *
engine_new(struct rig *r, int i)
{
	struct tcp_engine *e;

	if ((r->epfd[i] = epoll_create1(EPOLL_CLOEXEC)) == -1)
		report(r, "epoll_create1: %s", strerror(errno));
	if (engines[i] == NULL &&
	    (engines[i] = tcp_engine_new(-1, NULL, NULL)) == NULL)
		report(r, "tcp_engine_new");
	e = engines[i];
	tcp_engine_reset(e, r->epfd[i], &r->lim, &r->st[i]);
	tcp_engine_configure(e, &r->cf);
	tcp_engine_clock(e, CLOCK);
	r->e[i] = e;
	return e;
}

/* Hand the connection to the other engine, as a retiring worker does. */
static void
hand_over(struct rig *r)
{
	struct tcp_conn *list, *nc;
	int to = !r->cur;

	if (r->e[to] == NULL)
		engine_new(r, to);
	list = tcp_detach_all(r->e[r->cur]);
	if (tcp_count(r->e[r->cur]) != 0)
		report(r, "detach left %zu", tcp_count(r->e[r->cur]));
	if ((list != NULL) != (r->c != NULL) ||
	    (list != NULL && list != r->c))
		report(r, "detached the wrong list");
	for (; list != NULL; list = nc) {
		nc = tcp_conn_next_detached(list);
		if (!tcp_adopt(r->e[to], list))
			report(r, "tcp_adopt failed");
	}
	r->cur = to;
	check_conn(r);
}

/* --- the client side ------------------------------------------------- */

/* Read up to max bytes (0: until EAGAIN); returns bytes read. */
static size_t
client_read(struct rig *r, size_t max)
{
	size_t got = 0, want;
	ssize_t n;

	if (r->aborted)
		return 0;
	for (;;) {
		want = max != 0 ? max - got : 65536;
		if (r->rlen + want > OUT_CAP)
			want = OUT_CAP - r->rlen;
		if (want == 0)
			report(r, "more output than any input can give");
		n = recv(r->client, rbuf + r->rlen, want, MSG_DONTWAIT);
		if (n > 0) {
			if (r->eof)
				report(r, "data after EOF");
			r->rlen += (size_t)n;
			got += (size_t)n;
			if (max != 0 && got >= max)
				break;
			continue;
		}
		if (n == 0) {
			r->eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		report(r, "client read: %s", strerror(errno));
	}
	return got;
}

/*
 * One non-blocking send of p[0..len) repeated reps times (a client writes
 * what it has at once; AF_UNIX charges every send a whole buffer, so many
 * small sends would fill the socket with overhead, not data).
 */
static void
client_write(struct rig *r, const uint8_t *p, size_t len, size_t reps)
{
	size_t total, k;
	ssize_t n;

	if (r->shut || r->aborted || r->drained || len == 0)
		return;
	total = len * reps;
	if (total > MAX_TOTAL - r->wlen)
		total = MAX_TOTAL - r->wlen;
	if (total == 0)
		return;
	/* Built in place at the end of W: only what is taken stays. */
	for (k = 0; k < total; k += len)
		memcpy(wbuf + r->wlen + k, p, total - k < len ? total - k : len);
	do {
		n = send(r->client, wbuf + r->wlen, total,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	if (n == -1)
		report(r, "client write: %s", strerror(errno));
	r->wlen += (size_t)n;
	tr("  (the kernel took %zd of %zu)\n", n, total);
}

static void
client_shut(struct rig *r)
{
	if (r->shut || r->aborted)
		return;
	if (shutdown(r->client, SHUT_WR) == -1)
		report(r, "shutdown: %s", strerror(errno));
	r->shut = true;
}

static void
setbuf_opt(struct rig *r, int fd, int opt, int size)
{
	if (size != 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) == -1)
		report(r, "setsockopt: %s", strerror(errno));
}

/* --- the script -------------------------------------------------------- */

/*
 * A reload: a new max_pending_output and idle_timeout, and perhaps a new
 * exit command or transform.  Those two only while the client still
 * writes: the model places the reload by the bytes the engine had read
 * then (bytes_in), which says nothing of when it saw the client's FIN.
 */
static void
reload(struct rig *r, uint8_t b, uint8_t c)
{
	char cmd[CONFIG_MAX_EXIT + 1];
	struct epoch *ep;
	enum config_transform tf;

	r->cf.max_pending_output = pendings[c & 7];
	r->cf.idle_timeout = idles[b >> 6];
	snprintf(cmd, sizeof(cmd), "%s", (c & 0x08) ?
	    commands[(c >> 4 & 7) % NCOMMANDS] : r->cf.exit_command);
	tf = r->cf.transform;
	if (c & 0x80)
		tf = tf == CONFIG_TRANSFORM_ASCII ? CONFIG_TRANSFORM_UNICODE :
		    CONFIG_TRANSFORM_ASCII;
	if (!r->shut && !r->aborted && !r->drained && nepochs < MAX_EPOCHS &&
	    (strcmp(cmd, r->cf.exit_command) != 0 || tf != r->cf.transform)) {
		ep = &epochs[nepochs++];
		ep->at = (size_t)(stats_get(&r->st[0].tcp_bytes_in) +
		    stats_get(&r->st[1].tcp_bytes_in));
		snprintf(ep->cmd, sizeof(ep->cmd), "%s", cmd);
		ep->tf = tf;
		snprintf(r->cf.exit_command, sizeof(r->cf.exit_command), "%s",
		    cmd);
		r->cf.transform = tf;
		tr("reload at %zu: exit_command \"%s\", %s\n", ep->at, cmd,
		    config_transform_name(tf));
	}
	tr("reload: max_pending_output %zu\n", r->cf.max_pending_output);
	configure(r);
}

static void
op_engine(struct rig *r)
{
	uint8_t b = next(r);

	switch (b % 5) {
	case 0:
		reload(r, b, next(r));
		break;
	case 1:
		tr("sweep\n");
		if (tcp_sweep(r->e[r->cur]) != 0)
			report(r, "the sweep closed something, clock fixed");
		check_conn(r);
		break;
	case 2:
		if (r->drained)	/* the other engine is not draining */
			break;
		tr("hand over\n");
		hand_over(r);
		break;
	case 3:
		if (r->drained) {
			tr("drain tick\n");
			tcp_drain_tick(r->e[r->cur]);
			check_conn(r);
			break;
		}
		tr("drain\n");
		r->drained = true;
		tcp_drain(r->e[r->cur], CLOCK + 5);
		check_conn(r);
		break;
	default:
		tr("pump until idle\n");
		while (pump(r) > 0)
			;
		break;
	}
}

static void
run_script(struct rig *r)
{
	static const uint32_t spurious[] = {
		EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLOUT
	};
	size_t len, reps, i;
	uint8_t op, b;

	while (r->left > 0 && !r->aborted) {
		op = next(r);
		switch (op % 8) {
		case 0:
			len = (size_t)next(r) + 1;
			len = len < r->left ? len : r->left;
			tr("write %zu\n", len);
			client_write(r, r->p, len, 1);
			r->p += len;
			r->left -= len;
			break;
		case 1:
			len = (size_t)(next(r) & 0x3f) + 1;
			reps = ((size_t)next(r) + 1) * 8;
			len = len < r->left ? len : r->left;
			tr("write %zu x %zu\n", len, reps);
			client_write(r, r->p, len, reps);
			r->p += len;
			r->left -= len;
			break;
		case 2:
			b = next(r);
			tr("pump %u\n", b % 4 + 1u);
			for (i = 0; i <= b % 4u; i++)
				pump(r);
			break;
		case 3:
			b = next(r);
			tr("read %zu\n", readsizes[b & 7]);
			client_read(r, readsizes[b & 7]);
			break;
		case 4:
			tr("half-close\n");
			client_shut(r);
			break;
		case 5:
			b = next(r);
			if (r->c == NULL)
				break;
			tr("spurious event %u\n", spurious[b % 3]);
			event(r, r->c, spurious[b % 3]);
			break;
		case 6:
			op_engine(r);
			break;
		default:
			b = next(r);
			if ((b & 0x1f) == 0) {
				tr("abort\n");
				close(r->client);
				r->client = -1;
				r->aborted = true;
				break;
			}
			tr("pump and read\n");
			pump(r);
			client_read(r, 0);
			break;
		}
	}
}

/* Answer everything: FIN, then pump and read until EOF and no conn. */
static void
finish(struct rig *r)
{
	unsigned loops, idle = 0;
	size_t got;
	int n;

	if (!r->aborted)
		client_shut(r);
	for (loops = 0; loops < FINAL_LOOPS; loops++) {
		n = pump(r);
		got = client_read(r, 0);
		if (r->c == NULL && (r->eof || r->aborted))
			return;
		if (n > 0 || got > 0) {
			idle = 0;
			continue;
		}
		/* Nothing happens: a second look, then it is stuck. */
		if (++idle > 2)
			report(r, "stuck: no event, nothing to read, and the "
			    "connection is %s", r->c != NULL ? "still open" :
			    "closed but no EOF");
	}
	report(r, "not finished after %u loops", loops);
}

static void
check_final(struct rig *r)
{
	uint64_t in, out, conns;
	bool matched;
	size_t xlen, i;

	xlen = model_output(r->wlen, &matched);
	if (r->aborted) {
		if (r->rlen > xlen || memcmp(rbuf, xbuf, r->rlen) != 0)
			report(r, "after an abort, not a prefix of the model");
	} else if (r->rlen != xlen || memcmp(rbuf, xbuf, xlen) != 0)
		report(r, "output differs from the model");
	in = out = conns = 0;
	for (i = 0; i < 2; i++) {
		in += stats_get(&r->st[i].tcp_bytes_in);
		out += stats_get(&r->st[i].tcp_bytes_out);
		conns += stats_get(&r->st[i].conns_total);
	}
	if (conns != 1)
		report(r, "conns_total %llu", (unsigned long long)conns);
	if (!r->aborted && (in != r->wlen || out != r->rlen))
		report(r, "bytes_in %llu (wrote %zu), bytes_out %llu (read "
		    "%zu)", (unsigned long long)in, r->wlen,
		    (unsigned long long)out, r->rlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rig r;
	uint8_t h0, h1, h2;
	int sv[2], i;

	if (size < 3)
		return -1;
	memset(&r, 0, sizeof(r));
	r.epfd[0] = r.epfd[1] = -1;
	r.p = data;
	r.left = size;
	h0 = next(&r);
	h1 = next(&r);
	h2 = next(&r);

	memset(&r.cf, 0, sizeof(r.cf));
	snprintf(r.cf.exit_command, sizeof(r.cf.exit_command), "%s",
	    commands[(h0 & 0x7f) % NCOMMANDS]);
	r.cf.transform = (h0 & 0x80) ? CONFIG_TRANSFORM_ASCII :
	    CONFIG_TRANSFORM_UNICODE;
	r.cf.max_pending_output = pendings[h1 & 7];
	r.cf.idle_timeout = idles[h2 >> 6];
	r.cf.max_connections = 100;
	r.cf.drain_timeout = 5;
	r.cf.crowded_idle_timeout = CONFIG_DEF_CROWDED_IDLE;
	tr("exit_command \"%s\", %s, max_pending_output %zu\n",
	    r.cf.exit_command, config_transform_name(r.cf.transform),
	    r.cf.max_pending_output);
	nepochs = 1;
	epochs[0].at = 0;
	snprintf(epochs[0].cmd, sizeof(epochs[0].cmd), "%s",
	    r.cf.exit_command);
	epochs[0].tf = r.cf.transform;

	atomic_store(&r.lim.max, 100);
	engine_new(&r, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1)
		report(&r, "socketpair: %s", strerror(errno));
	r.client = sv[0];
	setbuf_opt(&r, sv[1], SO_SNDBUF, bufsizes[(h1 >> 3) & 7]);
	setbuf_opt(&r, sv[0], SO_SNDBUF, bufsizes[h2 & 7]);
	setbuf_opt(&r, sv[0], SO_RCVBUF, bufsizes[(h2 >> 3) & 7]);
	if ((r.c = tcp_conn_add(r.e[0], sv[1])) == NULL)
		report(&r, "tcp_conn_add");
	check_conn(&r);

	run_script(&r);
	finish(&r);
	check_final(&r);
	tr("end: wrote %zu, read %zu and %s\n", r.wlen, r.rlen,
	    r.aborted ? "aborted" : "EOF");

	for (i = 0; i < 2; i++) {
		if (r.e[i] != NULL && tcp_count(r.e[i]) != 0)
			report(&r, "engine %d keeps %zu", i,
			    tcp_count(r.e[i]));
		r.e[i] = NULL;		/* reset by the next input */
		if (r.epfd[i] != -1)
			close(r.epfd[i]);
	}
	if (atomic_load(&r.lim.open) != 0)
		report(&r, "open counter %u at the end",
		    atomic_load(&r.lim.open));
	if (r.client != -1)
		close(r.client);
	return 0;
}
