/*
 * listen.h - the listening sockets: bound from the config, or handed over
 * by systemd (socket activation).
 *
 * A listener_set is built by the main thread and is read-only afterwards;
 * workers register its descriptors in their epoll.  On reload the main
 * thread builds a new set, reusing the sockets that stay, and closes the
 * ones that go only after every worker has let go of them.
 *
 * The metrics endpoint's listeners (EV_HTTP_LISTEN) are a set of their
 * own, polled by the main thread (httpd.c) and never given to a worker,
 * so they may be closed as soon as a reload drops them.
 */
#ifndef UPCASED_LISTEN_H
#define UPCASED_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event.h"

struct config;

#define LISTEN_MAX	256

struct listener {
	struct evsrc		 ev;	/* EV_TCP_LISTEN, EV_UDP or
					   EV_HTTP_LISTEN */
	int			 fd;
	uint16_t		 port;
	bool			 pktinfo; /* wildcard UDP: reply from the
					     address the request came to */
	bool			 activated; /* passed by systemd */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 name[96];  /* "tcp [::]:8008" for logs */
};

struct listener_set {
	size_t			 n;
	struct listener		*l[LISTEN_MAX];
	bool			 activated;	/* from systemd */
};

/*
 * Take the sockets systemd passed (LISTEN_FDS): one named "metrics"
 * (FileDescriptorName=metrics) goes to *metrics, as the endpoint; every
 * other one to *set, as an echo listener.  Returns the number taken (0:
 * none were passed), or -1 with a message in err when a passed
 * descriptor is not an AF_INET/AF_INET6 listening stream socket or
 * datagram socket (a "metrics" one must be a listening stream socket).
 */
int	listen_from_systemd(struct listener_set *set,
	    struct listener_set *metrics, char *err, size_t len);

/*
 * A socket handed over by the process we take over from (SIGUSR2,
 * doc/handover.md): checked to be of kind (SO_TYPE, SO_ACCEPTCONN) and
 * bound to want's address (getsockname()), then added to set.  0, or -1
 * with a message in err and fd closed.
 */
int	listen_takeover(int fd, int kind, bool activated,
	    const struct sockaddr_storage *want, struct listener_set *set,
	    char *err, size_t len);

/*
 * Bind what cf asks for into *set, reusing the sockets of old (may be
 * NULL) that match protocol, address and port.  Returns 0, or -1 with a
 * message in err; on failure nothing of old is touched and every socket
 * opened by this call is closed again.
 */
int	listen_open(const struct config *cf, const struct listener_set *old,
	    struct listener_set *set, char *err, size_t len);

/* The same for the metrics endpoint: cf->metrics, into *set. */
int	listen_open_metrics(const struct config *cf,
	    const struct listener_set *old, struct listener_set *set,
	    char *err, size_t len);

/* Does set hold this very listener (by pointer)? */
bool	listen_set_has(const struct listener_set *set,
	    const struct listener *l);

/* Close and free the listeners of set that next does not hold (next may
 * be NULL: all of them), and empty set. */
void	listen_release(struct listener_set *set,
	    const struct listener_set *next);

/*
 * Stopping: make the kernel drop new SYNs on the TCP listeners we bound
 * ourselves (handshakes under way still complete), so their accept
 * queues stop growing and can be emptied before they are closed.  A
 * dropped SYN is sent again by the client and then refused once the
 * listener is closed: a balancer retries a refused connection elsewhere.
 * Sockets passed by systemd are left alone.  Main thread.
 */
void	listen_seal(const struct listener_set *set);

/* Close and free one listener. */
void	listen_close(struct listener *l);

/* What an accept(2) error means to a loop taking a listener's backlog
 * (pure; the echo engine and the metrics endpoint both ask). */
enum listen_accept_error {
	LISTEN_ACCEPT_DRAINED,	/* EAGAIN: nothing more waits */
	LISTEN_ACCEPT_SKIP,	/* concerns that one connection: go on */
	LISTEN_ACCEPT_BACKOFF	/* out of descriptors or memory, or
				   unexpected: pause, level-triggered
				   polling would spin on it */
};

enum listen_accept_error listen_accept_error(int err);

/* The UDP ports of set, for the echo loop guard.  Returns the count. */
size_t	listen_udp_ports(const struct listener_set *set, uint16_t *ports,
	    size_t max);

#endif
