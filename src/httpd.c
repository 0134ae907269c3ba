/*
 * httpd.c - owns the metrics endpoint's HTTP server; main thread.
 *
 * libmicrohttpd (MHD) does the HTTP; we never parse a request.  It runs
 * without threads of its own ("external" polling with epoll): the main
 * loop polls MHD's epoll descriptor, and MHD_run() handles whatever is
 * ready without blocking, as every socket is non-blocking.  MHD has no
 * listening socket either (MHD_USE_NO_LISTEN_SOCKET): the endpoint's
 * listeners belong to listen.c like the echo ones, so socket activation
 * and reload work the same way for both, a reload that moves the
 * endpoint keeps the HTTP connections it has, and one daemon with one
 * connection cap serves every address.  We accept from the listeners
 * and pass each connection with MHD_add_connection(), which closes it
 * at once past the cap.
 *
 * A scrape renders a fresh pool_stats() snapshot (metrics.c) in the
 * request handler: nothing is shared with the workers but the counters
 * they already publish.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "httpd.h"
#include "listen.h"
#include "log.h"
#include "worker.h"

#define ACCEPT_BATCH	16	/* per listener per loop turn */
#define PAUSE_MS	100	/* out of descriptors: stop accepting */
#define FIRST_BUF	8192	/* the text is about 4 KB */

struct httpd {
	struct MHD_Daemon		*d;
	int				 epfd;	/* MHD's */
	const struct listener_set	*set;
	httpd_fill_fn			 fill;
	void				*arg;
	uint64_t			 paused_until;	/* worker_now_ms() */
	bool				 warned;	/* about EMFILE */
};

struct httpd *
httpd_new(httpd_fill_fn fill, void *arg)
{
	struct httpd *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->epfd = -1;
	h->fill = fill;
	h->arg = arg;
	return h;
}

/* A small text answer: 404, 405. */
static enum MHD_Result
httpd_text(struct MHD_Connection *c, unsigned status, const char *text,
    bool allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	/* Persistent: MHD never writes to it (the API is not const). */
	r = MHD_create_response_from_buffer(strlen(text),
	    (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (allow)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* GET or HEAD /metrics: MHD leaves the body out for HEAD. */
static enum MHD_Result
httpd_metrics(struct httpd *h, struct MHD_Connection *c)
{
	struct stats_snapshot st;
	struct metrics_info info;
	struct MHD_Response *r;
	enum metrics_format fmt;
	enum MHD_Result rc;
	char *buf, *more;
	size_t len = FIRST_BUF, n;

	fmt = metrics_negotiate(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	memset(&st, 0, sizeof(st));
	memset(&info, 0, sizeof(info));
	h->fill(h->arg, &st, &info);
	if ((buf = malloc(len)) == NULL)
		return MHD_NO;
	if ((n = metrics_render(&st, &info, fmt, buf, len)) >= len) {
		len = n + 1;
		if ((more = realloc(buf, len)) == NULL) {
			free(buf);
			return MHD_NO;
		}
		buf = more;
		(void)metrics_render(&st, &info, fmt, buf, len);
	}
	r = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    metrics_content_type(fmt));
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/*
 * Each request, once its headers are in.  The answer is queued at once:
 * a body sent with another method is not read, and MHD closes the
 * connection after the answer instead.
 */
static enum MHD_Result
httpd_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req)
{
	struct httpd *h = cls;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return httpd_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed: GET or HEAD /metrics\n", true);
	if (strcmp(url, "/metrics") != 0)
		return httpd_text(c, MHD_HTTP_NOT_FOUND,
		    "not found: the metrics are at /metrics\n", false);
	return httpd_metrics(h, c);
}

static int
httpd_start(struct httpd *h, char *err, size_t len)
{
	const union MHD_DaemonInfo *di;

	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET,
	    0, NULL, NULL, httpd_request, h,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_MEMORY,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, len, "metrics: cannot start the HTTP server "
		    "(libmicrohttpd)");
		return -1;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || di->epoll_fd < 0) {
		MHD_stop_daemon(h->d);
		h->d = NULL;
		snprintf(err, len, "metrics: libmicrohttpd has no epoll "
		    "descriptor");
		return -1;
	}
	h->epfd = di->epoll_fd;
	return 0;
}

int
httpd_listen(struct httpd *h, const struct listener_set *set, char *err,
    size_t len)
{
	if (h->d == NULL && set->n > 0 && httpd_start(h, err, len) == -1)
		return -1;
	h->set = set;
	return 0;
}

size_t
httpd_pollfds(struct httpd *h, struct pollfd *pfd, int *timeout)
{
	MHD_UNSIGNED_LONG_LONG ms;
	uint64_t now;
	size_t n = 0, i;

	if (h->d == NULL)
		return 0;
	pfd[n].fd = h->epfd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
		if (ms > INT_MAX)
			ms = INT_MAX;
		if (*timeout < 0 || ms < (MHD_UNSIGNED_LONG_LONG)*timeout)
			*timeout = (int)ms;
	}
	now = worker_now_ms();
	if (now < h->paused_until) {
		if (*timeout < 0 || h->paused_until - now <
		    (uint64_t)*timeout)
			*timeout = (int)(h->paused_until - now);
		return n;
	}
	for (i = 0; h->set != NULL && i < h->set->n &&
	    n < HTTPD_POLLFDS; i++) {
		pfd[n].fd = h->set->l[i]->fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/* Take what waits on one listener, up to a batch. */
static void
httpd_accept(struct httpd *h, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (listen_accept_error(errno)) {
			case LISTEN_ACCEPT_DRAINED:
				return;
			case LISTEN_ACCEPT_SKIP:
				continue;
			case LISTEN_ACCEPT_BACKOFF:
				break;
			}
			/* Level-triggered: do not spin on it. */
			h->paused_until = worker_now_ms() + PAUSE_MS;
			if (!h->warned)
				log_warn("metrics: accept");
			h->warned = true;
			return;
		}
		h->warned = false;
		/* Past the cap MHD closes it: that is the answer. */
		(void)MHD_add_connection(h->d, fd, (struct sockaddr *)&ss,
		    sslen);
	}
}

void
httpd_run(struct httpd *h, const struct pollfd *pfd, size_t n)
{
	size_t i;
	bool accepted;

	if (h->d == NULL)
		return;
	/*
	 * Ready sockets, and timeouts: never blocks.  First, as it also
	 * frees the slots of connections closed since the last turn, which
	 * a new one may need.
	 */
	(void)MHD_run(h->d);
	for (i = 1, accepted = false; i < n; i++)
		if (pfd[i].revents & POLLIN) {
			httpd_accept(h, pfd[i].fd);
			accepted = true;
		}
	/* The new ones' requests are likely in already. */
	if (accepted)
		(void)MHD_run(h->d);
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	free(h);
}
