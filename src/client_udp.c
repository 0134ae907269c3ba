/*
 * client_udp.c - datagrams to upcased and their replies, in one poll(2)
 * loop.
 *
 * UDP has no end of stream and no retransmission, so the client keeps
 * the books.  Each line of the input (without its newline), or each
 * -s SIZE bytes of it, goes out as one datagram; each reply is written
 * as it arrives, in the order received (which UDP does not promise to be
 * the order sent), a line's reply followed by a newline, a chunk's as
 * it is.  After the last send we wait -w seconds for the stragglers and
 * say how many never came.  The socket is connected, so the kernel
 * passes on replies from the server only, and reports an ICMP port
 * unreachable to us as ECONNREFUSED: "nothing listens there" is then
 * told apart from "the replies were lost".
 *
 * At most WINDOW datagrams and WINDOW_BYTES are in flight: sent blind,
 * a file of many datagrams would overflow the socket buffers on one side
 * or the other and be lost by the thousand.  Replies are not matched to
 * requests (UDP may reorder them), so the bytes in flight are counted
 * as if each reply answered the oldest request, which is exact when
 * nothing is lost and good enough when something is.  A window that
 * stays full for -w seconds is written off as lost, so that lost
 * replies cannot stall the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client.h"

#define IN_SIZE		(256 * 1024)	/* > CL_UDP_MAX, several lines */
#define RX_SIZE		65536		/* > any UDP payload */
#define WINDOW		64		/* datagrams in flight at most, */
#define WINDOW_BYTES	(128 * 1024)	/* and bytes: less than the default
					   socket buffer (rmem_default) */
#define RCVBUF		(1024 * 1024)	/* ours, if the kernel allows */
#define SEND_BATCH	16		/* sends per wake-up, then read */

enum { PFD_IN, PFD_SOCK, PFD_COUNT };

struct udp {
	const struct cl_opts	*o;
	const struct cl_io	*io;
	uint8_t			*in;		/* input not yet sent: */
	size_t			 head;		/* [head, tail) */
	size_t			 tail;
	uint8_t			*rx;		/* one reply */
	bool			 in_eof;
	bool			 refused;	/* ICMP port unreachable */
	uint64_t		 sent;
	uint64_t		 received;
	uint64_t		 line;		/* datagrams taken so far */
	uint32_t		 size[WINDOW];	/* of those in flight, */
	unsigned		 oldest;	/* the oldest at size[oldest] */
	unsigned		 flying;	/* how many */
	size_t			 bytes;		/* their bytes */
	int64_t			 t_send;	/* last send */
	int64_t			 t_moved;	/* last send or reply */
	int			 rc;		/* exit status; -1 running */
};

/* --- the next datagram ------------------------------------------------ */

static void
too_long(struct udp *u)
{
	cl_warnx("line %" PRIu64 " of the input is longer than a datagram "
	    "can carry (%d bytes); try -s SIZE", u->line + 1, CL_UDP_MAX);
	u->rc = CL_EX_DATAERR;
}

/*
 * The datagram at the head of the input, if a whole one is there: its
 * length in *len and the input bytes it uses (with the newline) in
 * *used.  False while more input is needed (or on a line too long).
 */
static bool
next_datagram(struct udp *u, size_t *len, size_t *used)
{
	size_t avail = u->tail - u->head;
	const uint8_t *nl;

	if (u->o->chunk != 0) {
		*len = *used = avail < u->o->chunk ? avail : u->o->chunk;
		return avail >= u->o->chunk || (u->in_eof && avail > 0);
	}
	nl = memchr(u->in + u->head, '\n', avail);
	*len = nl != NULL ? (size_t)(nl - (u->in + u->head)) : avail;
	*used = nl != NULL ? *len + 1 : avail;
	if (*len > CL_UDP_MAX) {
		too_long(u);
		return false;
	}
	return nl != NULL || (u->in_eof && avail > 0);
}

/* --- the window ------------------------------------------------------ */

/* May a datagram of len bytes go now?  One always may, alone. */
static bool
window_open(const struct udp *u, size_t len)
{
	return u->flying == 0 ||
	    (u->flying < WINDOW && u->bytes + len <= WINDOW_BYTES);
}

static void
window_push(struct udp *u, size_t len)
{
	u->size[(u->oldest + u->flying) % WINDOW] = (uint32_t)len;
	u->flying++;
	u->bytes += len;
}

/* A reply came: take it as the answer to the oldest request. */
static void
window_pop(struct udp *u)
{
	if (u->flying == 0)
		return;		/* a late reply to one written off */
	u->bytes -= u->size[u->oldest];
	u->oldest = (u->oldest + 1) % WINDOW;
	u->flying--;
}

static void
window_write_off(struct udp *u)
{
	u->flying = 0;
	u->bytes = 0;
	u->oldest = 0;
}

/* A whole datagram waits, and the window keeps it waiting. */
static bool
window_full(struct udp *u)
{
	size_t len, used;

	return next_datagram(u, &len, &used) && !window_open(u, len);
}

static bool
can_send(struct udp *u)
{
	size_t len, used;

	return next_datagram(u, &len, &used) && window_open(u, len);
}

static bool
have_datagram(struct udp *u)
{
	size_t len, used;

	return next_datagram(u, &len, &used);
}

/* --- moving datagrams ------------------------------------------------ */

static void
read_input(struct udp *u)
{
	ssize_t n;

	if (u->head > 0) {	/* at most a partial datagram to move */
		memmove(u->in, u->in + u->head, u->tail - u->head);
		u->tail -= u->head;
		u->head = 0;
	}
	n = read(u->io->in, u->in + u->tail, IN_SIZE - u->tail);
	if (n > 0)
		u->tail += (size_t)n;
	else if (n == 0)
		u->in_eof = true;
	else if (errno != EINTR && errno != EAGAIN) {
		cl_warn("cannot read %s", u->o->in_path != NULL ?
		    u->o->in_path : "standard input");
		u->rc = CL_EX_IOERR;
	}
}

/* The first port unreachable, told at once to a person who types: they
 * would otherwise wait for nothing. */
static void
port_unreachable(struct udp *u)
{
	if (!u->refused && u->io->interactive)
		cl_warnx("%s: port unreachable: nothing listens there?",
		    u->io->peer);
	u->refused = true;
}

/* Send what the window allows; false when the socket would block. */
static bool
send_some(struct udp *u)
{
	size_t len, used;
	ssize_t n;
	int i;

	for (i = 0; i < SEND_BATCH && u->rc < 0; i++) {
		if (!next_datagram(u, &len, &used) || !window_open(u, len))
			return true;
		n = send(u->io->sock, u->in + u->head, len, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return false;
		if (n == -1 && errno == ECONNREFUSED) {
			port_unreachable(u);	/* an earlier datagram's */
			continue;		/* this one was not sent */
		}
		if (n == -1 && errno != ENOBUFS) {	/* ENOBUFS: lost */
			cl_warn("cannot send to %s", u->io->peer);
			u->rc = CL_EX_IOERR;
			return true;
		}
		window_push(u, len);
		u->head += used;
		u->line++;
		u->sent++;
		u->t_send = u->t_moved = cl_now_ms();
	}
	return true;
}

static bool
write_all(struct udp *u, const struct iovec *iov, int cnt)
{
	struct iovec v[2];
	struct pollfd p = { .fd = u->io->out, .events = POLLOUT };
	ssize_t n;
	int i;

	memcpy(v, iov, (size_t)cnt * sizeof(*v));
	for (i = 0; i < cnt;) {
		if (v[i].iov_len == 0) {
			i++;
			continue;
		}
		n = writev(u->io->out, v + i, cnt - i);
		if (n == -1 && errno == EAGAIN) {
			poll(&p, 1, -1);	/* a non-blocking stdout */
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return false;
		for (; i < cnt && (size_t)n >= v[i].iov_len; i++)
			n -= (ssize_t)v[i].iov_len;
		if (i < cnt) {
			v[i].iov_base = (uint8_t *)v[i].iov_base + n;
			v[i].iov_len -= (size_t)n;
		}
	}
	return true;
}

/* Write one reply: a line's with its newline, a chunk's as it is. */
static void
write_reply(struct udp *u, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = u->rx, .iov_len = len },
		{ .iov_base = (void *)(uintptr_t)"\n", .iov_len = 1 },
	};

	if (!write_all(u, iov, u->o->chunk != 0 ? 1 : 2)) {
		cl_warn("cannot write %s", u->o->out_path != NULL ?
		    u->o->out_path : "standard output");
		u->rc = CL_EX_IOERR;
	}
}

static void
recv_replies(struct udp *u)
{
	ssize_t n;

	while (u->rc < 0) {
		n = recv(u->io->sock, u->rx, RX_SIZE, MSG_DONTWAIT);
		if (n >= 0) {
			window_pop(u);
			u->received++;
			u->t_moved = cl_now_ms();
			write_reply(u, (size_t)n);
		} else if (errno == ECONNREFUSED)
			port_unreachable(u);
		else if (errno == EAGAIN || errno == EINTR)
			return;
		else {
			cl_warn("cannot receive from %s", u->io->peer);
			u->rc = CL_EX_IOERR;
		}
	}
}

/* --- the loop ---------------------------------------------------------- */

static int
verdict(const struct udp *u)
{
	uint64_t lost = u->sent > u->received ? u->sent - u->received : 0;

	if (lost == 0)
		return CL_EX_OK;
	if (u->refused && u->received == 0) {
		cl_warnx("%s: port unreachable (nothing listens there): %"
		    PRIu64 " datagram%s unanswered", u->io->peer, lost,
		    lost == 1 ? "" : "s");
		return CL_EX_UNAVAIL;
	}
	cl_warnx("%" PRIu64 " of %" PRIu64 " datagrams got no reply within "
	    "%.3g s%s", lost, u->sent, u->o->wait_ms / 1000.0, u->refused ?
	    " (and a port unreachable came back)" : "");
	return CL_EX_TEMPFAIL;
}

/*
 * How long poll may sleep, or 0 when a wait just ended: all input sent
 * and no reply for -w seconds after the last send (we are done), or a
 * full window that did not move for -w seconds (written off).
 */
static int
timeout_or_settle(struct udp *u, bool *done)
{
	int64_t now = cl_now_ms(), left;
	bool drained = u->in_eof && u->head == u->tail;

	*done = false;
	if (drained) {
		left = u->t_send + u->o->wait_ms - now;
		*done = u->received >= u->sent || left <= 0;
		return *done ? 0 : (int)left;
	}
	if (!window_full(u))
		return -1;
	left = u->t_moved + u->o->wait_ms - now;
	if (left > 0)
		return (int)left;
	window_write_off(u);
	u->t_moved = now;
	return 0;
}

static void
run(struct udp *u)
{
	struct pollfd pfd[PFD_COUNT];
	bool done, sendable, blocked = false;
	int ms, n;

	while (u->rc < 0) {
		ms = timeout_or_settle(u, &done);
		if (done) {
			u->rc = verdict(u);
			break;
		}
		sendable = can_send(u);
		if (u->rc >= 0)
			break;
		pfd[PFD_IN].fd = !u->in_eof && !have_datagram(u) ?
		    u->io->in : -1;
		pfd[PFD_IN].events = POLLIN;
		pfd[PFD_SOCK].fd = u->io->sock;
		pfd[PFD_SOCK].events = (short)(POLLIN |
		    (sendable && blocked ? POLLOUT : 0));
		n = poll(pfd, PFD_COUNT, sendable && !blocked ? 0 : ms);
		if (n == -1 && errno != EINTR) {
			cl_warn("poll");
			u->rc = CL_EX_OSERR;
			break;
		}
		if (n > 0 && (pfd[PFD_SOCK].revents & ~POLLOUT))
			recv_replies(u);
		if (u->rc < 0 && sendable)
			blocked = !send_some(u);
		if (u->rc < 0 && n > 0 && pfd[PFD_IN].revents != 0)
			read_input(u);
	}
}

int
cl_udp_run(const struct cl_opts *o, const struct cl_io *io)
{
	struct udp u;

	memset(&u, 0, sizeof(u));
	u.o = o;
	u.io = io;
	u.rc = -1;
	u.in = cl_xmalloc(IN_SIZE);
	u.rx = cl_xmalloc(RX_SIZE);
	u.t_send = u.t_moved = cl_now_ms();
	/* Room for a window of replies while the output is slow; best
	 * effort (net.core.rmem_max caps it), hence no error check. */
	(void)setsockopt(io->sock, SOL_SOCKET, SO_RCVBUF, &(int){ RCVBUF },
	    sizeof(int));
	run(&u);
	free(u.in);
	free(u.rx);
	return u.rc;
}
