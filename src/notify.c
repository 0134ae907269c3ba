/*
 * notify.c - sd_notify(3) messages to the service manager.
 *
 * Thin on purpose: the policy (when READY=1 is true, what keeps the
 * watchdog fed) lives in server.c, next to the state it depends on.
 *
 * sd_notify() opens a new socket for every message.  When descriptors
 * run out (EMFILE under a connection flood) that fails, and a daemon
 * that still serves every connection it has would miss its WATCHDOG=1
 * and be killed by systemd, taking those connections with it.  So
 * notify_init() opens one datagram socket at start-up and every message
 * is a sendto() on it, to the path or abstract name in $NOTIFY_SOCKET:
 * the protocol of sd_notify(3), which the kernel stamps with our pid.
 * For an address of another kind, or if that socket cannot be had,
 * sd_notify() itself is used.  The environment is left in place: the
 * daemon notifies for its whole life, not once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "notify.h"
#include "stats.h"

static int			 notify_fd = -1;
static struct sockaddr_un	 notify_sa;
static socklen_t		 notify_salen;

void
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) < 2 || len >= sizeof(notify_sa.sun_path))
		return;
	memset(&notify_sa, 0, sizeof(notify_sa));
	notify_sa.sun_family = AF_UNIX;
	memcpy(notify_sa.sun_path, path, len);
	if (path[0] == '@')
		notify_sa.sun_path[0] = '\0';	/* abstract: no NUL at the end */
	notify_salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/'));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void
notify_close(void)
{
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}

static void
notify_send(const char *msg)
{
	ssize_t n;

	if (notify_fd == -1) {
		(void)sd_notify(0, msg);
		return;
	}
	do {
		n = sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
		    (const struct sockaddr *)&notify_sa, notify_salen);
	} while (n == -1 && errno == EINTR);
}

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void
notify_mainpid(pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "MAINPID=%d", (int)pid);
	notify_send(buf);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *text)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "STATUS=%s", text);
	notify_send(buf);
}

void
notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

uint64_t
notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

void
notify_format_status(const struct stats_snapshot *s, unsigned workers,
    char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 " connections open, %" PRIu64
	    " served; %" PRIu64 " bytes in, %" PRIu64 " out; %" PRIu64
	    " datagrams, %" PRIu64 " dropped, %" PRIu64 " rate-limited; "
	    "%u worker%s; %" PRIu64 " refused, %" PRIu64 " denied, %" PRIu64
	    " PROXY errors",
	    s->conns_open, s->conns_total, stats_bytes_in(s),
	    stats_bytes_out(s), s->dgrams_in, stats_dropped(s),
	    s->dropped_limited, workers, workers == 1 ? "" : "s",
	    stats_refused(s), stats_denied(s), s->refused_proxy);
}
