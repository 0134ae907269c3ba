/*
 * notify.c - sd_notify(3) messages to the service manager.
 *
 * Thin on purpose: the policy (when READY=1 is true, what keeps the
 * watchdog fed) lives in server.c, next to the state it depends on.
 * The environment is left in place (unset_environment = 0) because the
 * daemon notifies for its whole life, not once.
 */
#include <inttypes.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "notify.h"
#include "stats.h"

void
notify_ready(void)
{
	(void)sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	(void)sd_notify(0, "RELOADING=1");
}

void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *text)
{
	(void)sd_notifyf(0, "STATUS=%s", text);
}

void
notify_watchdog(void)
{
	(void)sd_notify(0, "WATCHDOG=1");
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
	    "%u worker%s",
	    s->conns_open, s->conns_total, s->bytes_in, s->bytes_out,
	    s->dgrams_in, s->dgrams_dropped, s->dgrams_limited, workers,
	    workers == 1 ? "" : "s");
}
