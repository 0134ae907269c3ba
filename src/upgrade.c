/*
 * upgrade.c - the hand-over's conversation on the socketpair (upgrade.h).
 *
 * Main thread of the old process (spawn, send the state, the control
 * records) and of the successor (receive the state).  Waits are cut into
 * slices of tick_ms so the caller's tick feeds the watchdog meanwhile;
 * each read or write of fdpass.c is bounded by the time left.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "handover.h"
#include "upgrade.h"
#include "worker.h"

pid_t
upgrade_spawn(const char *exe, char *const argv[], int *sock)
{
	struct handover_refuse r;
	uint8_t rec[64];
	size_t n;
	pid_t pid;
	int sv[2], fl;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Async-signal-safe calls only from here on. */
		if (sv[1] == UPGRADE_FD)
			(void)fcntl(UPGRADE_FD, F_SETFD, 0);
		else if (dup2(sv[1], UPGRADE_FD) == -1)
			_exit(127);
		(void)execv(exe, argv);
		memset(&r, 0, sizeof(r));
		r.what = HANDOVER_R_EXEC;
		r.code = (uint32_t)errno;
		n = handover_encode_refuse(rec, sizeof(rec), &r);
		if (n > 0 && n <= sizeof(rec))
			(void)!write(UPGRADE_FD, rec, n);
		_exit(127);
	}
	close(sv[1]);
	if ((fl = fcntl(sv[0], F_GETFL)) == -1 ||
	    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == -1) {
		/* Unusable: the child sees EOF and ends. */
		close(sv[0]);
		(void)kill(pid, SIGKILL);
		*sock = -1;
		return pid;
	}
	*sock = sv[0];
	return pid;
}

/* ms left before the deadline, at most one tick; 0: past it. */
static int
upgrade_slice(const struct upgrade_io *io)
{
	uint64_t now = worker_now_ms();

	if (now >= io->deadline)
		return 0;
	return io->deadline - now < io->tick_ms ?
	    (int)(io->deadline - now) : (int)io->tick_ms;
}

/* Wait for events on the socket, ticking; -1 ETIMEDOUT at the deadline. */
static int
upgrade_wait(struct upgrade_io *io, short events)
{
	struct pollfd pfd;
	int ms, r;

	pfd.fd = io->sock;
	pfd.events = events;
	for (;;) {
		if ((ms = upgrade_slice(io)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (io->tick != NULL)
			io->tick(io->arg);
	}
}

/* fdpass_*() with the time left, ticking while nothing moves. */
static int
upgrade_xfer(struct upgrade_io *io, bool out, void *buf, size_t len,
    int *fds, size_t nfds)
{
	int ms;

	if (upgrade_wait(io, out ? POLLOUT : POLLIN) == -1)
		return -1;
	if ((ms = upgrade_slice(io)) == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	/* fdpass waits at most ms for each read or write: the deadline
	 * may be passed by that much, the watchdog's tick by no more. */
	if (out)
		return fdpass_send(io->sock, buf, len, fds, nfds, ms);
	return fdpass_recv(io->sock, buf, len, fds, nfds, ms);
}

int
upgrade_send(struct upgrade_io *io, const uint8_t *rec, size_t len)
{
	return upgrade_xfer(io, true, (void *)(uintptr_t)rec, len, NULL, 0);
}

int
upgrade_recv(struct upgrade_io *io, uint8_t *buf, size_t cap, size_t *len)
{
	uint32_t n;

	if (cap < HANDOVER_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	if (upgrade_xfer(io, false, buf, HANDOVER_FRAME, NULL, 0) == -1)
		return -1;
	n = (uint32_t)buf[1] | (uint32_t)buf[2] << 8 |
	    (uint32_t)buf[3] << 16 | (uint32_t)buf[4] << 24;
	if (n > cap - HANDOVER_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	if (n > 0 && upgrade_xfer(io, false, buf + HANDOVER_FRAME, n, NULL,
	    0) == -1)
		return -1;
	*len = HANDOVER_FRAME + n;
	return 0;
}

int
upgrade_send_state(struct upgrade_io *io, const uint8_t *recs, size_t len,
    const size_t *fd_at, const int *fds, size_t nfds)
{
	struct handover_batch b;
	uint8_t rec[HANDOVER_FRAME + 16];
	size_t start = 0, end, k = 0, nb, n;

	while (start < len) {
		/* Up to FDPASS_MAX descriptors: cut before the next one. */
		nb = nfds - k < FDPASS_MAX ? nfds - k : FDPASS_MAX;
		end = k + nb < nfds ? fd_at[k + nb] : len;
		if (end - start > HANDOVER_MAX_BATCH) {
			errno = EMSGSIZE;
			return -1;
		}
		b.nfds = (uint32_t)nb;
		b.len = (uint32_t)(end - start);
		n = handover_encode_batch(rec, sizeof(rec), &b);
		if (n == 0 || n > sizeof(rec)) {
			errno = EINVAL;
			return -1;
		}
		if (upgrade_send(io, rec, n) == -1 ||
		    upgrade_xfer(io, true, (void *)(uintptr_t)(recs + start),
		    end - start, (int *)(uintptr_t)(fds + k), nb) == -1)
			return -1;
		start = end;
		k += nb;
	}
	return 0;
}

/* --- the successor ----------------------------------------------------- */

enum stage { ST_HEADER, ST_COUNTERS, ST_SOURCES, ST_BODY, ST_END };

struct rx {
	const struct upgrade_sink *sink;
	struct handover_header	 h;
	enum stage		 st;
	uint32_t		 left;		/* sources still to come */
	struct handover_source	 src[HANDOVER_SOURCES_PER_RECORD];
};

/* Decode one record of b[0..len): *used, or why not. */
static const char *
upgrade_one(struct rx *rx, const uint8_t *b, size_t len, const int *fds,
    size_t nfds, size_t *k, size_t *used)
{
	struct stats_snapshot s;
	struct handover_listener l;
	struct handover_conn c;
	enum handover_type t;
	enum handover_result r;
	const char *why = "a record cut across batches";
	size_t n;

	switch (rx->st) {
	case ST_HEADER:
		if ((r = handover_decode_header(b, len, &rx->h, used, &why)) !=
		    HANDOVER_OK)
			return r == HANDOVER_MORE ? "a record cut across "
			    "batches" : why;
		rx->st = ST_COUNTERS;
		return rx->sink->header(rx->sink->arg, &rx->h);
	case ST_COUNTERS:
		if ((r = handover_decode_counters(b, len, &s, used, &why)) !=
		    HANDOVER_OK)
			return r == HANDOVER_MORE ? "a record cut across "
			    "batches" : why;
		rx->left = rx->h.nsources;
		rx->st = rx->left > 0 ? ST_SOURCES : ST_BODY;
		return rx->sink->counters(rx->sink->arg, &s);
	case ST_SOURCES:
		if ((r = handover_decode_sources(b, len, rx->left, rx->src, &n,
		    used, &why)) != HANDOVER_OK)
			return r == HANDOVER_MORE ? "a record cut across "
			    "batches" : why;
		rx->left -= (uint32_t)n;
		if (rx->left == 0)
			rx->st = ST_BODY;
		return rx->sink->sources(rx->sink->arg, rx->src, n);
	case ST_BODY:
		if (handover_peek(b, len, &t, &why) != HANDOVER_OK)
			return why;
		if (t == HANDOVER_END) {
			r = handover_decode_end(b, len, used, &why);
			rx->st = ST_END;
		} else if (t == HANDOVER_LISTENER || t == HANDOVER_CONN) {
			if (*k >= nfds)
				return "a record without its descriptor";
			r = t == HANDOVER_LISTENER ?
			    handover_decode_listener(b, len, &l, used, &why) :
			    handover_decode_conn(b, len, &rx->h, &c, used,
			    &why);
			if (r == HANDOVER_OK) {
				int fd = fds[(*k)++];

				return t == HANDOVER_LISTENER ?
				    rx->sink->listener(rx->sink->arg, &l, fd) :
				    rx->sink->conn(rx->sink->arg, &c, fd);
			}
		} else
			return "unexpected record type";
		if (r != HANDOVER_OK)
			return r == HANDOVER_MORE ? "a record cut across "
			    "batches" : why;
		return NULL;
	default:
		return "records after the end";
	}
}

const char *
upgrade_recv_state(struct upgrade_io *io, const struct upgrade_sink *sink,
    char *ebuf, size_t elen)
{
	struct handover_batch b;
	static struct rx rx;		/* 24 KiB of sources: not on the stack */
	uint8_t rec[HANDOVER_FRAME + 16], *buf;
	int fds[FDPASS_MAX];
	const char *why;
	size_t n, off, used, k;

	memset(&rx, 0, sizeof(rx));
	rx.sink = sink;
	while (rx.st != ST_END) {
		if (upgrade_recv(io, rec, sizeof(rec), &n) == -1) {
			snprintf(ebuf, elen, "reading the state: %s",
			    strerror(errno));
			return ebuf;
		}
		why = NULL;
		if (handover_decode_batch(rec, n, &b, &used, &why) !=
		    HANDOVER_OK)
			return why != NULL ? why : "a batch cut short";
		if ((buf = malloc(b.len)) == NULL)
			return "out of memory";
		if (upgrade_xfer(io, false, buf, b.len, fds, b.nfds) == -1) {
			snprintf(ebuf, elen, "reading the state: %s",
			    strerror(errno));
			free(buf);
			return ebuf;
		}
		for (off = 0, k = 0, why = NULL; off < b.len && why == NULL;
		    off += used)
			why = upgrade_one(&rx, buf + off, b.len - off, fds,
			    b.nfds, &k, &used);
		if (why == NULL && k < b.nfds)
			why = "more descriptors than records";
		for (; k < b.nfds; k++)
			close(fds[k]);
		free(buf);
		if (why != NULL)
			return why;
	}
	return NULL;
}
