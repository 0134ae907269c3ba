/*
 * check_metrics.c - unit tests of metrics.c: the exposition, exactly, for
 * a snapshot whose every counter differs; its invariants (each family
 * has # HELP and # TYPE, buckets are cumulative, _count is the +Inf
 * bucket); OpenMetrics' differences; a short buffer; Accept headers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "unit.h"

static struct stats_snapshot st;
static const struct metrics_info info = {
	.version = "1.2.3", .start_time = 1700000000.25, .workers = 4,
	.max_connections = 10000, .reloads_applied = 2, .reloads_refused = 1,
};
static char buf[16384];

/* Every counter its own value; duration bucket i holds i connections. */
static void
fill(void)
{
	unsigned i;

	memset(&st, 0, sizeof(st));
	st.conns_open = 3;
	st.conns_total = 10;
	st.refused_max = 1;
	st.refused_source = 2;
	st.refused_rate = 3;
	st.refused_oom = 4;
	st.refused_denied = 5;
	st.refused_proxy = 6;
	st.lame_checks = 7;
	st.closed_denied = 8;
	st.tcp_bytes_in = 100;
	st.tcp_bytes_out = 101;
	st.udp_bytes_in = 200;
	st.udp_bytes_out = 201;
	st.dgrams_in = 20;
	st.dgrams_out = 19;
	st.dropped_loop = 11;
	st.dropped_limited = 12;
	st.dropped_denied = 13;
	st.dropped_truncated = 14;
	st.dropped_send = 15;
	st.pending_out = 4096;
	st.duration_ms = 123456;
	for (i = 0; i <= STATS_DURATION_BUCKETS; i++)
		st.duration[i] = i;
}

static const char golden[] =
	    "# HELP upcased_build_info The version of upcased, as a label; always 1.\n"
	    "# TYPE upcased_build_info gauge\n"
	    "upcased_build_info{version=\"1.2.3\"} 1\n"
	    "# HELP upcased_start_time_seconds When upcased started, in seconds since the Unix epoch.\n"
	    "# TYPE upcased_start_time_seconds gauge\n"
	    "upcased_start_time_seconds 1700000000.250\n"
	    "# HELP upcased_workers Worker threads.\n"
	    "# TYPE upcased_workers gauge\n"
	    "upcased_workers 4\n"
	    "# HELP upcased_max_connections The cap on open TCP connections in force.\n"
	    "# TYPE upcased_max_connections gauge\n"
	    "upcased_max_connections 10000\n"
	    "# HELP upcased_connections_open TCP connections open now.\n"
	    "# TYPE upcased_connections_open gauge\n"
	    "upcased_connections_open 3\n"
	    "# HELP upcased_connections_accepted_total TCP connections admitted and served (a refused one counts only in upcased_connections_refused_total).\n"
	    "# TYPE upcased_connections_accepted_total counter\n"
	    "upcased_connections_accepted_total 10\n"
	    "# HELP upcased_connections_refused_total TCP connections closed unanswered, by reason.\n"
	    "# TYPE upcased_connections_refused_total counter\n"
	    "upcased_connections_refused_total{reason=\"max_connections\"} 1\n"
	    "upcased_connections_refused_total{reason=\"per_source\"} 2\n"
	    "upcased_connections_refused_total{reason=\"connection_rate\"} 3\n"
	    "upcased_connections_refused_total{reason=\"out_of_memory\"} 4\n"
	    "upcased_connections_refused_total{reason=\"denied\"} 5\n"
	    "upcased_connections_refused_total{reason=\"proxy_header\"} 6\n"
	    "upcased_connections_refused_total{reason=\"lame_duck\"} 7\n"
	    "# HELP upcased_connections_closed_total TCP connections admitted and served, then closed by upcased, by reason.\n"
	    "# TYPE upcased_connections_closed_total counter\n"
	    "upcased_connections_closed_total{reason=\"denied\"} 8\n"
	    "# HELP upcased_received_bytes_total Payload bytes received (TCP: without PROXY headers).\n"
	    "# TYPE upcased_received_bytes_total counter\n"
	    "upcased_received_bytes_total{protocol=\"tcp\"} 100\n"
	    "upcased_received_bytes_total{protocol=\"udp\"} 200\n"
	    "# HELP upcased_sent_bytes_total Payload bytes sent.\n"
	    "# TYPE upcased_sent_bytes_total counter\n"
	    "upcased_sent_bytes_total{protocol=\"tcp\"} 101\n"
	    "upcased_sent_bytes_total{protocol=\"udp\"} 201\n"
	    "# HELP upcased_datagrams_received_total UDP datagrams received.\n"
	    "# TYPE upcased_datagrams_received_total counter\n"
	    "upcased_datagrams_received_total 20\n"
	    "# HELP upcased_datagrams_sent_total UDP replies sent.\n"
	    "# TYPE upcased_datagrams_sent_total counter\n"
	    "upcased_datagrams_sent_total 19\n"
	    "# HELP upcased_datagrams_dropped_total UDP datagrams not answered, by reason.\n"
	    "# TYPE upcased_datagrams_dropped_total counter\n"
	    "upcased_datagrams_dropped_total{reason=\"loop_guard\"} 11\n"
	    "upcased_datagrams_dropped_total{reason=\"rate_limited\"} 12\n"
	    "upcased_datagrams_dropped_total{reason=\"denied\"} 13\n"
	    "upcased_datagrams_dropped_total{reason=\"truncated\"} 14\n"
	    "upcased_datagrams_dropped_total{reason=\"send_failed\"} 15\n"
	    "# HELP upcased_pending_output_bytes Reply bytes queued for clients slower to read than to send, all connections.\n"
	    "# TYPE upcased_pending_output_bytes gauge\n"
	    "upcased_pending_output_bytes 4096\n"
	    "# HELP upcased_reloads_total Reloads (SIGHUP), by result.\n"
	    "# TYPE upcased_reloads_total counter\n"
	    "upcased_reloads_total{result=\"applied\"} 2\n"
	    "upcased_reloads_total{result=\"refused\"} 1\n"
	    "# HELP upcased_connection_duration_seconds How long closed TCP connections were open.\n"
	    "# TYPE upcased_connection_duration_seconds histogram\n"
	    "upcased_connection_duration_seconds_bucket{le=\"0.001\"} 0\n"
	    "upcased_connection_duration_seconds_bucket{le=\"0.01\"} 1\n"
	    "upcased_connection_duration_seconds_bucket{le=\"0.1\"} 3\n"
	    "upcased_connection_duration_seconds_bucket{le=\"1.0\"} 6\n"
	    "upcased_connection_duration_seconds_bucket{le=\"10.0\"} 10\n"
	    "upcased_connection_duration_seconds_bucket{le=\"60.0\"} 15\n"
	    "upcased_connection_duration_seconds_bucket{le=\"300.0\"} 21\n"
	    "upcased_connection_duration_seconds_bucket{le=\"1800.0\"} 28\n"
	    "upcased_connection_duration_seconds_bucket{le=\"3600.0\"} 36\n"
	    "upcased_connection_duration_seconds_bucket{le=\"86400.0\"} 45\n"
	    "upcased_connection_duration_seconds_bucket{le=\"+Inf\"} 55\n"
	    "upcased_connection_duration_seconds_sum 123.456\n"
	    "upcased_connection_duration_seconds_count 55\n";

START_TEST(text_exact)
{
	size_t n;

	fill();
	n = metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	ck_assert_str_eq(buf, golden);
	ck_assert_uint_eq(n, strlen(golden));
}
END_TEST

/* The families named in a # TYPE line, and that each has a # HELP. */
START_TEST(every_family_has_help_and_type)
{
	char *text, *line, *save, name[128], help[160];
	unsigned types = 0;

	fill();
	(void)metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	text = strdup(buf);
	ck_assert_ptr_nonnull(text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "# TYPE %127s", name) != 1)
			continue;
		types++;
		snprintf(help, sizeof(help), "# HELP %s ", name);
		ck_assert_msg(strstr(buf, help) != NULL, "no HELP: %s", name);
		/* A sample of the family follows. */
		snprintf(help, sizeof(help), "\n%s", name);
		ck_assert_msg(strstr(buf, help) != NULL, "no sample: %s", name);
	}
	ck_assert_uint_eq(types, 16);
	free(text);
}
END_TEST

/* Nothing happened yet: every labelled series is there, at 0. */
START_TEST(zero_series_present)
{
	static const char *const series[] = {
		"upcased_connections_refused_total{reason=\"max_connections\"} 0\n",
		"upcased_connections_refused_total{reason=\"per_source\"} 0\n",
		"upcased_connections_refused_total{reason=\"connection_rate\"} 0\n",
		"upcased_connections_refused_total{reason=\"out_of_memory\"} 0\n",
		"upcased_connections_refused_total{reason=\"denied\"} 0\n",
		"upcased_connections_refused_total{reason=\"proxy_header\"} 0\n",
		"upcased_connections_refused_total{reason=\"lame_duck\"} 0\n",
		"upcased_connections_closed_total{reason=\"denied\"} 0\n",
		"upcased_datagrams_dropped_total{reason=\"loop_guard\"} 0\n",
		"upcased_datagrams_dropped_total{reason=\"rate_limited\"} 0\n",
		"upcased_datagrams_dropped_total{reason=\"denied\"} 0\n",
		"upcased_datagrams_dropped_total{reason=\"truncated\"} 0\n",
		"upcased_datagrams_dropped_total{reason=\"send_failed\"} 0\n",
		"upcased_received_bytes_total{protocol=\"udp\"} 0\n",
		"upcased_sent_bytes_total{protocol=\"tcp\"} 0\n",
		"upcased_connection_duration_seconds_bucket{le=\"+Inf\"} 0\n",
		"upcased_connection_duration_seconds_sum 0.0\n",
		"upcased_connection_duration_seconds_count 0\n",
	};
	size_t i;

	memset(&st, 0, sizeof(st));
	(void)metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	for (i = 0; i < sizeof(series) / sizeof(series[0]); i++)
		ck_assert_msg(strstr(buf, series[i]) != NULL, "missing: %s",
		    series[i]);
}
END_TEST

/* One connection in the last (+Inf) bucket only; sum in seconds. */
START_TEST(histogram_cumulative)
{
	memset(&st, 0, sizeof(st));
	st.duration[STATS_DURATION_BUCKETS] = 1;
	st.duration[0] = 2;
	st.duration_ms = 100000000 + 1;
	(void)metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_bucket{le=\"0.001\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_bucket{le=\"86400.0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_sum 100000.001\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_count 3\n"));
	st.duration_ms = 1250;
	(void)metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_connection_duration_seconds_sum 1.25\n"));
}
END_TEST

/* Counter families lose _total in OpenMetrics; samples keep it. */
START_TEST(openmetrics_differences)
{
	size_t n, tn;

	fill();
	tn = metrics_render(&st, &info, METRICS_TEXT, buf, sizeof(buf));
	n = metrics_render(&st, &info, METRICS_OPENMETRICS, buf, sizeof(buf));
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_ne(n, tn);
	ck_assert_ptr_nonnull(strstr(buf,
	    "# TYPE upcased_connections_accepted counter\n"
	    "upcased_connections_accepted_total 10\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "# HELP upcased_reloads Reloads (SIGHUP), by result.\n"));
	ck_assert_ptr_null(strstr(buf, "# TYPE upcased_reloads_total"));
	ck_assert_ptr_nonnull(strstr(buf, "# TYPE upcased_build info\n"
	    "upcased_build_info{version=\"1.2.3\"} 1\n"));
	/* Gauges and histograms keep their names. */
	ck_assert_ptr_nonnull(strstr(buf,
	    "# TYPE upcased_pending_output_bytes gauge\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "# TYPE upcased_connection_duration_seconds histogram\n"));
	ck_assert_str_eq(buf + n - 6, "# EOF\n");
}
END_TEST

/* Too short: cut, NUL-ended, and the length of the whole returned. */
START_TEST(short_buffer)
{
	char small[100];
	size_t n;

	fill();
	n = metrics_render(&st, &info, METRICS_TEXT, small, sizeof(small));
	ck_assert_uint_eq(n, strlen(golden));
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert(strncmp(small, golden, strlen(small)) == 0);
	ck_assert_uint_eq(metrics_render(&st, &info, METRICS_TEXT, NULL, 0),
	    n);
}
END_TEST

START_TEST(version_escaped)
{
	struct metrics_info odd = info;

	odd.version = "1\"2\\3\n";
	memset(&st, 0, sizeof(st));
	(void)metrics_render(&st, &odd, METRICS_TEXT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
	    "upcased_build_info{version=\"1\\\"2\\\\3\\n\"} 1\n"));
}
END_TEST

START_TEST(negotiate)
{
	ck_assert_int_eq(metrics_negotiate(NULL), METRICS_TEXT);
	ck_assert_int_eq(metrics_negotiate(""), METRICS_TEXT);
	ck_assert_int_eq(metrics_negotiate("*/*"), METRICS_TEXT);
	ck_assert_int_eq(metrics_negotiate("text/plain;version=0.0.4"),
	    METRICS_TEXT);
	/* What Prometheus sends. */
	ck_assert_int_eq(metrics_negotiate(
	    "application/openmetrics-text;version=1.0.0,"
	    "application/openmetrics-text;version=0.0.1;q=0.75,"
	    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), METRICS_OPENMETRICS);
	ck_assert_int_eq(metrics_negotiate("application/openmetrics-text"),
	    METRICS_OPENMETRICS);
	ck_assert_int_eq(metrics_negotiate(
	    "Application/OpenMetrics-Text ; q=0.9, text/plain;q=0.5"),
	    METRICS_OPENMETRICS);
	/* Plain text preferred, or OpenMetrics refused. */
	ck_assert_int_eq(metrics_negotiate(
	    "application/openmetrics-text;q=0.2, text/plain"), METRICS_TEXT);
	ck_assert_int_eq(metrics_negotiate("application/openmetrics-text;q=0"),
	    METRICS_TEXT);
	ck_assert_int_eq(metrics_negotiate(
	    "application/openmetrics-text-x, text/plain;q=0.1"), METRICS_TEXT);
}
END_TEST

START_TEST(content_types)
{
	ck_assert_str_eq(metrics_content_type(METRICS_TEXT),
	    "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_str_eq(metrics_content_type(METRICS_OPENMETRICS),
	    "application/openmetrics-text; version=1.0.0; charset=utf-8");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, text_exact);
	tcase_add_test(tc, every_family_has_help_and_type);
	tcase_add_test(tc, zero_series_present);
	tcase_add_test(tc, histogram_cumulative);
	tcase_add_test(tc, openmetrics_differences);
	tcase_add_test(tc, short_buffer);
	tcase_add_test(tc, version_escaped);
	tcase_add_test(tc, negotiate);
	tcase_add_test(tc, content_types);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
