/*
 * echo-common.h - what the two plain echoes of bench/ (echo-ref.c on
 * epoll, echo-ref-uring.c on io_uring) do the same way: read a size
 * argument, open the listening and UDP sockets with the yardstick's
 * options, and judge a UDP source with the same loop guard.  Called by
 * their main threads at start, and by their loops for the guard.  No
 * code of the daemon: the yardstick shares nothing with what it measures.
 */
#ifndef ECHO_COMMON_H
#define ECHO_COMMON_H

#include <stdint.h>
#include <sys/socket.h>

/* A size in bytes, with k or m for KiB or MiB, in [lo, hi]; -1 if not. */
long	echo_size_arg(const char *s, long lo, long hi);

/*
 * A socket of type (SOCK_STREAM: listening, TCP_NODELAY; SOCK_DGRAM)
 * bound to addr:port, with SO_REUSEADDR and, where more than 0, SO_RCVBUF
 * and SO_SNDBUF (which turn autotuning off; accepted sockets inherit
 * them).  flags are or-ed into the type (SOCK_NONBLOCK).  On failure it
 * says why, prefixed with prog, and exits (64: a bad address; 71).
 */
int	echo_open_socket(const char *prog, const char *addr, const char *port,
	    int type, int flags, int rcvbuf, int sndbuf);

/*
 * The UDP loop guard, as upcased's: no reply to a source port below 1024
 * (another echo or chargen service) or to our own port.
 */
int	echo_source_ok(const struct sockaddr *sa, socklen_t len,
	    uint16_t own_port);

#endif
