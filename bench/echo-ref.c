/*
 * echo-ref.c - the fastest plain epoll echo we know how to write: the
 * yardstick.
 *
 * bench/run measures upcased against this program in the same run, so a
 * ratio says what upcased costs beyond the kernel's own work.  It is
 * written to be fast, not to share upcased's choices: one thread (unless
 * --workers), one epoll set, level-triggered; TCP input is read into one
 * 512 KiB buffer, once per connection per wake-up, and written straight
 * back.  Only what the kernel does not take is queued (at most one buffer
 * per connection; while anything is queued the connection is not read).
 * SO_SNDBUF and SO_RCVBUF are asked for 4 MiB (capped at
 * net.core.[wr]mem_max, then doubled by the kernel), which turns their
 * autotuning off and saves bulk some 14 % of its CPU per MB.  UDP comes in with recvmmsg(2) and goes
 * back with sendmmsg(2) from the receive slots, 64 at a time.  No
 * transform, no limits, no timers, no logging.  The one check kept is
 * upcased's echo-loop guard (no UDP reply to a port below 1024 or to our
 * own port), so two echo services can never ping-pong through it.
 *
 * --budget=BYTES reads again while a read fills the buffer, up to that
 * many bytes per connection per wake-up.  On loopback it saved no CPU per
 * MB, and it gave a bulk client beside 1,000 ping-pong ones a larger share
 * of the loop; with no bound the bulk client starves them.  So the
 * default is one read.
 *
 * Every choice has a switch, so each can be measured on its own (see
 * bench/README.md, "The yardstick: choices and their measured effect");
 * --upcased-model puts back upcased's event model (64 KiB, one read per
 * wake-up, level-triggered, MSG_DONTWAIT, 32 datagrams per batch), the
 * yardstick before issue 13.
 *
 * A connection costs one pointer in a table indexed by descriptor while it
 * is idle, so its memory per idle connection is the floor too.
 *
 * --workers=N runs N threads, each with its own epoll set and its own
 * connections, polling the same two listening sockets with EPOLLEXCLUSIVE
 * (one waiting thread wakes per new connection or datagram): upcased's
 * design, so that bench/run --workers compares like with like.  Nothing
 * is shared but the listening sockets: each thread has its own table of
 * queued output, and a descriptor is touched only by the thread that
 * accepted it.  With N > 1 the listeners are level-triggered even under
 * --et: an EPOLLEXCLUSIVE registration cannot be re-armed with
 * EPOLL_CTL_MOD.  The default, one worker, is the loop as it was.
 *
 * usage: echo-ref -p PORT [-b ADDR] [options]	(see usage() below)
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo-common.h"

#define ACCEPT_BATCH	64
#define EVENTS_MAX	256
#define UDP_BATCH_MAX	1024
#define UDP_SLOT	65536

/* The choices, each a switch; the defaults are the fast ones. */
static struct {
	size_t		 bufsize;	/* --buf: TCP read buffer */
	size_t		 budget;	/* --budget: bytes per wake-up; 0: one read */
	int		 et;		/* --et / --lt */
	int		 rcvbuf;	/* --rcvbuf: 0 leaves autotuning on */
	int		 sndbuf;	/* --sndbuf */
	int		 rflags;	/* --msg-dontwait adds MSG_DONTWAIT */
	int		 sflags;
	unsigned	 udp_batch;	/* --udp-batch: datagrams per call */
	unsigned	 udp_calls;	/* --udp-calls: full batches per wake-up */
	unsigned	 workers;	/* --workers: threads, each its own loop */
} opt = {
	512 * 1024, 0, 0, 4 << 20, 4 << 20, 0, MSG_NOSIGNAL, 64, 4, 1
};

/* Output the kernel did not take; a connection without one has NULL. */
struct pend {
	size_t		 off;
	size_t		 len;
	uint8_t		 data[];
};

static int		 tcp_lfd = -1, udp_fd = -1;
static uint16_t		 own_port;
static size_t		 npend;		/* slots in each pend table */
static int		 lsn_et;	/* listeners edge-triggered */

/*
 * Each worker's own: its table of queued output, indexed by descriptor
 * (a descriptor another worker closed may come back to us from accept(),
 * and a shared table would pass its slot between threads with nothing
 * but the kernel in between; own tables also share no cache lines), and
 * its buffers.
 */
static _Thread_local struct pend **pend;
static _Thread_local uint8_t	*buf;
static _Thread_local struct mmsghdr *umsg;
static _Thread_local struct iovec *uiov;
static _Thread_local struct sockaddr_storage *ufrom;
static _Thread_local uint8_t	*uslots;

static void
die(const char *what)
{
	perror(what);
	exit(71);
}

static void
conn_close(int fd)
{
	if ((size_t)fd < npend) {
		free(pend[fd]);
		pend[fd] = NULL;
	}
	close(fd);		/* also leaves the epoll set */
}

static int
conn_watch(int ep, int fd, int op, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.fd = fd;
	return epoll_ctl(ep, op, fd, &ev);
}

/* What a connection waits for: level-triggered, input or output. */
#define EV_TCP_ET	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* Send p; queue what the kernel does not take.  -1: close the socket. */
static int
conn_echo(int ep, int fd, const uint8_t *p, size_t len)
{
	struct pend *q;
	ssize_t n;

	n = send(fd, p, len, opt.sflags);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		n = 0;
	}
	if ((size_t)n == len)
		return 0;
	if ((q = malloc(sizeof(*q) + len - (size_t)n)) == NULL)
		return -1;
	q->off = 0;
	q->len = len - (size_t)n;
	memcpy(q->data, p + n, q->len);
	pend[fd] = q;
	if (opt.et)		/* EPOLLOUT is watched already */
		return 0;
	return conn_watch(ep, fd, EPOLL_CTL_MOD, EPOLLOUT);
}

/*
 * Read and echo until a read comes back short (the socket is empty: a
 * byte arriving later is a new edge), the kernel refuses output, or the
 * budget is spent.  Level-triggered, a connection left readable is
 * reported again by the next epoll_wait(); edge-triggered, it is re-armed
 * with EPOLL_CTL_MOD, which queues a new event while it is readable.
 */
static void
conn_read(int ep, int fd)
{
	size_t total = 0;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, opt.bufsize, opt.rflags);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR))
				conn_close(fd);
			return;
		}
		if (conn_echo(ep, fd, buf, (size_t)n) == -1) {
			conn_close(fd);
			return;
		}
		if (pend[fd] != NULL || (size_t)n < opt.bufsize)
			return;
		total += (size_t)n;
		if (total >= opt.budget)
			break;
	}
	if (opt.et && conn_watch(ep, fd, EPOLL_CTL_MOD, EV_TCP_ET) == -1)
		conn_close(fd);
}

static void
conn_event(int ep, int fd, uint32_t events)
{
	struct pend *q = (size_t)fd < npend ? pend[fd] : NULL;
	ssize_t n;

	if (q != NULL) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		n = send(fd, q->data + q->off, q->len, opt.sflags);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(fd);
			return;
		}
		if (n > 0) {
			q->off += (size_t)n;
			q->len -= (size_t)n;
		}
		if (q->len != 0)
			return;
		free(q);
		pend[fd] = NULL;
		if (!opt.et) {
			if (conn_watch(ep, fd, EPOLL_CTL_MOD, EPOLLIN) == -1)
				conn_close(fd);
			return;
		}
		/* Edge-triggered: input's edge may have passed meanwhile. */
	} else if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		return;
	conn_read(ep, fd);
}

static void
tcp_accept(int ep)
{
	uint32_t events = opt.et ? EV_TCP_ET : EPOLLIN;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(tcp_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;		/* EAGAIN, or EMFILE: try later */
		if ((size_t)fd >= npend ||
		    conn_watch(ep, fd, EPOLL_CTL_ADD, events) == -1)
			close(fd);
	}
	/* Edge-triggered with more waiting: ask to be told again. */
	if (lsn_et && conn_watch(ep, tcp_lfd, EPOLL_CTL_MOD,
	    EPOLLIN | EPOLLET) == -1)
		die("epoll_ctl");
}

/* One recvmmsg() and the sendmmsg()s of its replies; its count, or -1. */
static int
udp_batch(void)
{
	int n, i, k, r;

	for (i = 0; i < (int)opt.udp_batch; i++) {
		uiov[i].iov_base = uslots + (size_t)i * UDP_SLOT;
		uiov[i].iov_len = UDP_SLOT;
		umsg[i].msg_hdr.msg_name = &ufrom[i];
		umsg[i].msg_hdr.msg_namelen = sizeof(ufrom[i]);
		umsg[i].msg_hdr.msg_iov = &uiov[i];
		umsg[i].msg_hdr.msg_iovlen = 1;
		umsg[i].msg_hdr.msg_control = NULL;
		umsg[i].msg_hdr.msg_controllen = 0;
		umsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(udp_fd, umsg, opt.udp_batch, opt.rflags, NULL);
	if (n <= 0)
		return -1;
	/* Compact the replies to the front, in place. */
	for (i = k = 0; i < n; i++) {
		if (!echo_source_ok((struct sockaddr *)&ufrom[i],
		    umsg[i].msg_hdr.msg_namelen, own_port) ||
		    (umsg[i].msg_hdr.msg_flags & MSG_TRUNC))
			continue;
		uiov[i].iov_len = umsg[i].msg_len;
		if (k != i)
			umsg[k].msg_hdr = umsg[i].msg_hdr;
		k++;
	}
	for (i = 0; i < k; i += r) {
		r = sendmmsg(udp_fd, umsg + i, (unsigned)(k - i),
		    opt.sflags & ~MSG_NOSIGNAL);
		if (r == -1) {
			if (errno == EINTR) {
				r = 0;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				break;		/* UDP drops, so do we */
			r = 1;			/* skip the one refused */
		}
	}
	return n;
}

/* Full batches again, up to --udp-calls per wake-up. */
static void
udp_serve(int ep)
{
	unsigned c;

	for (c = 0; c < opt.udp_calls; c++)
		if (udp_batch() < (int)opt.udp_batch)
			return;
	if (lsn_et && conn_watch(ep, udp_fd, EPOLL_CTL_MOD,
	    EPOLLIN | EPOLLET) == -1)
		die("epoll_ctl");
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: echo-ref -p PORT [-b ADDR] [--buf=BYTES] [--budget=BYTES]\n"
	    "                [--et | --lt] [--rcvbuf=BYTES] [--sndbuf=BYTES]\n"
	    "                [--msg-dontwait] [--udp-batch=N] [--udp-calls=N]\n"
	    "                [--upcased-model] [--workers=N]\n"
	    "defaults: --buf=512k --budget=0 --lt --rcvbuf=4m --sndbuf=4m\n"
	    "          --udp-batch=64 --udp-calls=4 --workers=1\n"
	    "--budget=0: one read per wake-up; --rcvbuf=0, --sndbuf=0: "
	    "autotuned\n");
	exit(64);
}

/* A size in bytes, with k or m for KiB or MiB; usage() if not. */
static long
size_arg(const char *s, long lo, long hi)
{
	long v = echo_size_arg(s, lo, hi);

	if (v == -1)
		usage();
	return v;
}

static void
options(int argc, char *argv[], const char **addr, const char **port)
{
	static const struct option lopts[] = {
		{ "buf", required_argument, NULL, 'r' },
		{ "budget", required_argument, NULL, 'g' },
		{ "et", no_argument, NULL, 'E' },
		{ "lt", no_argument, NULL, 'L' },
		{ "rcvbuf", required_argument, NULL, 'R' },
		{ "sndbuf", required_argument, NULL, 'S' },
		{ "msg-dontwait", no_argument, NULL, 'D' },
		{ "udp-batch", required_argument, NULL, 'u' },
		{ "udp-calls", required_argument, NULL, 'c' },
		{ "upcased-model", no_argument, NULL, 'U' },
		{ "workers", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "p:b:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'p': *port = optarg; break;
		case 'b': *addr = optarg; break;
		case 'r': opt.bufsize = (size_t)size_arg(optarg, 1, 1L << 26);
			break;
		case 'g': opt.budget = (size_t)size_arg(optarg, 0, 1L << 40);
			break;
		case 'E': opt.et = 1; break;
		case 'L': opt.et = 0; break;
		case 'R': opt.rcvbuf = (int)size_arg(optarg, 0, 1L << 30);
			break;
		case 'S': opt.sndbuf = (int)size_arg(optarg, 0, 1L << 30);
			break;
		case 'D': opt.rflags |= MSG_DONTWAIT;
			opt.sflags |= MSG_DONTWAIT;
			break;
		case 'u': opt.udp_batch = (unsigned)size_arg(optarg, 1,
			    UDP_BATCH_MAX);
			break;
		case 'c': opt.udp_calls = (unsigned)size_arg(optarg, 1, 1000);
			break;
		case 'w': opt.workers = (unsigned)size_arg(optarg, 1, 256);
			break;
		case 'U':	/* the yardstick before issue 13 */
			opt.bufsize = 65536;
			opt.budget = 0;
			opt.et = 0;
			opt.rflags = MSG_DONTWAIT;
			opt.sflags = MSG_NOSIGNAL | MSG_DONTWAIT;
			opt.udp_batch = 32;
			opt.udp_calls = 1;
			opt.rcvbuf = opt.sndbuf = 0;
			break;
		default:
			usage();
		}
	}
	if (*port == NULL || optind != argc)
		usage();
}

/* This thread's buffers. */
static void
worker_buffers(void)
{
	if ((pend = calloc(npend, sizeof(*pend))) == NULL ||
	    (buf = malloc(opt.bufsize)) == NULL ||
	    (umsg = calloc(opt.udp_batch, sizeof(*umsg))) == NULL ||
	    (uiov = calloc(opt.udp_batch, sizeof(*uiov))) == NULL ||
	    (ufrom = calloc(opt.udp_batch, sizeof(*ufrom))) == NULL)
		die("calloc");
	/* Address space, backed only where datagrams land. */
	if ((uslots = malloc((size_t)opt.udp_batch * UDP_SLOT)) == NULL)
		die("malloc");
}

/*
 * One worker: its own epoll set over the shared listeners, and the
 * connections it accepts.  With one worker the listeners are registered
 * as before; with more, EPOLLEXCLUSIVE wakes one waiting worker.
 */
static void *
worker_loop(void *arg)
{
	struct epoll_event evs[EVENTS_MAX];
	uint32_t lev;
	int ep, n, i, fd;

	(void)arg;
	worker_buffers();
	lev = lsn_et ? EPOLLIN | EPOLLET : EPOLLIN;
	if (opt.workers > 1)
		lev |= EPOLLEXCLUSIVE;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    conn_watch(ep, tcp_lfd, EPOLL_CTL_ADD, lev) == -1 ||
	    conn_watch(ep, udp_fd, EPOLL_CTL_ADD, lev) == -1)
		die("epoll");
	for (;;) {
		n = epoll_wait(ep, evs, EVENTS_MAX, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == udp_fd)
				udp_serve(ep);
			else if (fd == tcp_lfd)
				tcp_accept(ep);
			else
				conn_event(ep, fd, evs[i].events);
		}
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct rlimit rl;
	const char *addr = "127.0.0.1", *port = NULL;
	pthread_t tid;
	long pn;
	unsigned w;

	options(argc, argv, &addr, &port);
	pn = size_arg(port, 1, 65535);
	own_port = (uint16_t)pn;

	/* As many descriptors as the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	npend = rl.rlim_cur > (1u << 22) ? (1u << 22) : (size_t)rl.rlim_cur;
	(void)signal(SIGPIPE, SIG_IGN);

	tcp_lfd = echo_open_socket("echo-ref", addr, port, SOCK_STREAM,
	    SOCK_NONBLOCK, opt.rcvbuf, opt.sndbuf);
	udp_fd = echo_open_socket("echo-ref", addr, port, SOCK_DGRAM,
	    SOCK_NONBLOCK, opt.rcvbuf, opt.sndbuf);
	/* EPOLLEXCLUSIVE registrations cannot be re-armed (EPOLL_CTL_MOD). */
	lsn_et = opt.et && opt.workers == 1;
	for (w = 1; w < opt.workers; w++) {
		errno = pthread_create(&tid, NULL, worker_loop, NULL);
		if (errno != 0)
			die("pthread_create");
	}
	(void)worker_loop(NULL);
	return 0;
}
