/*
 * echo-ref.c - the plainest echo server the kernel allows: the yardstick.
 *
 * bench/run measures upcased against this program in the same run, so a
 * ratio says what upcased costs beyond the kernel's own work.  It uses the
 * same event model as upcased and nothing more: one thread, one epoll set,
 * level-triggered; TCP input is read into one 64 KiB buffer and written
 * straight back, and only what the kernel does not take is queued (while
 * anything is queued the connection is not read); UDP comes in with
 * recvmmsg(2) and goes back with sendmmsg(2) from the receive slots.  No
 * transform, no limits, no timers, no logging.  The one check kept is
 * upcased's echo-loop guard (no UDP reply to a port below 1024 or to our
 * own port), so two echo services can never ping-pong through it.
 *
 * A connection costs one pointer in a table indexed by descriptor while it
 * is idle, so its memory per idle connection is the floor too.
 *
 * usage: echo-ref -p PORT [-b ADDR]	(ADDR: numeric, default 127.0.0.1)
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE	65536
#define ACCEPT_BATCH	64
#define EVENTS_MAX	256
#define UDP_BATCH	32
#define UDP_SLOT	65536

/* Output the kernel did not take; a connection without one has NULL. */
struct pend {
	size_t		 off;
	size_t		 len;
	uint8_t		 data[];
};

static int		 tcp_lfd = -1, udp_fd = -1;
static uint16_t		 own_port;
static struct pend	**pend;		/* indexed by descriptor */
static size_t		 npend;
static uint8_t		 buf[READ_SIZE];

static struct mmsghdr	 umsg[UDP_BATCH];
static struct iovec	 uiov[UDP_BATCH];
static struct sockaddr_storage ufrom[UDP_BATCH];
static uint8_t		*uslots;

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

/* Send p; queue what the kernel does not take.  -1: close the socket. */
static int
conn_echo(int ep, int fd, const uint8_t *p, size_t len)
{
	struct pend *q;
	ssize_t n;

	n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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
	return conn_watch(ep, fd, EPOLL_CTL_MOD, EPOLLOUT);
}

static void
conn_event(int ep, int fd, uint32_t events)
{
	struct pend *q = (size_t)fd < npend ? pend[fd] : NULL;
	ssize_t n;

	if (q != NULL) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		n = send(fd, q->data + q->off, q->len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(fd);
			return;
		}
		if (n > 0) {
			q->off += (size_t)n;
			q->len -= (size_t)n;
		}
		if (q->len == 0) {
			free(q);
			pend[fd] = NULL;
			if (conn_watch(ep, fd, EPOLL_CTL_MOD, EPOLLIN) == -1)
				conn_close(fd);
		}
		return;
	}
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0) {
		if (conn_echo(ep, fd, buf, (size_t)n) == -1)
			conn_close(fd);
		return;
	}
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		conn_close(fd);
}

static void
tcp_accept(int ep)
{
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(tcp_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;		/* EAGAIN, or EMFILE: try later */
		if ((size_t)fd >= npend ||
		    conn_watch(ep, fd, EPOLL_CTL_ADD, EPOLLIN) == -1)
			close(fd);
	}
}

static int
udp_source_ok(const struct sockaddr_storage *ss)
{
	uint16_t port;

	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)ss)->
		    sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)ss)->
		    sin6_port);
	else
		return 0;
	return port >= 1024 && port != own_port;
}

static void
udp_serve(void)
{
	int n, i, k, r;

	for (i = 0; i < UDP_BATCH; i++) {
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
	n = recvmmsg(udp_fd, umsg, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	/* Compact the replies to the front, in place. */
	for (i = k = 0; i < n; i++) {
		if (!udp_source_ok(&ufrom[i]) ||
		    (umsg[i].msg_hdr.msg_flags & MSG_TRUNC))
			continue;
		uiov[i].iov_len = umsg[i].msg_len;
		if (k != i)
			umsg[k].msg_hdr = umsg[i].msg_hdr;
		k++;
	}
	for (i = 0; i < k; i += r) {
		r = sendmmsg(udp_fd, umsg + i, (unsigned)(k - i), MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR) {
				r = 0;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return;		/* UDP drops, so do we */
			r = 1;			/* skip the one refused */
		}
	}
}

static int
open_socket(const char *addr, const char *port, int type)
{
	struct addrinfo hints, *ai;
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0) {
		fprintf(stderr, "echo-ref: %s: %s\n", addr, gai_strerror(rc));
		exit(64);
	}
	fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_STREAM)	/* inherited by accepted sockets */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 4096) == -1)
		die("listen");
	freeaddrinfo(ai);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[EVENTS_MAX];
	struct rlimit rl;
	const char *addr = "127.0.0.1", *port = NULL;
	char *end;
	long pn;
	int ch, ep, n, i, fd;

	while ((ch = getopt(argc, argv, "p:b:")) != -1) {
		switch (ch) {
		case 'p':
			port = optarg;
			break;
		case 'b':
			addr = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (port == NULL || optind != argc)
		goto usage;
	pn = strtol(port, &end, 10);
	if (*end != '\0' || pn < 1 || pn > 65535)
		goto usage;
	own_port = (uint16_t)pn;

	/* As many descriptors as the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	npend = rl.rlim_cur > (1u << 22) ? (1u << 22) : (size_t)rl.rlim_cur;
	if ((pend = calloc(npend, sizeof(*pend))) == NULL)
		die("calloc");
	/* 2 MiB of address space, backed only where datagrams land. */
	if ((uslots = malloc((size_t)UDP_BATCH * UDP_SLOT)) == NULL)
		die("malloc");
	(void)signal(SIGPIPE, SIG_IGN);

	tcp_lfd = open_socket(addr, port, SOCK_STREAM);
	udp_fd = open_socket(addr, port, SOCK_DGRAM);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    conn_watch(ep, tcp_lfd, EPOLL_CTL_ADD, EPOLLIN) == -1 ||
	    conn_watch(ep, udp_fd, EPOLL_CTL_ADD, EPOLLIN) == -1)
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
				udp_serve();
			else if (fd == tcp_lfd)
				tcp_accept(ep);
			else
				conn_event(ep, fd, evs[i].events);
		}
	}

usage:
	fprintf(stderr, "usage: echo-ref -p PORT [-b ADDR]\n");
	return 64;
}
