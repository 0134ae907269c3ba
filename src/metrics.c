/*
 * metrics.c - the Prometheus exposition of the counters: a snapshot and
 * a few facts in, text out.  Pure (no I/O, no clock, no global state), so
 * the exact output is unit-tested; httpd.c serves it (main thread).
 *
 * Every family has # HELP and # TYPE, and every label value a family can
 * have is written from the start, 0 until something happens: a series
 * that appears only with its first event breaks rate() and alerts on
 * absent().  Labels are fixed strings of ours, so nothing is escaped but
 * the version, which comes from the build.
 *
 * The text format (0.0.4) and OpenMetrics 1.0.0 differ here only in
 * that OpenMetrics names a counter family without its _total suffix,
 * calls the build info an "info" family and ends with "# EOF".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"

struct out {
	char		*buf;
	size_t		 len;
	size_t		 off;	/* what the whole text needs so far */
	enum metrics_format fmt;
};

static void	put(struct out *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->off < o->len ? o->buf + o->off : NULL,
	    o->off < o->len ? o->len - o->off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->off += (size_t)n;
}

/*
 * # HELP and # TYPE of a family.  name is the sample name; a counter's
 * family is named without _total in OpenMetrics.
 */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	size_t n = strlen(name);

	if (o->fmt == METRICS_OPENMETRICS && strcmp(type, "counter") == 0 &&
	    n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	put(o, "# HELP %.*s %s\n", (int)n, name, help);
	put(o, "# TYPE %.*s %s\n", (int)n, name, type);
}

static void
sample(struct out *o, const char *name, uint64_t v)
{
	put(o, "%s %" PRIu64 "\n", name, v);
}

static void
labelled(struct out *o, const char *name, const char *label,
    const char *value, uint64_t v)
{
	put(o, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, value, v);
}

/* The version as a label value: \, " and newline escaped. */
static void
build_info(struct out *o, const char *version)
{
	const char *s;

	if (o->fmt == METRICS_OPENMETRICS) {
		put(o, "# HELP upcased_build The version of upcased.\n");
		put(o, "# TYPE upcased_build info\n");
	} else
		family(o, "upcased_build_info", "gauge",
		    "The version of upcased, as a label; always 1.");
	put(o, "upcased_build_info{version=\"");
	for (s = version; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			put(o, "\\%c", *s);
		else if (*s == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *s);
	}
	put(o, "\"} 1\n");
}

/* ms as seconds, exactly: "1.5", "0.001", "3600.0". */
static void
seconds(struct out *o, uint64_t ms)
{
	unsigned frac = (unsigned)(ms % 1000);

	if (frac == 0)
		put(o, "%" PRIu64 ".0", ms / 1000);
	else if (frac % 100 == 0)
		put(o, "%" PRIu64 ".%u", ms / 1000, frac / 100);
	else if (frac % 10 == 0)
		put(o, "%" PRIu64 ".%02u", ms / 1000, frac / 10);
	else
		put(o, "%" PRIu64 ".%03u", ms / 1000, frac);
}

/* Connection lifetimes: cumulative buckets, le in seconds. */
static void
duration(struct out *o, const struct stats_snapshot *st)
{
	const char *name = "upcased_connection_duration_seconds";
	uint64_t cum = 0;
	unsigned i;

	family(o, name, "histogram",
	    "How long closed TCP connections were open.");
	for (i = 0; i < STATS_DURATION_BUCKETS; i++) {
		cum += st->duration[i];
		put(o, "%s_bucket{le=\"", name);
		seconds(o, stats_duration_bound(i));
		put(o, "\"} %" PRIu64 "\n", cum);
	}
	cum += st->duration[STATS_DURATION_BUCKETS];
	put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	put(o, "%s_sum ", name);
	seconds(o, st->duration_ms);
	put(o, "\n%s_count %" PRIu64 "\n", name, cum);
}

static void
connections(struct out *o, const struct stats_snapshot *st)
{
	const char *n = "upcased_connections_refused_total";

	family(o, "upcased_connections_open", "gauge",
	    "TCP connections open now.");
	sample(o, "upcased_connections_open", st->conns_open);
	family(o, "upcased_connections_accepted_total", "counter",
	    "TCP connections admitted and served (a refused one counts only "
	    "in upcased_connections_refused_total).");
	sample(o, "upcased_connections_accepted_total", st->conns_total);
	family(o, n, "counter",
	    "TCP connections closed unanswered, by reason.");
	labelled(o, n, "reason", "max_connections", st->refused_max);
	labelled(o, n, "reason", "per_source", st->refused_source);
	labelled(o, n, "reason", "connection_rate", st->refused_rate);
	labelled(o, n, "reason", "out_of_memory", st->refused_oom);
	labelled(o, n, "reason", "denied", st->refused_denied);
	labelled(o, n, "reason", "proxy_header", st->refused_proxy);
	labelled(o, n, "reason", "lame_duck", st->lame_checks);
	n = "upcased_connections_closed_total";
	family(o, n, "counter",
	    "TCP connections admitted and served, then closed by upcased, by "
	    "reason.");
	labelled(o, n, "reason", "denied", st->closed_denied);
}

static void
traffic(struct out *o, const struct stats_snapshot *st)
{
	const char *in = "upcased_received_bytes_total";
	const char *out = "upcased_sent_bytes_total";
	const char *drop = "upcased_datagrams_dropped_total";

	family(o, in, "counter",
	    "Payload bytes received (TCP: without PROXY headers).");
	labelled(o, in, "protocol", "tcp", st->tcp_bytes_in);
	labelled(o, in, "protocol", "udp", st->udp_bytes_in);
	family(o, out, "counter", "Payload bytes sent.");
	labelled(o, out, "protocol", "tcp", st->tcp_bytes_out);
	labelled(o, out, "protocol", "udp", st->udp_bytes_out);
	family(o, "upcased_datagrams_received_total", "counter",
	    "UDP datagrams received.");
	sample(o, "upcased_datagrams_received_total", st->dgrams_in);
	family(o, "upcased_datagrams_sent_total", "counter",
	    "UDP replies sent.");
	sample(o, "upcased_datagrams_sent_total", st->dgrams_out);
	family(o, drop, "counter",
	    "UDP datagrams not answered, by reason.");
	labelled(o, drop, "reason", "loop_guard", st->dropped_loop);
	labelled(o, drop, "reason", "rate_limited", st->dropped_limited);
	labelled(o, drop, "reason", "denied", st->dropped_denied);
	labelled(o, drop, "reason", "truncated", st->dropped_truncated);
	labelled(o, drop, "reason", "send_failed", st->dropped_send);
	family(o, "upcased_pending_output_bytes", "gauge",
	    "Reply bytes queued for clients slower to read than to send, "
	    "all connections.");
	sample(o, "upcased_pending_output_bytes", st->pending_out);
}

size_t
metrics_render(const struct stats_snapshot *st,
    const struct metrics_info *info, enum metrics_format fmt, char *buf,
    size_t len)
{
	struct out o = { .buf = buf, .len = len, .fmt = fmt };
	const char *r = "upcased_reloads_total";

	if (len > 0)
		buf[0] = '\0';
	build_info(&o, info->version);
	family(&o, "upcased_start_time_seconds", "gauge",
	    "When upcased started, in seconds since the Unix epoch.");
	put(&o, "upcased_start_time_seconds %.3f\n", info->start_time);
	family(&o, "upcased_workers", "gauge", "Worker threads.");
	sample(&o, "upcased_workers", info->workers);
	family(&o, "upcased_max_connections", "gauge",
	    "The cap on open TCP connections in force.");
	sample(&o, "upcased_max_connections", info->max_connections);
	connections(&o, st);
	traffic(&o, st);
	family(&o, r, "counter", "Reloads (SIGHUP), by result.");
	labelled(&o, r, "result", "applied", info->reloads_applied);
	labelled(&o, r, "result", "refused", info->reloads_refused);
	duration(&o, st);
	if (fmt == METRICS_OPENMETRICS)
		put(&o, "# EOF\n");
	return o.off;
}

/*
 * The q of a media range's parameters ("version=1.0.0;q=0.5"): 1 when
 * absent, 0 for anything unreadable.
 */
static double
accept_q(const char *params, size_t n)
{
	const char *p = params, *end = params + n;
	double q;

	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		if (end - p > 2 && (p[0] == 'q' || p[0] == 'Q') &&
		    p[1] == '=') {
			if (sscanf(p + 2, "%lf", &q) != 1 || q < 0)
				return 0;
			return q > 1 ? 1 : q;
		}
		while (p < end && *p != ';')
			p++;
	}
	return 1;
}

enum metrics_format
metrics_negotiate(const char *accept)
{
	static const char om[] = "application/openmetrics-text";
	double best_om = 0, best_text = 0, q;
	const char *p = accept, *e, *semi;
	size_t n, tn;

	if (accept == NULL)
		return METRICS_TEXT;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, ",");
		e = p + n;
		semi = memchr(p, ';', n);
		tn = semi != NULL ? (size_t)(semi - p) : n;
		while (tn > 0 && (p[tn - 1] == ' ' || p[tn - 1] == '\t'))
			tn--;
		q = semi != NULL ? accept_q(semi, (size_t)(e - semi)) : 1;
		if (tn == sizeof(om) - 1 && strncasecmp(p, om, tn) == 0) {
			if (q > best_om)
				best_om = q;
		} else if (q > best_text)	/* text/plain, * / *, ... */
			best_text = q;
		p = e;
	}
	return best_om > 0 && best_om >= best_text ? METRICS_OPENMETRICS :
	    METRICS_TEXT;
}

const char *
metrics_content_type(enum metrics_format fmt)
{
	return fmt == METRICS_OPENMETRICS ?
	    "application/openmetrics-text; version=1.0.0; charset=utf-8" :
	    "text/plain; version=0.0.4; charset=utf-8";
}
