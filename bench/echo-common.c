/*
 * echo-common.c - the pieces echo-ref.c and echo-ref-uring.c share (see
 * echo-common.h).  No state; called from their main threads, and the
 * loop guard from their loops.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo-common.h"

long
echo_size_arg(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -1;
	return v;
}

static void
fail(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(71);
}

int
echo_open_socket(const char *prog, const char *addr, const char *port,
    int type, int flags, int rcvbuf, int sndbuf)
{
	struct addrinfo hints, *ai;
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, addr, gai_strerror(rc));
		exit(64);
	}
	fd = socket(ai->ai_family, type | flags | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fail(prog, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_STREAM)	/* inherited by accepted sockets */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1)
		fail(prog, "SO_RCVBUF");
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1)
		fail(prog, "SO_SNDBUF");
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		fail(prog, "bind");
	if (type == SOCK_STREAM && listen(fd, 4096) == -1)
		fail(prog, "listen");
	freeaddrinfo(ai);
	return fd;
}

int
echo_source_ok(const struct sockaddr *sa, socklen_t len, uint16_t own_port)
{
	uint16_t port;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)->
		    sin_port);
	else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6))
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_port);
	else
		return 0;
	return port >= 1024 && port != own_port;
}
