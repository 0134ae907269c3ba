/*
 * notify.h - talking to the service manager (sd_notify).
 *
 * Main thread only.  Without $NOTIFY_SOCKET every call is a no-op, so the
 * daemon behaves the same in a terminal.
 */
#ifndef UPCASED_NOTIFY_H
#define UPCASED_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

struct stats_snapshot;

/* Open the one socket every message goes out on (see notify.c). */
void	notify_init(void);
void	notify_close(void);

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);
void	notify_mainpid(pid_t pid);	/* the hand-over's successor */
void	notify_status(const char *text);
void	notify_watchdog(void);

/* The watchdog period in microseconds, or 0 if none is asked for. */
uint64_t notify_watchdog_usec(void);

/* The STATUS= text for the counters: "N connections open, ..." */
void	notify_format_status(const struct stats_snapshot *s,
	    unsigned workers, char *buf, size_t len);

#endif
