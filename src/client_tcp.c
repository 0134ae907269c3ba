/*
 * client_tcp.c - one TCP conversation with upcased, as one poll(2) loop.
 *
 * The input goes up to the server while its answer comes down to the
 * output, through two bounded buffers: a client that sent everything
 * before reading would stall for good once the server's queue towards it
 * and the socket buffers were full, so nothing here ever waits for one
 * direction to finish before serving the other.  The same loop serves a
 * person at a terminal (answers are printed as they arrive, whether or
 * not anything is typed) and a file or pipe (streamed, with progress on
 * a terminal).
 *
 * The end of the conversation is where the care goes.  A clean transfer
 * is: every input byte sent, then our FIN (shutdown), then the server's
 * FIN (EOF, not a reset) after its last answer.  The server may end it
 * sooner: after a line equal to its exit command, when it stops, or on
 * its idle timeout, and then its answer is short.  That is told by the
 * order of the FINs, by the exit command line (looked for in the input
 * with upcased's own matcher, exitmatch.c, so both sides agree on what a
 * line is), and where the service keeps lengths by the byte counts: only
 * ASCII text is known to come back as long as it went (a transform that
 * knows Unicode may change the length of other text), so by default
 * lengths are compared for ASCII input only (--length changes that).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "exitmatch.h"

#define BUF_SIZE	(256 * 1024)	/* each direction */
#define PROGRESS_MS	250		/* at most 4 updates a second */
#define MIB		1048576.0

enum { PFD_IN, PFD_SOCK, PFD_OUT, PFD_COUNT };

/* Bytes [head, tail) of p wait to be written on. */
struct buf {
	uint8_t		*p;
	size_t		 head;
	size_t		 tail;
};

struct tcp {
	const struct cl_opts	*o;
	const struct cl_io	*io;
	struct buf		 up;		/* input -> server */
	struct buf		 down;		/* server -> output */
	uint64_t		 read_in;
	uint64_t		 sent;
	uint64_t		 received;
	bool			 in_eof;	/* input ended */
	bool			 fin_sent;	/* we shut down our side */
	bool			 peer_eof;	/* the server's FIN came */
	bool			 nonascii;	/* a byte >= 0x80 was read */
	struct exitcmd		 cmd;
	exitmatch_state		 match;
	uint64_t		 lines;		/* newlines read so far */
	uint64_t		 exit_line;	/* 1-based; 0 = none */
	int64_t			 t_start;
	int64_t			 t_moved;	/* the server last moved */
	int64_t			 t_progress;	/* last progress line */
	bool			 progress_ok;	/* we may show progress */
	bool			 progress_on;	/* a progress line is up */
	int			 last_len;	/* of that line */
	int			 rc;		/* exit status; -1 running */
};

/* --- buffers ----------------------------------------------------------- */

static size_t
buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

/* Room at the tail, made by moving the waiting bytes to the front. */
static size_t
buf_room(struct buf *b)
{
	if (b->head > 0 && b->tail == BUF_SIZE) {
		memmove(b->p, b->p + b->head, buf_len(b));
		b->tail -= b->head;
		b->head = 0;
	}
	return BUF_SIZE - b->tail;
}

static void
buf_consume(struct buf *b, size_t n)
{
	b->head += n;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

/* --- progress on a terminal ----------------------------------------- */

static void
progress_print(struct tcp *t, int64_t now, bool last)
{
	double secs = (double)(now - t->t_start) / 1000.0;
	double rate = secs > 0 ? (double)t->received / MIB / secs : 0;
	char line[200], total[40] = "";
	int n;

	if (t->io->in_size >= 0 && !last)
		snprintf(total, sizeof(total), " of %.1f",
		    (double)t->io->in_size / MIB);
	n = snprintf(line, sizeof(line), "upcase: %.1f%s MiB sent, %.1f MiB "
	    "back%s %.1f s, %.1f MiB/s", (double)t->sent / MIB, total,
	    (double)t->received / MIB, last ? " in" : ",", secs, rate);
	fprintf(stderr, "\r%s%*s%s", line,
	    t->last_len > n ? t->last_len - n : 0, "", last ? "\n" : "");
	t->last_len = n;
}

/* Shown only for a large stream (a file's size, or 8 MiB read from a
 * pipe), so that small transfers stay silent. */
static void
progress(struct tcp *t)
{
	int64_t now;

	if (!t->progress_ok)
		return;
	if (!t->progress_on) {
		if (t->io->in_size <= (int64_t)CL_BIG_INPUT &&
		    t->read_in <= CL_BIG_INPUT)
			return;
		t->progress_on = true;
	}
	now = cl_now_ms();
	if (now - t->t_progress < PROGRESS_MS)
		return;
	t->t_progress = now;
	progress_print(t, now, false);
}

/* Before any other message: finish the line the progress is on. */
static void
progress_end(struct tcp *t)
{
	if (t->progress_on)
		progress_print(t, cl_now_ms(), true);
	t->progress_on = false;
	t->progress_ok = false;
}

/* --- ending ------------------------------------------------------------ */

/* Reading the input or writing the output failed (errno says why). */
static void
fail_file(struct tcp *t, const char *verb, const char *path,
    const char *std)
{
	int err = errno;

	progress_end(t);
	errno = err;
	cl_warn("cannot %s %s", verb, path != NULL ? path : std);
	t->rc = CL_EX_IOERR;
}

/* The connection broke (a reset, or a timeout in the kernel). */
static void
conn_lost(struct tcp *t, int err)
{
	progress_end(t);
	cl_warnx("connection to %s %s after %" PRIu64 " bytes sent, %"
	    PRIu64 " received", t->io->peer, err == ECONNRESET ||
	    err == EPIPE ? "reset by the server" : strerror(err), t->sent,
	    t->received);
	t->rc = err == ETIMEDOUT ? CL_EX_TEMPFAIL : CL_EX_IOERR;
}

static void
explain_exit_line(const struct tcp *t)
{
	if (t->exit_line != 0)
		cl_warnx("line %" PRIu64 " of the input is the server's exit "
		    "command (\"%s\"): the session ends there", t->exit_line,
		    t->o->exit_cmd);
}

/* A person is done when they said so (Ctrl-D, or the exit command);
 * a server that leaves on its own is worth a word and a status. */
static int
verdict_interactive(const struct tcp *t)
{
	if (t->fin_sent || t->exit_line != 0)
		return CL_EX_OK;
	cl_warnx("connection closed by %s", t->io->peer);
	return CL_EX_SHORT;
}

static bool
lengths_must_match(const struct tcp *t)
{
	return t->o->length == CL_LENGTH_EXACT ||
	    (t->o->length == CL_LENGTH_AUTO && !t->nonascii);
}

/* The server's FIN came and its answer is all written: judge. */
static int
verdict(const struct tcp *t)
{
	if (t->io->interactive)
		return verdict_interactive(t);
	if (!t->in_eof || buf_len(&t->up) > 0) {
		cl_warnx("short transfer: %s closed the connection before the "
		    "end of the input (%" PRIu64 " bytes sent, %" PRIu64
		    " received)", t->io->peer, t->sent, t->received);
		explain_exit_line(t);
		return CL_EX_SHORT;
	}
	if (t->received == t->sent)
		return CL_EX_OK;
	if (t->exit_line != 0 || lengths_must_match(t)) {
		cl_warnx("%s: %" PRIu64 " bytes sent, %" PRIu64 " received",
		    t->received < t->sent ? "short transfer" :
		    "the answer is longer than the input", t->sent,
		    t->received);
		explain_exit_line(t);
		return CL_EX_SHORT;
	}
	if (!t->o->quiet)
		cl_warnx("note: %" PRIu64 " bytes sent, %" PRIu64 " received "
		    "(the server's transform changed the length of non-ASCII "
		    "text)", t->sent, t->received);
	return CL_EX_OK;
}

/* --- moving bytes -------------------------------------------------- */

/* What the server will make of the input: is it all ASCII, and where is
 * the first exit command line?  Fed a line at a time, so that a match
 * tells its line number. */
static void
scan_input(struct tcp *t, const uint8_t *p, size_t n)
{
	const uint8_t *nl;
	struct exitmatch_step r;
	uint8_t any = 0;
	size_t i, len;

	if (!t->nonascii) {
		for (i = 0; i < n; i++)
			any |= p[i];
		t->nonascii = (any & 0x80) != 0;
	}
	while (n > 0 && t->exit_line == 0 && t->cmd.len > 0) {
		nl = memchr(p, '\n', n);
		len = nl != NULL ? (size_t)(nl - p) + 1 : n;
		r = exitmatch_feed(&t->cmd, &t->match, p, len);
		if (nl != NULL)
			t->lines++;
		if (r.matched)
			t->exit_line = t->lines;
		p += len;
		n -= len;
	}
}

static void
read_input(struct tcp *t)
{
	size_t room = buf_room(&t->up);
	ssize_t n;

	n = read(t->io->in, t->up.p + t->up.tail, room);
	if (n > 0) {
		scan_input(t, t->up.p + t->up.tail, (size_t)n);
		t->up.tail += (size_t)n;
		t->read_in += (uint64_t)n;
	} else if (n == 0)
		t->in_eof = true;
	else if (errno != EINTR && errno != EAGAIN)
		fail_file(t, "read", t->o->in_path, "standard input");
}

static void
send_up(struct tcp *t)
{
	ssize_t n;

	n = send(t->io->sock, t->up.p + t->up.head, buf_len(&t->up),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		buf_consume(&t->up, (size_t)n);
		t->sent += (uint64_t)n;
		t->t_moved = cl_now_ms();
	} else if (n == -1 && errno != EINTR && errno != EAGAIN)
		conn_lost(t, errno);
}

static void
recv_down(struct tcp *t)
{
	size_t room = buf_room(&t->down);
	ssize_t n;

	n = recv(t->io->sock, t->down.p + t->down.tail, room, MSG_DONTWAIT);
	if (n > 0) {
		t->down.tail += (size_t)n;
		t->received += (uint64_t)n;
		t->t_moved = cl_now_ms();
	} else if (n == 0)
		t->peer_eof = true;
	else if (errno != EINTR && errno != EAGAIN)
		conn_lost(t, errno);
}

static void
write_output(struct tcp *t)
{
	ssize_t n;

	n = write(t->io->out, t->down.p + t->down.head, buf_len(&t->down));
	if (n > 0)
		buf_consume(&t->down, (size_t)n);
	else if (n == -1 && errno != EINTR && errno != EAGAIN)
		fail_file(t, "write", t->o->out_path, "standard output");
}

/* All the input is sent: our FIN tells the server to answer the rest
 * and close. */
static void
half_close(struct tcp *t)
{
	if (!t->in_eof || buf_len(&t->up) > 0 || t->fin_sent || t->peer_eof)
		return;
	if (shutdown(t->io->sock, SHUT_WR) == -1) {
		conn_lost(t, errno == ENOTCONN ? ECONNRESET : errno);
		return;
	}
	t->fin_sent = true;
	t->t_moved = cl_now_ms();
}

/* --- the loop ---------------------------------------------------------- */

/*
 * With -w, a server that neither takes our bytes nor answers for that
 * long is given up on.  The clock runs only while we wait on the server
 * alone: not while the input is slow, nor while the output is.
 */
static bool
waiting_on_server(const struct tcp *t)
{
	return t->o->wait_given && buf_len(&t->down) == 0 &&
	    (buf_len(&t->up) > 0 || t->fin_sent);
}

static int
poll_timeout(struct tcp *t)
{
	int64_t now = cl_now_ms(), left;
	int ms = t->progress_ok ? PROGRESS_MS : -1;

	if (!waiting_on_server(t)) {
		t->t_moved = now;
		return ms;
	}
	left = t->t_moved + t->o->wait_ms - now;
	if (left < 0)
		left = 0;
	return ms == -1 || left < ms ? (int)left : ms;
}

static void
check_stall(struct tcp *t)
{
	if (!waiting_on_server(t) ||
	    cl_now_ms() - t->t_moved < t->o->wait_ms)
		return;
	progress_end(t);
	cl_warnx("timeout: no answer from %s for %.3g s (%" PRIu64 " bytes "
	    "sent, %" PRIu64 " received)", t->io->peer,
	    t->o->wait_ms / 1000.0, t->sent, t->received);
	t->rc = CL_EX_TEMPFAIL;
}

/* What to wait for; an fd with nothing to wait for is left out (-1), or
 * its POLLHUP would wake us in a loop. */
static void
poll_set(const struct tcp *t, struct pollfd *pfd)
{
	bool open_up = !t->peer_eof;
	int i;

	pfd[PFD_IN].fd = t->io->in;
	pfd[PFD_IN].events = !t->in_eof && open_up &&
	    buf_len(&t->up) < BUF_SIZE ? POLLIN : 0;
	pfd[PFD_SOCK].fd = t->io->sock;
	pfd[PFD_SOCK].events = (short)((open_up && buf_len(&t->up) > 0 ?
	    POLLOUT : 0) | (open_up && buf_len(&t->down) < BUF_SIZE ?
	    POLLIN : 0));
	pfd[PFD_OUT].fd = t->io->out;
	pfd[PFD_OUT].events = buf_len(&t->down) > 0 ? POLLOUT : 0;
	for (i = 0; i < PFD_COUNT; i++) {
		pfd[i].revents = 0;
		if (pfd[i].events == 0)
			pfd[i].fd = -1;
	}
}

static bool
ready(const struct pollfd *p, short what)
{
	return (p->events & what) &&
	    (p->revents & (what | POLLERR | POLLHUP | POLLNVAL));
}

static void
step(struct tcp *t, const struct pollfd *pfd)
{
	if (ready(&pfd[PFD_OUT], POLLOUT))
		write_output(t);
	if (t->rc < 0 && ready(&pfd[PFD_SOCK], POLLIN))
		recv_down(t);
	if (t->rc < 0 && !t->peer_eof && ready(&pfd[PFD_SOCK], POLLOUT))
		send_up(t);
	if (t->rc < 0 && !t->peer_eof && ready(&pfd[PFD_IN], POLLIN))
		read_input(t);
	if (t->rc < 0)
		half_close(t);
}

static void
run(struct tcp *t)
{
	struct pollfd pfd[PFD_COUNT];
	int n;

	half_close(t);		/* an empty input */
	while (t->rc < 0) {
		if (t->peer_eof && buf_len(&t->down) == 0) {
			progress_end(t);
			t->rc = verdict(t);
			break;
		}
		poll_set(t, pfd);
		n = poll(pfd, PFD_COUNT, poll_timeout(t));
		if (n == -1 && errno != EINTR) {
			n = errno;
			progress_end(t);
			errno = n;
			cl_warn("poll");
			t->rc = CL_EX_OSERR;
			break;
		}
		if (n > 0)
			step(t, pfd);
		if (t->rc < 0)
			check_stall(t);
		progress(t);
	}
}

int
cl_tcp_run(const struct cl_opts *o, const struct cl_io *io)
{
	struct tcp t;

	memset(&t, 0, sizeof(t));
	t.o = o;
	t.io = io;
	t.rc = -1;
	t.up.p = cl_xmalloc(BUF_SIZE);
	t.down.p = cl_xmalloc(BUF_SIZE);
	exitcmd_init(&t.cmd, o->exit_cmd);
	t.match = EXITMATCH_START;
	t.t_start = t.t_moved = t.t_progress = cl_now_ms();
	t.progress_ok = !io->interactive && io->err_tty && !o->quiet;
	run(&t);
	free(t.up.p);
	free(t.down.p);
	return t.rc;
}
