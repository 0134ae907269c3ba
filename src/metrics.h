/*
 * metrics.h - the Prometheus exposition of the counters (pure: no I/O).
 *
 * httpd.c calls it on the main thread with a fresh pool_stats() snapshot
 * for each scrape.  Text format 0.0.4 by default, OpenMetrics 1.0.0 when
 * the scraper's Accept header prefers it.
 */
#ifndef UPCASED_METRICS_H
#define UPCASED_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

enum metrics_format {
	METRICS_TEXT,		/* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS	/* application/openmetrics-text 1.0.0 */
};

/* What the counters do not say. */
struct metrics_info {
	const char	*version;	/* PACKAGE_VERSION */
	double		 start_time;	/* seconds since the epoch */
	unsigned	 workers;
	unsigned	 max_connections;	/* in force (descriptor cap) */
	uint64_t	 reloads_applied;
	uint64_t	 reloads_refused;
};

/*
 * Write the exposition of st and info into buf (len bytes, NUL-ended if
 * len > 0).  Returns the length of the whole text, as snprintf(): a
 * result >= len means buf was too short.
 */
size_t	metrics_render(const struct stats_snapshot *st,
	    const struct metrics_info *info, enum metrics_format fmt,
	    char *buf, size_t len);

/* The format an Accept header (NULL: none) asks for. */
enum metrics_format metrics_negotiate(const char *accept);

/* The Content-Type of fmt. */
const char *metrics_content_type(enum metrics_format fmt);

#endif
