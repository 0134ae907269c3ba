/*
 * httpd.h - the metrics endpoint's HTTP server (libmicrohttpd), run on
 * the main thread's poll loop.  Main thread only.
 *
 * The main thread owns the endpoint's listening sockets (listen.c, a
 * set of their own: bound from metrics.ports or passed by systemd as
 * "metrics") and polls them with its other descriptors; httpd accepts
 * from them and hands each connection to one libmicrohttpd daemon, whose
 * epoll descriptor the loop polls too.  Nothing here blocks: a slow or
 * stalled HTTP client costs a connection slot (at most
 * HTTPD_MAX_CONNECTIONS, each closed after HTTPD_TIMEOUT_S of silence),
 * never the loop's time, so signals, reloads and WATCHDOG=1 go on.
 */
#ifndef UPCASED_HTTPD_H
#define UPCASED_HTTPD_H

#include <poll.h>
#include <stddef.h>

#include "metrics.h"

#define HTTPD_MAX_CONNECTIONS	64	/* more are accepted and closed */
#define HTTPD_TIMEOUT_S		10	/* idle connection closed */
#define HTTPD_MEMORY		16384	/* per connection: request, headers */
#define HTTPD_POLLFDS		(1 + 256)	/* daemon + LISTEN_MAX */

struct httpd;
struct listener_set;

/* Fills a scrape's snapshot and facts (the server, on the main thread). */
typedef void	(*httpd_fill_fn)(void *arg, struct stats_snapshot *st,
		    struct metrics_info *info);

/* An endpoint serving what fill says.  NULL if out of memory. */
struct httpd	*httpd_new(httpd_fill_fn fill, void *arg);

/*
 * Serve on the listeners of set (it stays the caller's, and must live
 * until the next call or httpd_free(); it may be empty).  The HTTP
 * daemon is started with the first listener.  Returns 0, or -1 with a
 * message in err when it cannot be started.  Connections already open
 * stay, whatever listener they came from.
 */
int	httpd_listen(struct httpd *h, const struct listener_set *set,
	    char *err, size_t len);

/*
 * The descriptors to poll, into pfd (room for HTTPD_POLLFDS): returns
 * how many.  *timeout (ms, -1 = none) is lowered to when the daemon
 * has something to do.
 */
size_t	httpd_pollfds(struct httpd *h, struct pollfd *pfd, int *timeout);

/* After poll(): accept, read, answer, time out (n as returned above). */
void	httpd_run(struct httpd *h, const struct pollfd *pfd, size_t n);

/* Close every HTTP connection and free h (not the listeners). */
void	httpd_free(struct httpd *h);

#endif
