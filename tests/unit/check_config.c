/*
 * check_config.c - unit tests of config.c and confchild.c.
 *
 * Every rejected input is checked against its exact message, and every
 * accepted one field by field, so a changed default, range or wording
 * fails here first.  Files (for config_parse_file, @include and the
 * child parser) live in a mkdtemp() directory removed at the end.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <poll.h>
#include <unistd.h>

#include "addr.h"
#include "confchild.h"
#include "config.h"

static char tmpdir[] = "/tmp/check_config.XXXXXX";
static struct config cf;
static char err[CONFIG_ERRLEN];

/* --- helpers --------------------------------------------------------- */

static int
parse(const char *text)
{
	err[0] = '\0';
	return config_parse_string(text, "t.conf", &cf, err, sizeof(err));
}

static void
tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Write len bytes of text to the temporary file name; path into buf. */
static void
write_file(char *buf, size_t buflen, const char *name, const char *text,
    size_t len)
{
	FILE *fp;

	tmp_path(buf, buflen, name);
	fp = fopen(buf, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void
write_text(char *buf, size_t buflen, const char *name, const char *text)
{
	write_file(buf, buflen, name, text, strlen(text));
}

static void
assert_proto_eq(const struct config_proto *a, const struct config_proto *b)
{
	unsigned i;

	ck_assert_uint_eq(a->nports, b->nports);
	for (i = 0; i < a->nports; i++)
		ck_assert_uint_eq(a->ports[i], b->ports[i]);
	ck_assert_uint_eq(a->nbinds, b->nbinds);
	for (i = 0; i < a->nbinds; i++) {
		ck_assert_str_eq(a->binds[i].text, b->binds[i].text);
		ck_assert_uint_eq(a->binds[i].addrlen, b->binds[i].addrlen);
		ck_assert(memcmp(&a->binds[i].addr, &b->binds[i].addr,
		    a->binds[i].addrlen) == 0);
	}
}

/* Every setting equal; the path is not a setting. */
static void
assert_config_eq(const struct config *a, const struct config *b)
{
	ck_assert_uint_eq(a->workers, b->workers);
	ck_assert_int_eq(a->transform, b->transform);
	ck_assert_uint_eq(a->udp_rate_limit, b->udp_rate_limit);
	ck_assert_uint_eq(a->tcp_send_buffer, b->tcp_send_buffer);
	ck_assert_uint_eq(a->tcp_receive_buffer, b->tcp_receive_buffer);
	ck_assert_uint_eq(a->max_per_source, b->max_per_source);
	ck_assert_uint_eq(a->crowded_idle_timeout, b->crowded_idle_timeout);
	ck_assert_uint_eq(a->udp_rate_burst, b->udp_rate_burst);
	ck_assert_uint_eq(a->udp_nbalancers, b->udp_nbalancers);
	ck_assert(memcmp(a->udp_balancers, b->udp_balancers,
	    a->udp_nbalancers * sizeof(a->udp_balancers[0])) == 0);
	assert_proto_eq(&a->tcp, &b->tcp);
	assert_proto_eq(&a->udp, &b->udp);
	assert_proto_eq(&a->metrics, &b->metrics);
	ck_assert_str_eq(a->exit_command, b->exit_command);
	ck_assert_uint_eq(a->max_connections, b->max_connections);
	ck_assert_uint_eq(a->idle_timeout, b->idle_timeout);
	ck_assert_uint_eq(a->max_pending_output, b->max_pending_output);
	ck_assert_uint_eq(a->drain_timeout, b->drain_timeout);
	ck_assert_uint_eq(a->lame_duck, b->lame_duck);
	ck_assert_int_eq(a->log_level, b->log_level);
}

static void
assert_defaults(const struct config *c)
{
	struct config def;

	config_defaults(&def);
	assert_config_eq(c, &def);
}

static void
accept_text(const char *text)
{
	ck_assert_msg(parse(text) == 0, "rejected: %s", err);
	ck_assert_str_eq(cf.path, "t.conf");
}

/* text must be refused with exactly msg (if any), leaving the defaults. */
static void
reject(const char *text, const char *msg)
{
	memset(&cf, 0xa5, sizeof(cf));
	ck_assert_int_eq(parse(text), -1);
	if (msg != NULL)
		ck_assert_str_eq(err, msg);
	assert_defaults(&cf);
	ck_assert_str_eq(cf.path, "t.conf");
}

#define REJECT(name, text, msg)						\
	START_TEST(name)						\
	{								\
		reject(text, msg);					\
	}								\
	END_TEST

/* "tcp = { ports = [ 1, 2, ... n ]; };" */
static void
ports_text(char *buf, size_t len, unsigned n)
{
	size_t o;
	unsigned i;

	o = (size_t)snprintf(buf, len, "tcp = { ports = [ ");
	for (i = 1; i <= n; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u",
		    i > 1 ? ", " : "", 1000 + i);
	snprintf(buf + o, len - o, " ]; };");
}

/* "udp = { bind = ( "127.0.0.1", "127.0.0.2", ... n ); };" */
static void
binds_text(char *buf, size_t len, unsigned n)
{
	size_t o;
	unsigned i;

	o = (size_t)snprintf(buf, len, "udp = { bind = ( ");
	for (i = 1; i <= n; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s\"127.0.0.%u\"",
		    i > 1 ? ", " : "", i);
	snprintf(buf + o, len - o, " ); };");
}

static const struct sockaddr_in *
sin4(const struct config_bind *b)
{
	return (const struct sockaddr_in *)(const void *)&b->addr;
}

static const struct sockaddr_in6 *
sin6(const struct config_bind *b)
{
	return (const struct sockaddr_in6 *)(const void *)&b->addr;
}

static char *
dump(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	config_dump(c, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return buf;
}

static unsigned
usable_cpus(void)
{
	cpu_set_t set;
	int n;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	n = CPU_COUNT(&set);
	if (n > CONFIG_MAX_WORKERS)
		n = CONFIG_MAX_WORKERS;
	return (unsigned)n;
}

static unsigned
open_fds(void)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	return n;
}

/* --- defaults -------------------------------------------------------- */

START_TEST(defaults_empty)
{
	accept_text("");
	ck_assert_uint_eq(cf.workers, 0);
	ck_assert_uint_eq(cf.tcp.nports, 1);
	ck_assert_uint_eq(cf.tcp.ports[0], 8008);
	ck_assert_uint_eq(cf.tcp.nbinds, 1);
	ck_assert_str_eq(cf.tcp.binds[0].text, "::");
	ck_assert_int_eq(cf.tcp.binds[0].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(cf.tcp.binds[0].addrlen,
	    sizeof(struct sockaddr_in6));
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(&sin6(&cf.tcp.binds[0])->sin6_addr));
	ck_assert_uint_eq(cf.udp.nports, 1);
	ck_assert_uint_eq(cf.udp.ports[0], 8008);
	ck_assert_uint_eq(cf.udp.nbinds, 1);
	ck_assert_str_eq(cf.udp.binds[0].text, "::");
	ck_assert_uint_eq(cf.metrics.nports, 0);
	ck_assert_uint_eq(cf.metrics.nbinds, 1);
	ck_assert_str_eq(cf.metrics.binds[0].text, "127.0.0.1");
	ck_assert_int_eq(cf.metrics.binds[0].addr.ss_family, AF_INET);
	ck_assert_uint_eq(sin4(&cf.metrics.binds[0])->sin_addr.s_addr,
	    htonl(INADDR_LOOPBACK));
	ck_assert_str_eq(cf.exit_command, "exit");
	ck_assert_uint_eq(cf.max_connections, 10000);
	ck_assert_uint_eq(cf.idle_timeout, 300);
	ck_assert_uint_eq(cf.max_pending_output, 1048576);
	ck_assert_uint_eq(cf.drain_timeout, 5);
	ck_assert_uint_eq(cf.lame_duck, 0);
	ck_assert_int_eq(cf.log_level, LOG_INFO);
}
END_TEST

START_TEST(defaults_function)
{
	struct config def;

	accept_text("");
	config_defaults(&def);
	assert_config_eq(&cf, &def);
}
END_TEST

START_TEST(defaults_comments_only)
{
	accept_text("# nothing\n// nothing\n/* nothing\n at all */\n\n");
	assert_defaults(&cf);
}
END_TEST

START_TEST(defaults_empty_groups)
{
	accept_text("tcp = { }; udp = { }; limits = { }; log = { };");
	assert_defaults(&cf);
}
END_TEST

/* --- accepted values ------------------------------------------------- */

START_TEST(workers_value)
{
	accept_text("workers = 4;");
	ck_assert_uint_eq(cf.workers, 4);
	ck_assert_uint_eq(config_effective_workers(&cf), 4);
}
END_TEST

START_TEST(workers_max)
{
	accept_text("workers = 256;");
	ck_assert_uint_eq(cf.workers, 256);
}
END_TEST

START_TEST(workers_colon_and_hex)
{
	accept_text("workers : 0x10;");
	ck_assert_uint_eq(cf.workers, 16);
}
END_TEST

START_TEST(workers_effective_cpus)
{
	accept_text("workers = 0;");
	ck_assert_uint_eq(config_effective_workers(&cf), usable_cpus());
	ck_assert_uint_ge(config_effective_workers(&cf), 1);
}
END_TEST

START_TEST(tcp_ports_array)
{
	accept_text("tcp = { ports = [ 1, 65535, 8080 ]; };");
	ck_assert_uint_eq(cf.tcp.nports, 3);
	ck_assert_uint_eq(cf.tcp.ports[0], 1);
	ck_assert_uint_eq(cf.tcp.ports[1], 65535);
	ck_assert_uint_eq(cf.tcp.ports[2], 8080);
	ck_assert_uint_eq(cf.udp.nports, 1);
	ck_assert_uint_eq(cf.udp.ports[0], 8008);
}
END_TEST

START_TEST(udp_ports_list)
{
	accept_text("udp = { ports = ( 53000, 53001 ); };");
	ck_assert_uint_eq(cf.udp.nports, 2);
	ck_assert_uint_eq(cf.udp.ports[0], 53000);
	ck_assert_uint_eq(cf.udp.ports[1], 53001);
	ck_assert_uint_eq(cf.tcp.nports, 1);
}
END_TEST

START_TEST(ports_empty)
{
	accept_text("tcp = { ports = [ ]; };\nudp = { ports = ( ); };");
	ck_assert_uint_eq(cf.tcp.nports, 0);
	ck_assert_uint_eq(cf.udp.nports, 0);
}
END_TEST

START_TEST(ports_64)
{
	char text[1024];

	ports_text(text, sizeof(text), 64);
	accept_text(text);
	ck_assert_uint_eq(cf.tcp.nports, 64);
	ck_assert_uint_eq(cf.tcp.ports[63], 1064);
}
END_TEST

START_TEST(ports_same_for_tcp_and_udp)
{
	accept_text("tcp = { ports = [ 9000 ]; };\n"
	    "udp = { ports = [ 9000 ]; };");
	ck_assert_uint_eq(cf.tcp.ports[0], 9000);
	ck_assert_uint_eq(cf.udp.ports[0], 9000);
}
END_TEST

START_TEST(bind_string_ipv4)
{
	accept_text("tcp = { bind = \"127.0.0.1\"; };");
	ck_assert_uint_eq(cf.tcp.nbinds, 1);
	ck_assert_str_eq(cf.tcp.binds[0].text, "127.0.0.1");
	ck_assert_int_eq(cf.tcp.binds[0].addr.ss_family, AF_INET);
	ck_assert_uint_eq(cf.tcp.binds[0].addrlen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(sin4(&cf.tcp.binds[0])->sin_addr.s_addr,
	    htonl(INADDR_LOOPBACK));
	ck_assert_uint_eq(sin4(&cf.tcp.binds[0])->sin_port, 0);
	ck_assert_str_eq(cf.udp.binds[0].text, "::");
}
END_TEST

START_TEST(bind_string_ipv6)
{
	accept_text("udp = { bind = \"::1\"; };");
	ck_assert_uint_eq(cf.udp.nbinds, 1);
	ck_assert_str_eq(cf.udp.binds[0].text, "::1");
	ck_assert_int_eq(cf.udp.binds[0].addr.ss_family, AF_INET6);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&cf.udp.binds[0])->sin6_addr));
	ck_assert_str_eq(cf.tcp.binds[0].text, "::");
}
END_TEST

START_TEST(bind_dual_stack)
{
	accept_text("tcp = { bind = \"::\"; }; udp = { bind = [ \"::\" ]; };");
	ck_assert_uint_eq(cf.tcp.nbinds, 1);
	ck_assert_int_eq(cf.tcp.binds[0].addr.ss_family, AF_INET6);
	ck_assert(addr_is_any((const struct sockaddr *)(const void *)
	    &cf.tcp.binds[0].addr));
	ck_assert_uint_eq(cf.udp.nbinds, 1);
	ck_assert_str_eq(cf.udp.binds[0].text, "::");
}
END_TEST

START_TEST(bind_list)
{
	accept_text("tcp = { bind = [ \"0.0.0.0\", \"::1\", "
	    "\"192.0.2.7\" ]; };");
	ck_assert_uint_eq(cf.tcp.nbinds, 3);
	ck_assert_str_eq(cf.tcp.binds[0].text, "0.0.0.0");
	ck_assert_int_eq(cf.tcp.binds[0].addr.ss_family, AF_INET);
	ck_assert_str_eq(cf.tcp.binds[1].text, "::1");
	ck_assert_int_eq(cf.tcp.binds[1].addr.ss_family, AF_INET6);
	ck_assert_str_eq(cf.tcp.binds[2].text, "192.0.2.7");
	ck_assert_uint_eq(sin4(&cf.tcp.binds[2])->sin_addr.s_addr,
	    htonl(0xc0000207));
}
END_TEST

START_TEST(bind_list_parens)
{
	accept_text("udp = { bind = ( \"127.0.0.1\", \"::1\" ); };");
	ck_assert_uint_eq(cf.udp.nbinds, 2);
	ck_assert_str_eq(cf.udp.binds[1].text, "::1");
}
END_TEST

START_TEST(bind_16)
{
	char text[1024];

	binds_text(text, sizeof(text), 16);
	accept_text(text);
	ck_assert_uint_eq(cf.udp.nbinds, 16);
	ck_assert_str_eq(cf.udp.binds[15].text, "127.0.0.16");
}
END_TEST

START_TEST(bind_scope)
{
	accept_text("tcp = { bind = \"fe80::1%lo\"; };");
	ck_assert_str_eq(cf.tcp.binds[0].text, "fe80::1%lo");
	ck_assert_uint_ne(sin6(&cf.tcp.binds[0])->sin6_scope_id, 0);
}
END_TEST

START_TEST(exit_command_value)
{
	accept_text("exit_command = \"quit now\";");
	ck_assert_str_eq(cf.exit_command, "quit now");
}
END_TEST

START_TEST(exit_command_empty)
{
	accept_text("exit_command = \"\";");
	ck_assert_str_eq(cf.exit_command, "");
}
END_TEST

START_TEST(exit_command_63)
{
	char text[128], want[64];

	memset(want, 'q', 63);
	want[63] = '\0';
	snprintf(text, sizeof(text), "exit_command = \"%s\";", want);
	accept_text(text);
	ck_assert_str_eq(cf.exit_command, want);
}
END_TEST

START_TEST(limits_all)
{
	accept_text("limits = {\n"
	    "\tmax_connections = 7;\n"
	    "\tidle_timeout = 0;\n"
	    "\tmax_pending_output = 65536;\n"
	    "\tdrain_timeout = 60;\n"
	    "};");
	ck_assert_uint_eq(cf.max_connections, 7);
	ck_assert_uint_eq(cf.idle_timeout, 0);
	ck_assert_uint_eq(cf.max_pending_output, 65536);
	ck_assert_uint_eq(cf.drain_timeout, 60);
}
END_TEST

START_TEST(limits_partial)
{
	accept_text("limits = { idle_timeout = 10; };");
	ck_assert_uint_eq(cf.idle_timeout, 10);
	ck_assert_uint_eq(cf.max_connections, CONFIG_DEF_MAX_CONNECTIONS);
	ck_assert_uint_eq(cf.max_pending_output, CONFIG_DEF_MAX_PENDING);
	ck_assert_uint_eq(cf.drain_timeout, CONFIG_DEF_DRAIN_TIMEOUT);
}
END_TEST

START_TEST(limits_lowest)
{
	accept_text("limits = { max_connections = 1; idle_timeout = 0; "
	    "max_pending_output = 4096; drain_timeout = 0; }; workers = 0;");
	ck_assert_uint_eq(cf.max_connections, 1);
	ck_assert_uint_eq(cf.idle_timeout, 0);
	ck_assert_uint_eq(cf.max_pending_output, 4096);
	ck_assert_uint_eq(cf.drain_timeout, 0);
}
END_TEST

START_TEST(limits_highest)
{
	accept_text("limits = { max_connections = 1000000; "
	    "idle_timeout = 86400; max_pending_output = 1073741824; "
	    "drain_timeout = 3600; };");
	ck_assert_uint_eq(cf.max_connections, 1000000);
	ck_assert_uint_eq(cf.idle_timeout, 86400);
	ck_assert_uint_eq(cf.max_pending_output, 1073741824);
	ck_assert_uint_eq(cf.drain_timeout, 3600);
}
END_TEST

START_TEST(lame_duck_values)
{
	accept_text("lame_duck = 0;");
	ck_assert_uint_eq(cf.lame_duck, 0);
	accept_text("lame_duck = 12;\nlimits = { drain_timeout = 3; };");
	ck_assert_uint_eq(cf.lame_duck, 12);
	ck_assert_uint_eq(cf.drain_timeout, 3);
	accept_text("lame_duck = 3600;");
	ck_assert_uint_eq(cf.lame_duck, 3600);
}
END_TEST

START_TEST(int64_in_range)
{
	accept_text("limits = { max_pending_output = 2048000L; "
	    "drain_timeout = 7L; };");
	ck_assert_uint_eq(cf.max_pending_output, 2048000);
	ck_assert_uint_eq(cf.drain_timeout, 7);
}
END_TEST

static const struct {
	const char	*name;
	int		 level;
} levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
	{ "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
	{ "err", LOG_ERR },
};

START_TEST(log_level_each)
{
	char text[64];

	snprintf(text, sizeof(text), "log = { level = \"%s\"; };",
	    levels[_i].name);
	accept_text(text);
	ck_assert_int_eq(cf.log_level, levels[_i].level);
	ck_assert_str_eq(config_level_name(levels[_i].level), levels[_i].name);
}
END_TEST

START_TEST(transform_values)
{
	accept_text("");
	ck_assert_int_eq(cf.transform, CONFIG_TRANSFORM_UNICODE);
	accept_text("transform = \"ascii\";");
	ck_assert_int_eq(cf.transform, CONFIG_TRANSFORM_ASCII);
	ck_assert_str_eq(config_transform_name(cf.transform), "ascii");
	accept_text("transform = \"unicode\";");
	ck_assert_int_eq(cf.transform, CONFIG_TRANSFORM_UNICODE);
	ck_assert_str_eq(config_transform_name(cf.transform), "unicode");
}
END_TEST

START_TEST(udp_rate_values)
{
	accept_text("");
	ck_assert_uint_eq(cf.udp_rate_limit, CONFIG_DEF_UDP_RATE);
	ck_assert_uint_eq(cf.udp_rate_burst, CONFIG_DEF_UDP_BURST);
	accept_text("udp = { rate_limit = 0; rate_burst = 1; };");
	ck_assert_uint_eq(cf.udp_rate_limit, 0);
	ck_assert_uint_eq(cf.udp_rate_burst, 1);
	accept_text("udp = { rate_limit = 10000000; rate_burst = 10000000; };");
	ck_assert_uint_eq(cf.udp_rate_limit, CONFIG_MAX_UDP_RATE);
	ck_assert_uint_eq(cf.udp_rate_burst, CONFIG_MAX_UDP_BURST);
}
END_TEST

/* tcp.send_buffer, tcp.receive_buffer: 0 (autotuned) by default, each
 * on its own, and the bounds. */
START_TEST(tcp_socket_buffers)
{
	accept_text("");
	ck_assert_uint_eq(cf.tcp_send_buffer, 0);
	ck_assert_uint_eq(cf.tcp_receive_buffer, 0);
	accept_text("tcp = { send_buffer = 4194304; };");
	ck_assert_uint_eq(cf.tcp_send_buffer, 4194304);
	ck_assert_uint_eq(cf.tcp_receive_buffer, 0);
	accept_text("tcp = { receive_buffer = 65536; send_buffer = 0; };");
	ck_assert_uint_eq(cf.tcp_send_buffer, 0);
	ck_assert_uint_eq(cf.tcp_receive_buffer, 65536);
	accept_text("tcp = { send_buffer = 268435456; "
	    "receive_buffer = 268435456; };");
	ck_assert_uint_eq(cf.tcp_send_buffer, CONFIG_MAX_SOCKBUF);
	ck_assert_uint_eq(cf.tcp_receive_buffer, CONFIG_MAX_SOCKBUF);
}
END_TEST

START_TEST(limits_per_source_and_crowded)
{
	accept_text("");
	ck_assert_uint_eq(cf.max_per_source, CONFIG_DEF_PER_SOURCE);
	ck_assert_uint_eq(cf.crowded_idle_timeout, CONFIG_DEF_CROWDED_IDLE);
	accept_text("limits = { max_connections_per_source = 0; "
	    "crowded_idle_timeout = 1; };");
	ck_assert_uint_eq(cf.max_per_source, 0);
	ck_assert_uint_eq(cf.crowded_idle_timeout, 1);
	accept_text("limits = { max_connections_per_source = 1000000; "
	    "crowded_idle_timeout = 86400; };");
	ck_assert_uint_eq(cf.max_per_source, CONFIG_MAX_PER_SOURCE);
	ck_assert_uint_eq(cf.crowded_idle_timeout, CONFIG_MAX_CROWDED_IDLE);
}
END_TEST

REJECT(per_source_too_high, "limits = { max_connections_per_source = "
    "1000001; };", "t.conf:1: limits.max_connections_per_source: 1000001 "
    "is out of range (0..1000000)")
REJECT(crowded_zero, "limits = { crowded_idle_timeout = 0; };",
    "t.conf:1: limits.crowded_idle_timeout: 0 is out of range (1..86400)")

REJECT(udp_rate_too_high, "udp = {\n rate_limit = 10000001; };",
    "t.conf:2: udp.rate_limit: 10000001 is out of range (0..10000000)")
REJECT(udp_burst_zero, "udp = { rate_burst = 0; };",
    "t.conf:1: udp.rate_burst: 0 is out of range (1..10000000)")
REJECT(send_buffer_too_high, "tcp = { send_buffer = 268435457; };",
    "t.conf:1: tcp.send_buffer: 268435457 is out of range (0..268435456)")
REJECT(receive_buffer_negative, "tcp = {\n receive_buffer = -1; };",
    "t.conf:2: tcp.receive_buffer: -1 is out of range (0..268435456)")
REJECT(send_buffer_in_udp, "udp = { send_buffer = 4096; };",
    "t.conf:1: unknown setting 'udp.send_buffer'")
REJECT(tcp_has_no_rate, "tcp = { rate_limit = 5; };",
    "t.conf:1: unknown setting 'tcp.rate_limit'")

START_TEST(transform_round_trip)
{
	struct config first;
	char *text;

	accept_text("transform = \"ascii\";");
	first = cf;
	text = dump(&first);
	accept_text(text);
	free(text);
	ck_assert_int_eq(cf.transform, CONFIG_TRANSFORM_ASCII);
}
END_TEST

REJECT(transform_unknown, "\n\ntransform = \"utf8\";",
    "t.conf:3: transform: unknown transform \"utf8\" (unicode, ascii)")
REJECT(transform_int, "transform = 1;",
    "t.conf:1: transform: expected a string, got an integer")

START_TEST(level_name_unknown)
{
	ck_assert_ptr_null(config_level_name(LOG_CRIT));
	ck_assert_ptr_null(config_level_name(-1));
	ck_assert_ptr_null(config_level_name(99));
}
END_TEST

START_TEST(udp_port_is_ours)
{
	accept_text("udp = { ports = [ 53000, 8008, 9 ]; };");
	ck_assert(config_udp_port_is_ours(&cf, 53000));
	ck_assert(config_udp_port_is_ours(&cf, 9));
	ck_assert(!config_udp_port_is_ours(&cf, 53001));
	ck_assert(!config_udp_port_is_ours(&cf, 0));
	accept_text("udp = { ports = [ ]; };");
	ck_assert(!config_udp_port_is_ours(&cf, 8008));
}
END_TEST

START_TEST(everything_non_default)
{
	accept_text("workers = 3;\n"
	    "tcp = { ports = [ 7000, 7001 ]; bind = [ \"127.0.0.1\", "
	    "\"::1\" ]; };\n"
	    "udp = { ports = [ 7002 ]; bind = \"0.0.0.0\"; };\n"
	    "exit_command = \"bye\";\n"
	    "lame_duck = 30;\n"
	    "limits = { max_connections = 50; idle_timeout = 20; "
	    "max_pending_output = 8192; drain_timeout = 1; };\n"
	    "log = { level = \"debug\"; };\n");
	ck_assert_uint_eq(cf.workers, 3);
	ck_assert_uint_eq(cf.tcp.nports, 2);
	ck_assert_uint_eq(cf.tcp.ports[1], 7001);
	ck_assert_uint_eq(cf.tcp.nbinds, 2);
	ck_assert_str_eq(cf.tcp.binds[1].text, "::1");
	ck_assert_uint_eq(cf.udp.ports[0], 7002);
	ck_assert_str_eq(cf.udp.binds[0].text, "0.0.0.0");
	ck_assert_str_eq(cf.exit_command, "bye");
	ck_assert_uint_eq(cf.lame_duck, 30);
	ck_assert_uint_eq(cf.max_connections, 50);
	ck_assert_uint_eq(cf.idle_timeout, 20);
	ck_assert_uint_eq(cf.max_pending_output, 8192);
	ck_assert_uint_eq(cf.drain_timeout, 1);
	ck_assert_int_eq(cf.log_level, LOG_DEBUG);
}
END_TEST

/* Numbers in comments, strings and names are not literals. */
START_TEST(literals_outside_values_ignored)
{
	accept_text("# 99999999999\n"
	    "exit_command = \"a\\\"99999999999\"; /* 88888888888\n*/\n"
	    "// 77777777777\nworkers = 2;\n");
	ck_assert_str_eq(cf.exit_command, "a\"99999999999");
	ck_assert_uint_eq(cf.workers, 2);
}
END_TEST

/* --- rejected: types ------------------------------------------------- */

REJECT(workers_string, "workers = \"4\";",
    "t.conf:1: workers: expected an integer, got a string")
REJECT(workers_float, "workers = 2.0;",
    "t.conf:1: workers: expected an integer, got a float")
REJECT(workers_float_exponent, "workers = 1e20;",
    "t.conf:1: workers: expected an integer, got a float")
REJECT(workers_bool, "workers = true;",
    "t.conf:1: workers: expected an integer, got a boolean")
REJECT(workers_array, "workers = [ 1 ];",
    "t.conf:1: workers: expected an integer, got an array")
REJECT(workers_group, "workers = { };",
    "t.conf:1: workers: expected an integer, got a group")
REJECT(limit_string, "limits = { max_connections = \"10\"; };",
    "t.conf:1: limits.max_connections: expected an integer, got a string")
REJECT(limit_float, "limits = {\n\tidle_timeout = 1.5;\n};",
    "t.conf:2: limits.idle_timeout: expected an integer, got a float")
REJECT(limit_list, "limits = { drain_timeout = ( 1 ); };",
    "t.conf:1: limits.drain_timeout: expected an integer, got a list")
REJECT(exit_command_int, "exit_command = 5;",
    "t.conf:1: exit_command: expected a string, got an integer")
REJECT(level_int, "log = { level = 3; };",
    "t.conf:1: log.level: expected a string, got an integer")
REJECT(ports_scalar, "tcp = { ports = 8008; };",
    "t.conf:1: tcp.ports: expected an array of integers, got an integer")
REJECT(ports_string_element, "udp = { ports = [ \"53\" ]; };",
    "t.conf:1: udp.ports: expected an integer, got a string")
REJECT(ports_mixed_list, "tcp = { ports = ( 8008,\n \"x\" ); };",
    "t.conf:2: tcp.ports: expected an integer, got a string")
REJECT(ports_group_element, "tcp = { ports = ( { } ); };",
    "t.conf:1: tcp.ports: expected an integer, got a group")
REJECT(ports_float_element, "tcp = { ports = [ 80.0 ]; };",
    "t.conf:1: tcp.ports: expected an integer, got a float")
REJECT(bind_int, "tcp = { bind = 1; };",
    "t.conf:1: tcp.bind: expected a string or a list of strings, "
    "got an integer")
REJECT(bind_group, "udp = { bind = { }; };",
    "t.conf:1: udp.bind: expected a string or a list of strings, "
    "got a group")
REJECT(bind_int_element, "tcp = { bind = ( \"::\", 1 ); };",
    "t.conf:1: tcp.bind: expected a string, got an integer")
REJECT(group_tcp_int, "tcp = 5;",
    "t.conf:1: tcp: expected a group, got an integer")
REJECT(group_udp_string, "udp = \"x\";",
    "t.conf:1: udp: expected a group, got a string")
REJECT(group_limits_array, "limits = [ 1 ];",
    "t.conf:1: limits: expected a group, got an array")
REJECT(group_log_string, "log = \"info\";",
    "t.conf:1: log: expected a group, got a string")
REJECT(group_tcp_list, "tcp = ( );",
    "t.conf:1: tcp: expected a group, got a list")

/* --- rejected: ranges ------------------------------------------------ */

REJECT(workers_low, "workers = -1;",
    "t.conf:1: workers: -1 is out of range (0..256)")
REJECT(workers_high, "\nworkers = 257;",
    "t.conf:2: workers: 257 is out of range (0..256)")
REJECT(max_connections_low, "limits = { max_connections = 0; };",
    "t.conf:1: limits.max_connections: 0 is out of range (1..1000000)")
REJECT(max_connections_high, "limits = { max_connections = 1000001; };",
    "t.conf:1: limits.max_connections: 1000001 is out of range "
    "(1..1000000)")
REJECT(idle_timeout_low, "limits = { idle_timeout = -1; };",
    "t.conf:1: limits.idle_timeout: -1 is out of range (0..86400)")
REJECT(idle_timeout_high,
    "limits = {\n\tmax_connections = 5;\n\tidle_timeout = 86401;\n};",
    "t.conf:3: limits.idle_timeout: 86401 is out of range (0..86400)")
REJECT(max_pending_low, "limits = { max_pending_output = 4095; };",
    "t.conf:1: limits.max_pending_output: 4095 is out of range "
    "(4096..1073741824)")
REJECT(max_pending_high, "limits = { max_pending_output = 1073741825; };",
    "t.conf:1: limits.max_pending_output: 1073741825 is out of range "
    "(4096..1073741824)")
REJECT(drain_timeout_low, "limits = { drain_timeout = -1; };",
    "t.conf:1: limits.drain_timeout: -1 is out of range (0..3600)")
REJECT(drain_timeout_high, "limits = { drain_timeout = 3601; };",
    "t.conf:1: limits.drain_timeout: 3601 is out of range (0..3600)")
REJECT(lame_duck_low, "lame_duck = -1;",
    "t.conf:1: lame_duck: -1 is out of range (0..3600)")
REJECT(lame_duck_high, "lame_duck = 3601;",
    "t.conf:1: lame_duck: 3601 is out of range (0..3600)")
REJECT(lame_duck_string, "lame_duck = \"10\";",
    "t.conf:1: lame_duck: expected an integer, got a string")
REJECT(lame_duck_in_limits, "limits = { lame_duck = 10; };",
    "t.conf:1: unknown setting 'limits.lame_duck'")
REJECT(port_0, "tcp = { ports = [ 0 ]; };",
    "t.conf:1: tcp.ports: 0 is out of range (1..65535)")
REJECT(port_65536, "udp = { ports = [ 8008, 65536 ]; };",
    "t.conf:1: udp.ports: 65536 is out of range (1..65535)")
REJECT(port_negative, "tcp = { ports = ( -1 ); };",
    "t.conf:1: tcp.ports: -1 is out of range (1..65535)")
REJECT(int64_out_of_range, "limits = { max_pending_output = 5000000000L; };",
    "t.conf:1: limits.max_pending_output: 5000000000 is out of range "
    "(4096..1073741824)")
/* 2^32 + 1: narrowed to 32 bits it would be a valid 1. */
REJECT(int64_not_truncated, "workers = 4294967297L;",
    "t.conf:1: workers: 4294967297 is out of range (0..256)")
REJECT(int64_port, "tcp = { ports = [ 65537L ]; };",
    "t.conf:1: tcp.ports: 65537 is out of range (1..65535)")
/*
 * Without an L suffix libconfig 1.5 truncates these to 32 bits: they are
 * reported as written, against the setting that holds them.
 */
/* libconfig 1.5 would store 705032704: in range, silently wrong. */
REJECT(wide_in_range_when_cut,
    "limits = { max_pending_output = 5000000000; };",
    "t.conf:1: limits.max_pending_output: 5000000000 is out of range "
    "(4096..1073741824)")
/* ... and 300 here: the default, as if nothing had been written. */
REJECT(wide_wraps_to_default,
    "/*\n*/\nlimits = {\n\tidle_timeout = 4294967596;\n};",
    "t.conf:4: limits.idle_timeout: 4294967596 is out of range (0..86400)")
REJECT(wide_just_above, "limits = { max_pending_output = 2147483648; };",
    "t.conf:1: limits.max_pending_output: 2147483648 is out of range "
    "(4096..1073741824)")
REJECT(wide_negative, "workers = -2147483649;",
    "t.conf:1: workers: -2147483649 is out of range (0..256)")
REJECT(wide_hex, "workers = 0x100000001;",
    "t.conf:1: workers: 0x100000001 is out of range (0..256)")
/* Cut to 8008 it would be a duplicate port. */
REJECT(wide_in_list, "tcp = { ports = [ 8008, 4294975304 ]; };",
    "t.conf:1: tcp.ports: 4294975304 is out of range (1..65535)")
REJECT(wide_not_blamed_on_neighbour,
    "limits = { drain_timeout = 1; idle_timeout = 5000000000; };",
    "t.conf:1: limits.idle_timeout: 5000000000 is out of range (0..86400)")
REJECT(wide_long_text_cut,
    "workers = 123456789012345678901234567890123456789;",
    "t.conf:1: workers: 1234567890123456789012345678... is out of range "
    "(0..256)")
REJECT(wide_for_a_string, "exit_command = 5000000000;",
    "t.conf:1: exit_command: expected a string, got an integer")

START_TEST(wide_too_many)
{
	char text[1024];
	size_t o;
	unsigned i;

	o = (size_t)snprintf(text, sizeof(text), "tcp = { ports = [ ");
	for (i = 1; i <= 17; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%llu",
		    i > 1 ? ",\n" : "", 4294967296ULL + i);
	snprintf(text + o, sizeof(text) - o, " ]; };");
	reject(text, "t.conf:17: integer 4294967313 does not fit in 32 bits "
	    "(libconfig would truncate it)");
}
END_TEST

/* --- rejected: lists ------------------------------------------------- */

REJECT(port_duplicate, "tcp = {\n\tports = [ 8008, 9000,\n\t    8008 ];\n};",
    "t.conf:3: tcp.ports: duplicate port 8008")
REJECT(port_duplicate_udp, "udp = { ports = ( 53, 53 ); };",
    "t.conf:1: udp.ports: duplicate port 53")

START_TEST(ports_65)
{
	char text[1024];

	ports_text(text, sizeof(text), 65);
	reject(text, "t.conf:1: tcp.ports: too many ports (65, at most 64)");
}
END_TEST

START_TEST(bind_17)
{
	char text[1024];

	binds_text(text, sizeof(text), 17);
	reject(text,
	    "t.conf:1: udp.bind: too many addresses (17, at most 16)");
}
END_TEST

REJECT(bind_empty_list, "tcp = { bind = [ ]; };",
    "t.conf:1: tcp.bind: empty list (at least one address)")
REJECT(bind_hostname, "tcp = { bind = \"localhost\"; };",
    "t.conf:1: tcp.bind: \"localhost\" is not a numeric IPv4 or IPv6 "
    "address")
REJECT(bind_with_port, "tcp = { bind = \"127.0.0.1:80\"; };",
    "t.conf:1: tcp.bind: \"127.0.0.1:80\" is not a numeric IPv4 or IPv6 "
    "address")
REJECT(bind_empty_string, "udp = { bind = \"\"; };",
    "t.conf:1: udp.bind: \"\" is not a numeric IPv4 or IPv6 address")
REJECT(bind_bad_in_list, "udp = { bind = [ \"::1\",\n \"1.2.3.4.5\" ]; };",
    "t.conf:2: udp.bind: \"1.2.3.4.5\" is not a numeric IPv4 or IPv6 "
    "address")
REJECT(bind_control_quoted, "tcp = { bind = \"1.2.3.4\\n\"; };",
    "t.conf:1: tcp.bind: \"1.2.3.4\\x0a\" is not a numeric IPv4 or IPv6 "
    "address")
REJECT(bind_duplicate, "tcp = { bind = [ \"127.0.0.1\", \"127.0.0.1\" ]; };",
    "t.conf:1: tcp.bind: duplicate address \"127.0.0.1\"")
REJECT(bind_duplicate_spelling, "udp = { bind = ( \"::1\", \"0:0::1\" ); };",
    "t.conf:1: udp.bind: duplicate address \"0:0::1\"")

/* --- rejected: names, strings, syntax -------------------------------- */

REJECT(unknown_top, "workers = 1;\nworker = 2;",
    "t.conf:2: unknown setting 'worker'")
REJECT(unknown_top_group, "http = { port = 80; };",
    "t.conf:1: unknown setting 'http'")
REJECT(unknown_case, "Workers = 1;",
    "t.conf:1: unknown setting 'Workers'")
REJECT(unknown_limits, "limits = {\n\tmax_conections = 5;\n};",
    "t.conf:2: unknown setting 'limits.max_conections'")
REJECT(unknown_tcp, "tcp = {\n\tports = [ 1 ];\n\n\n\tprots = [ 2 ];\n};",
    "t.conf:5: unknown setting 'tcp.prots'")
REJECT(unknown_log, "log = { lvl = \"info\"; };",
    "t.conf:1: unknown setting 'log.lvl'")
REJECT(unknown_name_with_digits, "x-99999999999 = 1;",
    "t.conf:1: unknown setting 'x-99999999999'")
REJECT(every_error, "workers = -1;\nlog = { level = \"x\"; };",
    "t.conf:1: workers: -1 is out of range (0..256)\n"
    "t.conf:2: log.level: unknown level \"x\" (debug, info, notice, "
    "warning, err)")
REJECT(every_error_in_file_order,
    "log = { level = \"x\"; };\nworkers = -1;\nbogus = 1;",
    "t.conf:1: log.level: unknown level \"x\" (debug, info, notice, "
    "warning, err)\n"
    "t.conf:2: workers: -1 is out of range (0..256)\n"
    "t.conf:3: unknown setting 'bogus'")
REJECT(level_unknown, "log = { level = \"verbose\"; };",
    "t.conf:1: log.level: unknown level \"verbose\" (debug, info, notice, "
    "warning, err)")
REJECT(level_upper_case, "log = { level = \"INFO\"; };",
    "t.conf:1: log.level: unknown level \"INFO\" (debug, info, notice, "
    "warning, err)")
REJECT(exit_command_64,
    "exit_command = \"0123456789012345678901234567890123456789"
    "012345678901234567890123\";",
    "t.conf:1: exit_command: too long (64 bytes, at most 63)")
REJECT(exit_command_cr, "exit_command = \"quit\\r\";",
    "t.conf:1: exit_command: contains the control character 0x0d")
REJECT(exit_command_lf, "exit_command = \"qu\\nit\";",
    "t.conf:1: exit_command: contains the control character 0x0a")
REJECT(exit_command_tab, "exit_command = \"\\tquit\";",
    "t.conf:1: exit_command: contains the control character 0x09")
REJECT(exit_command_del, "exit_command = \"quit\\x7f\";",
    "t.conf:1: exit_command: contains the control character 0x7f")
REJECT(syntax_error_line, "workers = 1;\ntcp = {\n\tports = ;\n};",
    "t.conf:3: syntax error")
REJECT(syntax_unclosed_group, "tcp = {\n", "t.conf:2: syntax error")
REJECT(syntax_duplicate, "workers = 1;\nworkers = 2;",
    "t.conf:2: duplicate setting name")
REJECT(syntax_mixed_array, "tcp = { ports = [ 1, \"x\" ]; };",
    "t.conf:1: mismatched element type in array")

/* --- files ----------------------------------------------------------- */

START_TEST(file_missing)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	tmp_path(path, sizeof(path), "no-such.conf");
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	    "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(cf.path, path);
	assert_defaults(&cf);
}
END_TEST

START_TEST(file_directory)
{
	char want[PATH_MAX + 64];

	ck_assert_int_eq(config_parse_file(tmpdir, &cf, err, sizeof(err)),
	    -1);
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory",
	    tmpdir);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(file_fifo)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	/* Would block in open() if it were opened like a file. */
	tmp_path(path, sizeof(path), "fifo.conf");
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: not a regular file",
	    path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(file_ok)
{
	char path[PATH_MAX];

	write_text(path, sizeof(path), "ok.conf",
	    "workers = 2;\nlimits = { idle_timeout = 9; };\n");
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), 0);
	ck_assert_str_eq(cf.path, path);
	ck_assert_uint_eq(cf.workers, 2);
	ck_assert_uint_eq(cf.idle_timeout, 9);
}
END_TEST

START_TEST(file_empty)
{
	char path[PATH_MAX];

	write_text(path, sizeof(path), "empty.conf", "");
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), 0);
	assert_defaults(&cf);
}
END_TEST

/*
 * Files that must be refused, each with the message it must get: the
 * file named and the line (the included file's, for what is in one).
 * "part" is written only when the row has one, and "@PART@" in main
 * stands for its path.
 */
static const struct {
	const char	*main;
	size_t		 mainlen;	/* 0: strlen(main) */
	const char	*part;
	unsigned	 line;
	const char	*msg;
	int		 blame_part;
} bad_files[] = {
	{ "workers = 1;\n}\n", 0, NULL, 2, "syntax error", 0 },
	{ "\n\n\n\n\n\nlimits = {\n idle_timeout = 100000;\n};\n", 0, NULL,
	  8, "limits.idle_timeout: 100000 is out of range (0..86400)", 0 },
	{ "workers = 1;\nx\0y = 2;\n", 22, NULL, 2, "unexpected NUL byte",
	  0 },
	{ "workers = 1;\n@include \"@PART@\"\n", 0,
	  "# part\nlimits = {\n\tmax_conections = 5;\n};\n",
	  3, "unknown setting 'limits.max_conections'", 1 },
	{ "@include \"@PART@\"\n", 0,
	  "\nlimits = { max_pending_output = 5000000000; };\n",
	  2, "limits.max_pending_output: 5000000000 is out of range "
	  "(4096..1073741824)", 1 },
	{ "workers = 1;\n@include \"/nonexistent/upcased.conf\"\n", 0, NULL,
	  2, "cannot open include file", 0 },
};

START_TEST(file_rejected)
{
	char part[PATH_MAX], main_[PATH_MAX], text[PATH_MAX + 256];
	char want[PATH_MAX + 160], name[32];
	const char *at;
	size_t len;

	len = bad_files[_i].mainlen ? bad_files[_i].mainlen :
	    strlen(bad_files[_i].main);
	memcpy(text, bad_files[_i].main, len);
	if (bad_files[_i].part != NULL) {
		snprintf(name, sizeof(name), "part-%d.conf", _i);
		write_text(part, sizeof(part), name, bad_files[_i].part);
		at = strstr(bad_files[_i].main, "@PART@");
		ck_assert_ptr_nonnull(at);
		len = (size_t)snprintf(text, sizeof(text), "%.*s%s%s",
		    (int)(at - bad_files[_i].main), bad_files[_i].main, part,
		    at + 6);
	}
	snprintf(name, sizeof(name), "bad-%d.conf", _i);
	write_file(main_, sizeof(main_), name, text, len);
	ck_assert_int_eq(config_parse_file(main_, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%u: %s", bad_files[_i].blame_part ?
	    part : main_, bad_files[_i].line, bad_files[_i].msg);
	ck_assert_str_eq(err, want);
	assert_defaults(&cf);
}
END_TEST

START_TEST(file_long_path)
{
	char path[2100];
	size_t o;

	/* Not found, and the path kept in cf cut safely. */
	o = (size_t)snprintf(path, sizeof(path), "%s", tmpdir);
	while (o < 2000)
		o += (size_t)snprintf(path + o, sizeof(path) - o, "/d");
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), -1);
	ck_assert_uint_eq(strlen(cf.path), sizeof(cf.path) - 1);
	ck_assert(strncmp(cf.path, path, sizeof(cf.path) - 1) == 0);
}
END_TEST

START_TEST(include_ok)
{
	char part[PATH_MAX], main_[PATH_MAX], text[PATH_MAX + 64];

	write_text(part, sizeof(part), "part-ok.conf",
	    "limits = { drain_timeout = 9; };\n");
	snprintf(text, sizeof(text), "workers = 1;\n@include \"%s\"\n", part);
	write_text(main_, sizeof(main_), "main-ok.conf", text);
	ck_assert_int_eq(config_parse_file(main_, &cf, err, sizeof(err)), 0);
	ck_assert_uint_eq(cf.workers, 1);
	ck_assert_uint_eq(cf.drain_timeout, 9);
}
END_TEST

START_TEST(shipped_config)
{
	const char *srcdir = getenv("UPCASED_SRCDIR");
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/etc/upcased.conf",
	    srcdir != NULL ? srcdir : ".");
	ck_assert_msg(config_parse_file(path, &cf, err, sizeof(err)) == 0,
	    "%s", err);
	/* Defaults, but for the metrics endpoint, which it turns on. */
	ck_assert_uint_eq(cf.metrics.nports, 1);
	ck_assert_uint_eq(cf.metrics.ports[0], 9808);
	cf.metrics.nports = 0;
	cf.metrics.ports[0] = 0;
	assert_defaults(&cf);
}
END_TEST

/* Defaults or not, every setting is written out in the shipped file. */
START_TEST(shipped_config_complete)
{
	static const char *const names[] = {
		"\nworkers = 0;", "\ntcp = {", "\nudp = {",
		"\n\tports = [ 8008 ];", "\n\tbind = [ \"::\" ];",
		"\nexit_command = \"exit\";", "\nlimits = {",
		"\n\tmax_connections = 10000;", "\n\tidle_timeout = 300;",
		"\n\tmax_pending_output = 1048576;", "\n\tdrain_timeout = 5;",
		"\n\tmax_connections_per_source = 256;",
		"\n\tcrowded_idle_timeout = 10;",
		"\n\tconnection_rate = 0;", "\n\tconnection_burst = 100;",
		"\n\tbalancers = [ ];",
		"\nproxy_protocol = {", "\n\tfrom = [ ];", "\n\ttimeout = 5;",
		"\naccess = {", "\n\tallow = [ ];", "\n\tdeny = [ ];",
		"\nlog = {", "\n\tlevel = \"info\";",
		"\nmetrics = {", "\n\tports = [ 9808 ];",
		"\n\tbind = [ \"127.0.0.1\" ];",
	};
	const char *srcdir = getenv("UPCASED_SRCDIR");
	char path[PATH_MAX], *text;
	size_t i, len = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/etc/upcased.conf",
	    srcdir != NULL ? srcdir : ".");
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	text = calloc(1, 65536);
	ck_assert_ptr_nonnull(text);
	len = fread(text, 1, 65535, fp);
	fclose(fp);
	ck_assert_uint_gt(len, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(text, names[i]) != NULL, "missing: %s",
		    names[i] + 1);
	free(text);
}
END_TEST

/* --- dump ------------------------------------------------------------ */

START_TEST(dump_exact)
{
	char *text;

	accept_text("workers = 3;");
	text = dump(&cf);
	ck_assert_str_eq(text,
	    "# effective configuration of t.conf\n"
	    "workers = 3;  # 3 threads\n"
	    "transform = \"unicode\";\n"
	    "tcp = {\n\tports = [ 8008 ];\n\tbind = [ \"::\" ];\n"
	    "\tsend_buffer = 0;  # autotuned\n"
	    "\treceive_buffer = 0;  # autotuned\n};\n"
	    "udp = {\n\tports = [ 8008 ];\n\tbind = [ \"::\" ];\n"
	    "\trate_limit = 1000;\n\trate_burst = 2000;\n"
	    "\tbalancers = [ ];  # none\n};\n"
	    "exit_command = \"exit\";\n"
	    "lame_duck = 0;  # off\n"
	    "limits = {\n"
	    "\tmax_connections = 10000;\n"
	    "\tidle_timeout = 300;\n"
	    "\tmax_pending_output = 1048576;\n"
	    "\tdrain_timeout = 5;\n"
	    "\tmax_connections_per_source = 256;\n"
	    "\tcrowded_idle_timeout = 10;\n"
	    "\tconnection_rate = 0;  # off\n"
	    "\tconnection_burst = 100;\n"
	    "};\n"
	    "proxy_protocol = {\n"
	    "\tfrom = [ ];  # off\n"
	    "\ttimeout = 5;\n"
	    "};\n"
	    "access = {\n"
	    "\tallow = [ ];  # everyone not denied\n"
	    "\tdeny = [ ];  # none\n"
	    "};\n"
	    "log = {\n\tlevel = \"info\";\n};\n"
	    "metrics = {\n\tports = [ ];\n\tbind = [ \"127.0.0.1\" ];\n};\n");
	free(text);
}
END_TEST

START_TEST(dump_prefixes_exact)
{
	char *text;

	accept_text("proxy_protocol = { from = [ \"127.0.0.1\", "
	    "\"fd00::/8\" ]; };\n"
	    "access = { deny = \"10.1.2.0/24\"; allow = [ \"10.0.0.0/8\", "
	    "\"::ffff:192.0.2.0/120\", \"2001:db8::/32\", \"::/0\", "
	    "\"0.0.0.0/0\" ]; };");
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "proxy_protocol = {\n"
	    "\tfrom = [ \"127.0.0.1/32\", \"fd00::/8\" ];\n"
	    "\ttimeout = 5;\n};\n"));
	ck_assert_ptr_nonnull(strstr(text, "access = {\n"
	    "\tallow = [\n"
	    "\t\t\"10.0.0.0/8\",\n"
	    "\t\t\"192.0.2.0/24\",\n"
	    "\t\t\"2001:db8::/32\",\n"
	    "\t\t\"::/0\",\n"
	    "\t\t\"0.0.0.0/0\"\n"
	    "\t];\n"
	    "\tdeny = [ \"10.1.2.0/24\" ];\n"
	    "};\n"));
	free(text);
}
END_TEST

/* Where 0 means "off" or "never", the dump says so. */
START_TEST(dump_zero_comments)
{
	char *text;

	accept_text("udp = { rate_limit = 0; };\n"
	    "limits = { idle_timeout = 0; max_connections_per_source = 0; "
	    "drain_timeout = 0; connection_rate = 0; };");
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "\n\trate_limit = 0;  # off\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n\tidle_timeout = 0;  # never\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\n\tmax_connections_per_source = 0;  # no limit\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n\tdrain_timeout = 0;\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\n\tconnection_rate = 0;  # off\n"));
	free(text);
	accept_text("limits = { connection_rate = 7; };");
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "\n\tconnection_rate = 7;\n"));
	free(text);
}
END_TEST

START_TEST(dump_workers_comment)
{
	char want[64], *text;
	unsigned n;

	accept_text("workers = 1;");
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "\nworkers = 1;  # 1 thread\n"));
	free(text);
	accept_text("");
	n = usable_cpus();
	snprintf(want, sizeof(want), "\nworkers = 0;  # %u thread%s\n", n,
	    n == 1 ? "" : "s");
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
}
END_TEST

START_TEST(dump_round_trip_defaults)
{
	struct config back;
	char *text;

	accept_text("");
	text = dump(&cf);
	ck_assert_msg(config_parse_string(text, "dump", &back, err,
	    sizeof(err)) == 0, "%s", err);
	assert_config_eq(&back, &cf);
	free(text);
}
END_TEST

START_TEST(dump_round_trip_everything)
{
	struct config back;
	char *text;

	accept_text("workers = 256;\n"
	    "tcp = { ports = [ ]; bind = ( \"127.0.0.1\", \"::1\", "
	    "\"fe80::1%lo\" ); };\n"
	    "udp = { ports = ( 1, 65535, 53 ); bind = \"0.0.0.0\"; };\n"
	    "exit_command = \"say \\\"bye\\\" \\\\ \\xc3\\xa9\";\n"
	    "limits = { max_connections = 1000000; idle_timeout = 0; "
	    "max_pending_output = 1073741824L; drain_timeout = 3600; };\n"
	    "log = { level = \"warning\"; };\n");
	ck_assert_str_eq(cf.exit_command, "say \"bye\" \\ \xc3\xa9");
	text = dump(&cf);
	ck_assert_msg(config_parse_string(text, "dump", &back, err,
	    sizeof(err)) == 0, "%s\n%s", err, text);
	assert_config_eq(&back, &cf);
	free(text);
}
END_TEST

START_TEST(dump_path_newline)
{
	const char *want = "# effective configuration of a?b\nworkers = ";
	char *text;

	ck_assert_int_eq(config_parse_string("", "a\nb", &cf, err,
	    sizeof(err)), 0);
	text = dump(&cf);
	ck_assert(strncmp(text, want, strlen(want)) == 0);
	free(text);
}
END_TEST

/* --- confchild ------------------------------------------------------- */

START_TEST(child_ok)
{
	struct config direct;
	char path[PATH_MAX];

	write_text(path, sizeof(path), "child-ok.conf",
	    "workers = 5;\ntcp = { bind = [ \"127.0.0.1\", \"::1\" ]; };\n"
	    "log = { level = \"notice\"; };\n");
	ck_assert_msg(confchild_load(path, &cf, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(config_parse_file(path, &direct, err, sizeof(err)),
	    0);
	assert_config_eq(&cf, &direct);
	ck_assert_str_eq(cf.path, path);
	ck_assert_uint_eq(cf.workers, 5);
	ck_assert_str_eq(cf.tcp.binds[1].text, "::1");
	ck_assert_int_eq(cf.log_level, LOG_NOTICE);
}
END_TEST

/* The child's message is the very one config_parse_file() gives. */
static void
child_same_error(const char *name, const char *text)
{
	char path[PATH_MAX], direct[CONFIG_ERRLEN];
	struct config c;

	write_text(path, sizeof(path), name, text);
	ck_assert_int_eq(config_parse_file(path, &c, direct, sizeof(direct)),
	    -1);
	memset(&cf, 0xa5, sizeof(cf));
	ck_assert_int_eq(confchild_load(path, &cf, err, sizeof(err)), -1);
	ck_assert_str_eq(err, direct);
	assert_defaults(&cf);
	ck_assert_str_eq(cf.path, path);
}

START_TEST(child_syntax_error)
{
	child_same_error("child-syntax.conf", "workers = 1;\n\nlog = ;\n");
	ck_assert_ptr_nonnull(strstr(err, "child-syntax.conf:3: syntax error"));
}
END_TEST

START_TEST(child_value_error)
{
	child_same_error("child-value.conf",
	    "log = { level = \"verbose\"; };\n");
	ck_assert_ptr_nonnull(strstr(err, "child-value.conf:1: log.level: "
	    "unknown level \"verbose\""));
}
END_TEST

START_TEST(child_missing_file)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	tmp_path(path, sizeof(path), "child-missing.conf");
	ck_assert_int_eq(confchild_load(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	    "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* libconfig 1.5 exit()s inside its scanner here: only the child dies. */
START_TEST(child_include_directory)
{
	char path[PATH_MAX], text[PATH_MAX + 32], want[PATH_MAX + 96];

	snprintf(text, sizeof(text), "workers = 1;\n@include \"%s\"\n",
	    tmpdir);
	write_text(path, sizeof(path), "child-incdir.conf", text);
	memset(&cf, 0xa5, sizeof(cf));
	ck_assert_int_eq(confchild_load(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	    "%s: the configuration parser failed (exit status 2)", path);
	ck_assert_str_eq(err, want);
	assert_defaults(&cf);
}
END_TEST

/* No zombie and no descriptor left behind, on success or failure. */
START_TEST(child_leaves_nothing)
{
	char ok[PATH_MAX], bad[PATH_MAX];
	unsigned before;
	int i;

	write_text(ok, sizeof(ok), "child-clean-ok.conf", "workers = 1;\n");
	write_text(bad, sizeof(bad), "child-clean-bad.conf", "workers = ;\n");
	before = open_fds();
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(confchild_load(ok, &cf, err, sizeof(err)), 0);
		ck_assert_int_eq(confchild_load(bad, &cf, err, sizeof(err)),
		    -1);
	}
	ck_assert_uint_eq(open_fds(), before);
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

/*
 * The child holds none of our descriptors, even while its parse is stuck
 * (an @include of a FIFO nobody writes): the write end of a pipe closed
 * here reads as EOF at once, not when the child goes.
 */
START_TEST(child_holds_no_descriptor)
{
	char fifo[PATH_MAX], path[PATH_MAX], text[PATH_MAX + 32], c;
	struct confchild *cc;
	struct pollfd pfd;
	int fds[2];

	tmp_path(fifo, sizeof(fifo), "child-stuck.fifo");
	(void)unlink(fifo);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(text, sizeof(text), "workers = 1;\n@include \"%s\"\n", fifo);
	write_text(path, sizeof(path), "child-stuck.conf", text);
	ck_assert_int_eq(pipe(fds), 0);
	cc = confchild_start(path, err, sizeof(err));
	ck_assert_msg(cc != NULL, "%s", err);
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* A bound, not a timing: the child stays stuck for 10 s. */
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert_int_eq(read(fds[0], &c, 1), 0);
	ck_assert_int_eq(confchild_step(cc, &cf, err, sizeof(err)), 1);
	confchild_abort(cc);
	close(fds[0]);
	(void)unlink(fifo);
}
END_TEST

START_TEST(child_short_errlen)
{
	char path[PATH_MAX], small[16];

	write_text(path, sizeof(path), "child-short.conf", "bogus = 1;\n");
	ck_assert_int_eq(confchild_load(path, &cf, small, sizeof(small)), -1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(strncmp(small, path, sizeof(small) - 1) == 0);
}
END_TEST



/* --- proxy_protocol, access, connection rate --------------------------- */

/* p is the prefix text, as prefix_parse() reads it. */
static void
assert_prefix(const struct prefix *p, const char *text)
{
	struct prefix want;

	ck_assert_int_eq(prefix_parse(text, &want, NULL, 0), 0);
	ck_assert_msg(memcmp(p, &want, sizeof(want)) == 0, "not %s", text);
}

START_TEST(new_defaults)
{
	accept_text("");
	ck_assert_uint_eq(cf.connection_rate, 0);
	ck_assert_uint_eq(cf.connection_burst, 100);
	ck_assert_uint_eq(cf.proxy_nfrom, 0);
	ck_assert_uint_eq(cf.proxy_timeout, 5);
	ck_assert_uint_eq(cf.access_nallow, 0);
	ck_assert_uint_eq(cf.access_ndeny, 0);
	ck_assert_uint_eq(cf.udp_nbalancers, 0);
	accept_text("proxy_protocol = { }; access = { };");
	assert_defaults(&cf);
}
END_TEST

START_TEST(proxy_values)
{
	accept_text("proxy_protocol = {\n"
	    "  from = [ \"10.0.0.0/8\", \"127.0.0.1\", \"fd00::/8\", "
	    "\"::ffff:192.0.2.1\" ];\n"
	    "  timeout = 30;\n};");
	ck_assert_uint_eq(cf.proxy_nfrom, 4);
	assert_prefix(&cf.proxy_from[0], "10.0.0.0/8");
	assert_prefix(&cf.proxy_from[1], "127.0.0.1/32");
	ck_assert_uint_eq(cf.proxy_from[1].family, AF_INET);
	ck_assert_uint_eq(cf.proxy_from[1].len, 32);
	assert_prefix(&cf.proxy_from[2], "fd00::/8");
	ck_assert_uint_eq(cf.proxy_from[2].family, AF_INET6);
	/* IPv4-mapped is kept as IPv4. */
	assert_prefix(&cf.proxy_from[3], "192.0.2.1");
	ck_assert_uint_eq(cf.proxy_from[3].family, AF_INET);
	ck_assert_uint_eq(cf.proxy_timeout, 30);
	accept_text("proxy_protocol = { from = \"::1\"; timeout = 1; };");
	ck_assert_uint_eq(cf.proxy_nfrom, 1);
	assert_prefix(&cf.proxy_from[0], "::1/128");
	ck_assert_uint_eq(cf.proxy_timeout, 1);
	accept_text("proxy_protocol = { from = ( ); timeout = 3600; };");
	ck_assert_uint_eq(cf.proxy_nfrom, 0);
	ck_assert_uint_eq(cf.proxy_timeout, CONFIG_MAX_PROXY_TIMEOUT);
}
END_TEST

/* "<group> = { <name> = [ "10.0.I.J/32", ... n ]; };" from base on. */
static char *
prefix_list_text(const char *group, const char *name, unsigned n,
    unsigned base)
{
	size_t len = 64 + (size_t)n * 24, o;
	char *text = malloc(len);
	unsigned i;

	ck_assert_ptr_nonnull(text);
	o = (size_t)snprintf(text, len, "%s = { %s = [", group, name);
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, len - o, "%s\"10.%u.%u.%u\"",
		    i > 0 ? ",\n" : " ", (base + i) >> 16 & 0xff,
		    (base + i) >> 8 & 0xff, (base + i) & 0xff);
	snprintf(text + o, len - o, " ]; };\n");
	return text;
}

START_TEST(proxy_from_64)
{
	char *text;

	text = prefix_list_text("proxy_protocol", "from", 64, 0);
	accept_text(text);
	ck_assert_uint_eq(cf.proxy_nfrom, 64);
	assert_prefix(&cf.proxy_from[63], "10.0.0.63");
	free(text);
	text = prefix_list_text("proxy_protocol", "from", 65, 0);
	reject(text, "t.conf:1: proxy_protocol.from: too many addresses "
	    "(65, at most 64)");
	free(text);
}
END_TEST

START_TEST(udp_balancers_values)
{
	char *text;

	accept_text("udp = { balancers = [ \"192.0.2.7\", \"10.0.0.0/8\", "
	    "\"fd00::/8\", \"::ffff:198.51.100.1\" ]; };");
	ck_assert_uint_eq(cf.udp_nbalancers, 4);
	assert_prefix(&cf.udp_balancers[0], "192.0.2.7/32");
	assert_prefix(&cf.udp_balancers[1], "10.0.0.0/8");
	assert_prefix(&cf.udp_balancers[2], "fd00::/8");
	assert_prefix(&cf.udp_balancers[3], "198.51.100.1");
	ck_assert_uint_eq(cf.udp_balancers[3].family, AF_INET);
	/* Its own setting: proxy_protocol.from stays off. */
	ck_assert_uint_eq(cf.proxy_nfrom, 0);
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "\tbalancers = [ \"192.0.2.7/32\", "
	    "\"10.0.0.0/8\", \"fd00::/8\", \"198.51.100.1/32\" ];\n"));
	free(text);
	accept_text("udp = { balancers = \"::1\"; };");
	ck_assert_uint_eq(cf.udp_nbalancers, 1);
	assert_prefix(&cf.udp_balancers[0], "::1/128");
	accept_text("udp = { balancers = ( ); };");
	ck_assert_uint_eq(cf.udp_nbalancers, 0);
	text = prefix_list_text("udp", "balancers", 64, 0);
	accept_text(text);
	ck_assert_uint_eq(cf.udp_nbalancers, 64);
	free(text);
	text = prefix_list_text("udp", "balancers", 65, 0);
	reject(text, "t.conf:1: udp.balancers: too many addresses "
	    "(65, at most 64)");
	free(text);
}
END_TEST

REJECT(udp_balancers_hostname, "udp = {\n balancers = [ \"nginx\" ]; };",
    "t.conf:2: udp.balancers: \"nginx\": not an IPv4 address")
REJECT(udp_balancers_type, "udp = { balancers = 5; };",
    "t.conf:1: udp.balancers: expected a string or a list of strings, "
    "got an integer")

START_TEST(connection_rate_values)
{
	accept_text("limits = { connection_rate = 50; "
	    "connection_burst = 100; };");
	ck_assert_uint_eq(cf.connection_rate, 50);
	ck_assert_uint_eq(cf.connection_burst, 100);
	accept_text("limits = { connection_rate = 0; connection_burst = 1; };");
	ck_assert_uint_eq(cf.connection_rate, 0);
	ck_assert_uint_eq(cf.connection_burst, 1);
	accept_text("limits = { connection_rate = 1000000; "
	    "connection_burst = 1000000; };");
	ck_assert_uint_eq(cf.connection_rate, CONFIG_MAX_CONN_RATE);
	ck_assert_uint_eq(cf.connection_burst, CONFIG_MAX_CONN_BURST);
}
END_TEST

REJECT(connection_rate_high, "limits = { connection_rate = 1000001; };",
    "t.conf:1: limits.connection_rate: 1000001 is out of range "
    "(0..1000000)")
REJECT(connection_rate_negative, "limits = { connection_rate = -1; };",
    "t.conf:1: limits.connection_rate: -1 is out of range (0..1000000)")
REJECT(connection_burst_zero, "limits = { connection_burst = 0; };",
    "t.conf:1: limits.connection_burst: 0 is out of range (1..1000000)")
REJECT(connection_burst_high, "limits = { connection_burst = 1000001; };",
    "t.conf:1: limits.connection_burst: 1000001 is out of range "
    "(1..1000000)")
REJECT(proxy_timeout_zero, "proxy_protocol = { timeout = 0; };",
    "t.conf:1: proxy_protocol.timeout: 0 is out of range (1..3600)")
REJECT(proxy_timeout_high, "proxy_protocol = {\n timeout = 3601; };",
    "t.conf:2: proxy_protocol.timeout: 3601 is out of range (1..3600)")
REJECT(proxy_timeout_string, "proxy_protocol = { timeout = \"5\"; };",
    "t.conf:1: proxy_protocol.timeout: expected an integer, got a string")
REJECT(proxy_not_group, "proxy_protocol = [ \"10.0.0.0/8\" ];",
    "t.conf:1: proxy_protocol: expected a group, got an array")
REJECT(proxy_from_group, "proxy_protocol = { from = { }; };",
    "t.conf:1: proxy_protocol.from: expected a string or a list of "
    "strings, got a group")
REJECT(proxy_from_int, "proxy_protocol = { from = 10; };",
    "t.conf:1: proxy_protocol.from: expected a string or a list of "
    "strings, got an integer")
REJECT(proxy_from_hostname, "proxy_protocol = { from = [ \"lb1\" ]; };",
    "t.conf:1: proxy_protocol.from: \"lb1\": not an IPv4 address")
REJECT(proxy_from_duplicate,
    "proxy_protocol = { from = [ \"127.0.0.1\",\n"
    "\"::ffff:127.0.0.1\" ]; };",
    "t.conf:2: proxy_protocol.from: \"::ffff:127.0.0.1\": duplicate of "
    "\"127.0.0.1\" (line 1)")
REJECT(proxy_unknown, "proxy_protocol = { version = 2; };",
    "t.conf:1: unknown setting 'proxy_protocol.version'")

START_TEST(access_values)
{
	accept_text("access = {\n"
	    "  allow = [ \"10.0.0.0/8\", \"2001:db8::/32\" ];\n"
	    "  deny  = [ \"10.1.2.0/24\" ];\n};");
	ck_assert_uint_eq(cf.access_nallow, 2);
	ck_assert_uint_eq(cf.access_ndeny, 1);
	ck_assert_ptr_eq(config_access_allow(&cf), &cf.access[0]);
	ck_assert_ptr_eq(config_access_deny(&cf), &cf.access[2]);
	assert_prefix(&config_access_allow(&cf)[0], "10.0.0.0/8");
	assert_prefix(&config_access_allow(&cf)[1], "2001:db8::/32");
	assert_prefix(&config_access_deny(&cf)[0], "10.1.2.0/24");
}
END_TEST

/* deny before allow: the same snapshot, allow first in access[]. */
START_TEST(access_order_of_lists)
{
	static struct config first;

	accept_text("access = { allow = [ \"10.0.0.0/8\", \"::1\" ]; "
	    "deny = [ \"10.1.0.0/16\", \"10.2.0.0/16\", \"10.3.0.0/16\" ]; };");
	first = cf;
	accept_text("access = { deny = [ \"10.1.0.0/16\", \"10.2.0.0/16\", "
	    "\"10.3.0.0/16\" ]; allow = [ \"10.0.0.0/8\", \"::1\" ]; };");
	ck_assert(memcmp(&first, &cf, sizeof(cf)) == 0);
	assert_prefix(&config_access_deny(&cf)[2], "10.3.0.0/16");
	assert_prefix(&config_access_allow(&cf)[1], "::1");
	/* deny alone, allow alone */
	accept_text("access = { deny = \"192.0.2.0/24\"; };");
	ck_assert_uint_eq(cf.access_nallow, 0);
	ck_assert_uint_eq(cf.access_ndeny, 1);
	assert_prefix(&config_access_deny(&cf)[0], "192.0.2.0/24");
	accept_text("access = { allow = ( \"192.0.2.0/24\" ); };");
	ck_assert_uint_eq(cf.access_nallow, 1);
	ck_assert_uint_eq(cf.access_ndeny, 0);
}
END_TEST

/* A prefix in both lists is allowed: deny wins, where it is used. */
START_TEST(access_in_both)
{
	accept_text("access = { allow = [ \"10.1.2.0/24\" ]; "
	    "deny = [ \"10.1.2.0/24\" ]; };");
	ck_assert_uint_eq(cf.access_nallow, 1);
	ck_assert_uint_eq(cf.access_ndeny, 1);
	ck_assert(memcmp(config_access_allow(&cf), config_access_deny(&cf),
	    sizeof(struct prefix)) == 0);
}
END_TEST

/* "access = { allow = [ nallow ]; deny = [ ndeny ]; };", all different. */
static char *
access_text(unsigned nallow, unsigned ndeny)
{
	char *a = prefix_list_text("access", "allow", nallow, 0);
	char *d = prefix_list_text("access", "deny", ndeny, nallow);
	size_t la = strlen(a), ld = strlen(d);
	char *text = malloc(la + ld + 1);

	ck_assert_ptr_nonnull(text);
	/* "access = { allow = [...]; };access = { deny..." is a duplicate
	 * group: merge the two into one. */
	memcpy(text, a, la - strlen(" };\n"));
	strcpy(text + la - strlen(" };\n"), d + strlen("access = {"));
	free(a);
	free(d);
	return text;
}

START_TEST(access_at_most)
{
	char *text;

	text = access_text(30000, CONFIG_MAX_ACCESS - 30000);
	accept_text(text);
	ck_assert_uint_eq(cf.access_nallow, 30000);
	ck_assert_uint_eq(cf.access_ndeny, CONFIG_MAX_ACCESS - 30000);
	assert_prefix(&config_access_allow(&cf)[29999], "10.0.117.47");
	assert_prefix(&config_access_deny(&cf)[0], "10.0.117.48");
	assert_prefix(&config_access_deny(&cf)[cf.access_ndeny - 1],
	    "10.0.195.79");
	free(text);
	text = access_text(30000, CONFIG_MAX_ACCESS - 30000 + 1);
	reject(text, "t.conf:30000: access.deny: too many rules (20001 here "
	    "and 30000 in access.allow, at most 50000 together)");
	free(text);
}
END_TEST

/* All the rules as long IPv6 prefixes: a file of more than 1 MiB. */
START_TEST(access_long_file)
{
	char path[PATH_MAX];
	size_t len = 64 + (size_t)CONFIG_MAX_ACCESS * 48, o;
	char *text = malloc(len);
	unsigned i;

	ck_assert_ptr_nonnull(text);
	o = (size_t)snprintf(text, len, "access = { deny = [\n");
	for (i = 0; i < CONFIG_MAX_ACCESS; i++)
		o += (size_t)snprintf(text + o, len - o,
		    "%s\t\"2001:db8:%04x:%04x:abcd:ef01::/96\"",
		    i > 0 ? ",\n" : "", i >> 16, i & 0xffff);
	snprintf(text + o, len - o, " ]; };\n");
	/* More than the 1 MiB that used to be the limit. */
	ck_assert_uint_gt(strlen(text), 1024 * 1024);
	write_text(path, sizeof(path), "long-access.conf", text);
	free(text);
	ck_assert_msg(config_parse_file(path, &cf, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(cf.access_ndeny, CONFIG_MAX_ACCESS);
	assert_prefix(&config_access_deny(&cf)[CONFIG_MAX_ACCESS - 1],
	    "2001:db8:0:c34f:abcd:ef01::/96");
}
END_TEST

START_TEST(file_too_large)
{
	char path[PATH_MAX], want[PATH_MAX + 64];
	size_t len = 8 * 1024 * 1024 + 1;
	char *text = malloc(len + 1);

	ck_assert_ptr_nonnull(text);
	memset(text, '\n', len);
	memcpy(text, "# large\n", 8);
	text[len] = '\0';
	write_text(path, sizeof(path), "large.conf", text);
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: too large (more than 8388608 bytes)",
	    path);
	ck_assert_str_eq(err, want);
	/* One byte less is read. */
	text[len - 1] = '\0';
	write_text(path, sizeof(path), "large.conf", text);
	free(text);
	ck_assert_msg(config_parse_file(path, &cf, err, sizeof(err)) == 0,
	    "%s", err);
	(void)unlink(path);
}
END_TEST

/*
 * The whole 900 KB snapshot crosses the child's pipe intact, with the
 * 10,000 rules of the benchmark (50,000 would take the child longer
 * than its 10 s under valgrind on a busy machine).
 */
START_TEST(access_through_child)
{
	static struct config direct;
	char path[PATH_MAX], *text;

	text = access_text(6000, 4000);
	write_text(path, sizeof(path), "child-access.conf", text);
	free(text);
	ck_assert_msg(confchild_load(path, &cf, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(config_parse_file(path, &direct, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(cf.access_nallow, 6000);
	ck_assert_uint_eq(cf.access_ndeny, 4000);
	assert_prefix(&config_access_deny(&cf)[3999], "10.0.39.15");
	/* The child sends the used part only: compare that. */
	ck_assert_uint_eq(config_used_size(&cf), config_used_size(&direct));
	ck_assert(memcmp(&cf, &direct, config_used_size(&cf)) == 0);
}
END_TEST

START_TEST(copy_used_part)
{
	static struct config dst;
	size_t used;

	accept_text("access = { allow = [ \"10.0.0.0/8\", \"::1\" ];\n"
	    "  deny = [ \"10.1.0.0/16\" ]; };");
	used = config_used_size(&cf);
	ck_assert_uint_eq(used, offsetof(struct config, access) +
	    3 * sizeof(cf.access[0]));
	memset(&dst, 0xaa, sizeof(dst));
	config_copy(&dst, &cf);
	ck_assert(memcmp(&dst, &cf, used) == 0);
	ck_assert_uint_eq(dst.access_nallow, 2);
	ck_assert_uint_eq(dst.access_ndeny, 1);
	assert_prefix(&config_access_deny(&dst)[0], "10.1.0.0/16");
	/* The unused tail is neither copied nor needed. */
	ck_assert_uint_eq(((unsigned char *)&dst)[used], 0xaa);
	ck_assert_uint_eq(((unsigned char *)&dst)[sizeof(dst) - 1], 0xaa);
	/* No rules: the copy stops before the array. */
	config_defaults(&cf);
	ck_assert_uint_eq(config_used_size(&cf),
	    offsetof(struct config, access));
}
END_TEST

START_TEST(access_dump_round_trip)
{
	static struct config back;
	char *text, *out;

	text = access_text(700, 300);
	accept_text(text);
	free(text);
	out = dump(&cf);
	ck_assert_msg(config_parse_string(out, "t.conf", &back, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(&back, &cf, sizeof(cf)) == 0);
	free(out);
}
END_TEST

REJECT(access_host_bits, "access = {\n  deny = [ \"10.1.2.3/8\" ];\n};",
    "t.conf:2: access.deny: \"10.1.2.3/8\": host bits set: did you mean "
    "10.0.0.0/8?")
REJECT(access_not_string, "access = { allow = ( \"10.0.0.0/8\", 5 ); };",
    "t.conf:1: access.allow: expected a string, got an integer")
REJECT(access_not_list, "access = { deny = 5; };",
    "t.conf:1: access.deny: expected a string or a list of strings, "
    "got an integer")
REJECT(access_duplicate, "access = { allow = [ \"10.0.0.0/8\",\n"
    "\"192.0.2.0/24\",\n\"10.0.0.0/8\" ]; };",
    "t.conf:3: access.allow: \"10.0.0.0/8\": duplicate of \"10.0.0.0/8\" "
    "(line 1)")
REJECT(access_duplicate_spelling,
    "access = { deny = [ \"2001:db8::/32\", \"2001:0db8:0::/32\" ]; };",
    "t.conf:1: access.deny: \"2001:0db8:0::/32\": duplicate of "
    "\"2001:db8::/32\" (line 1)")
REJECT(access_duplicates_in_order,
    "access = { deny = [ \"10.0.0.1\",\n\"10.0.0.2\",\n\"10.0.0.1/32\",\n"
    "\"10.0.0.2\",\n\"10.0.0.1\" ]; };",
    "t.conf:3: access.deny: \"10.0.0.1/32\": duplicate of \"10.0.0.1\" "
    "(line 1)\n"
    "t.conf:4: access.deny: \"10.0.0.2\": duplicate of \"10.0.0.2\" "
    "(line 2)\n"
    "t.conf:5: access.deny: \"10.0.0.1\": duplicate of \"10.0.0.1\" "
    "(line 1)")
REJECT(access_unknown, "access = { permit = [ ]; };",
    "t.conf:1: unknown setting 'access.permit'")
REJECT(access_three_mistakes,
    "access = {\n"
    "  allow = [ \"10.0.0.0/8\", \"10.0.0.0/33\",\n"
    "    \"2001:db8::/32\", \"2001:db8::1/32\" ];\n"
    "  deny  = ( \"10.1.2.0/24\", \"10.1.2.0/24\" );\n"
    "};",
    "t.conf:2: access.allow: \"10.0.0.0/33\": the prefix length must be "
    "a number from 0 to 32\n"
    "t.conf:3: access.allow: \"2001:db8::1/32\": host bits set: did you "
    "mean 2001:db8::/32?\n"
    "t.conf:4: access.deny: \"10.1.2.0/24\": duplicate of \"10.1.2.0/24\" "
    "(line 4)")

/* One duplicate among 20,000: found (by sorting), at its own line. */
START_TEST(access_duplicate_among_many)
{
	char *text, *end, want[160];

	text = prefix_list_text("access", "deny", 20000, 0);
	/* The last entry becomes a copy of entry 1234. */
	end = strrchr(text, '"');
	*end = '\0';
	end = strrchr(text, '"');
	strcpy(end, "\"10.0.4.210\" ]; };\n");
	snprintf(want, sizeof(want), "t.conf:20000: access.deny: "
	    "\"10.0.4.210\": duplicate of \"10.0.4.210\" (line 1235)");
	reject(text, want);
	free(text);
}
END_TEST

/* --- every error ----------------------------------------------------- */

/* The number of lines of text. */
static unsigned
count_lines(const char *text)
{
	unsigned n = 1;

	for (; *text != '\0'; text++)
		if (*text == '\n')
			n++;
	return n;
}

/* Line i (from 0) of text, in buf. */
static const char *
nth_line(const char *text, unsigned i, char *buf, size_t len)
{
	const char *end;

	for (; i > 0; i--) {
		text = strchr(text, '\n');
		ck_assert_ptr_nonnull(text);
		text++;
	}
	end = strchr(text, '\n');
	snprintf(buf, len, "%.*s", (int)(end != NULL ? (size_t)(end - text) :
	    strlen(text)), text);
	return buf;
}

static const char three_mistakes[] =
    "workers = 2;\n"
    "tcp = {\n"
    "\tports = [ 8008 ];\n"
    "\tbind = \"localhost\";\n"
    "};\n"
    "limits = {\n"
    "\tidle_timeout = 10;\n"
    "\tmax_conections = 5;\n"
    "};\n"
    "log = { level = \"loud\"; };\n";

START_TEST(errors_three_in_file_order)
{
	char path[PATH_MAX], want[3 * PATH_MAX + 256];

	write_text(path, sizeof(path), "three.conf", three_mistakes);
	memset(&cf, 0xa5, sizeof(cf));
	ck_assert_int_eq(config_parse_file(path, &cf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	    "%s:4: tcp.bind: \"localhost\" is not a numeric IPv4 or IPv6 "
	    "address\n"
	    "%s:8: unknown setting 'limits.max_conections'\n"
	    "%s:10: log.level: unknown level \"loud\" (debug, info, notice, "
	    "warning, err)", path, path, path);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(count_lines(err), 3);
	ck_assert_uint_eq(config_error_count(err), 3);
	assert_defaults(&cf);
}
END_TEST

/* The parsing child sends them all through its pipe. */
START_TEST(errors_three_through_child)
{
	child_same_error("child-three.conf", three_mistakes);
	ck_assert_uint_eq(count_lines(err), 3);
}
END_TEST

REJECT(errors_in_one_list,
    "tcp = { ports = [ 0,\n 8008,\n 8008,\n 70000 ]; };",
    "t.conf:1: tcp.ports: 0 is out of range (1..65535)\n"
    "t.conf:3: tcp.ports: duplicate port 8008\n"
    "t.conf:4: tcp.ports: 70000 is out of range (1..65535)")
REJECT(errors_in_bind_list,
    "udp = { bind = ( \"::1\", \"x\",\n \"::1\", 7 ); };",
    "t.conf:1: udp.bind: \"x\" is not a numeric IPv4 or IPv6 address\n"
    "t.conf:2: udp.bind: duplicate address \"::1\"\n"
    "t.conf:2: udp.bind: expected a string, got an integer")
REJECT(errors_group_and_inside,
    "tcp = 5;\nudp = { prots = 1;\n rate_burst = 0; };\nworkers = 300;",
    "t.conf:1: tcp: expected a group, got an integer\n"
    "t.conf:2: unknown setting 'udp.prots'\n"
    "t.conf:3: udp.rate_burst: 0 is out of range (1..10000000)\n"
    "t.conf:4: workers: 300 is out of range (0..256)")
/* libconfig stops at a syntax error: there is nothing else to walk. */
REJECT(errors_syntax_alone, "workers = -1;\nbogus = 2;\nlog = ;\n",
    "t.conf:3: syntax error")
/* Both are stored as 8008: each is told apart by its place. */
REJECT(wide_before_neighbour, "tcp = { ports = [ 4294975304, 8008 ]; };",
    "t.conf:1: tcp.ports: 4294975304 is out of range (1..65535)")
REJECT(wide_twice_in_list,
    "tcp = { ports = [ 4294975304, 8008, 4294975304 ]; };",
    "t.conf:1: tcp.ports: 4294975304 is out of range (1..65535)\n"
    "t.conf:1: tcp.ports: 4294975304 is out of range (1..65535)")

/* n lines "bogusI = 1;" */
static void
bogus_text(char *buf, size_t len, unsigned n)
{
	size_t o = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 1; i <= n; i++)
		o += (size_t)snprintf(buf + o, len - o, "bogus%u = 1;\n", i);
}

START_TEST(errors_at_most_max)
{
	char text[1024], line[128], want[128];
	unsigned i;

	bogus_text(text, sizeof(text), CONFIG_MAX_ERRORS + 5);
	reject(text, NULL);
	ck_assert_uint_eq(count_lines(err), CONFIG_MAX_ERRORS + 1);
	for (i = 0; i < CONFIG_MAX_ERRORS; i++) {
		snprintf(want, sizeof(want),
		    "t.conf:%u: unknown setting 'bogus%u'", i + 1, i + 1);
		ck_assert_str_eq(nth_line(err, i, line, sizeof(line)), want);
	}
	ck_assert_str_eq(nth_line(err, i, line, sizeof(line)),
	    "... and 5 more errors");
	ck_assert_uint_eq(config_error_count(err), CONFIG_MAX_ERRORS + 5);
}
END_TEST

START_TEST(errors_exactly_max)
{
	char text[1024];

	bogus_text(text, sizeof(text), CONFIG_MAX_ERRORS);
	reject(text, NULL);
	ck_assert_uint_eq(count_lines(err), CONFIG_MAX_ERRORS);
	ck_assert_ptr_null(strstr(err, "more error"));
	bogus_text(text, sizeof(text), CONFIG_MAX_ERRORS + 1);
	reject(text, NULL);
	ck_assert_ptr_nonnull(strstr(err, "\n... and 1 more error"));
	ck_assert_ptr_null(strstr(err, "more errors"));
}
END_TEST

/* Long lines: as many as fit in CONFIG_ERRLEN, then the count. */
START_TEST(errors_at_most_errlen)
{
	char name[1001], text[256], line[1200], want[1200];
	unsigned i, n, shown;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	bogus_text(text, sizeof(text), 12);
	n = 12;
	ck_assert_int_eq(config_parse_string(text, name, &cf, err,
	    sizeof(err)), -1);
	ck_assert_uint_lt(strlen(err), CONFIG_ERRLEN);
	shown = count_lines(err) - 1;
	ck_assert_uint_gt(shown, 1);
	ck_assert_uint_lt(shown, n);
	/* The room was used: one more would not have fitted. */
	ck_assert_uint_gt(strlen(err) + strlen(nth_line(err, 0, line,
	    sizeof(line))), CONFIG_ERRLEN - 64);
	for (i = 0; i < shown; i++) {
		snprintf(want, sizeof(want), "%s:%u: unknown setting 'bogus%u'",
		    name, i + 1, i + 1);
		ck_assert_str_eq(nth_line(err, i, line, sizeof(line)), want);
	}
	snprintf(want, sizeof(want), "... and %u more errors", n - shown);
	ck_assert_str_eq(nth_line(err, shown, line, sizeof(line)), want);
	ck_assert_uint_eq(config_error_count(err), n);
}
END_TEST

/* A short buffer gets the start of the same text. */
START_TEST(errors_short_buffer)
{
	char full[CONFIG_ERRLEN], small[40];

	ck_assert_int_eq(config_parse_string(three_mistakes, "t.conf", &cf,
	    full, sizeof(full)), -1);
	ck_assert_int_eq(config_parse_string(three_mistakes, "t.conf", &cf,
	    small, sizeof(small)), -1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(strncmp(small, full, sizeof(small) - 1) == 0);
}
END_TEST

/* Many long lines through the child's pipe, cut the same way. */
START_TEST(errors_many_through_child)
{
	char text[16384], name[121];
	size_t o = 0;
	unsigned i;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "%s%u = 1;\n", name, i);
	child_same_error("child-many.conf", text);
	ck_assert_uint_gt(strlen(err), 2048);
	ck_assert_uint_eq(config_error_count(err), 40);
}
END_TEST

START_TEST(error_count)
{
	ck_assert_uint_eq(config_error_count(""), 0);
	ck_assert_uint_eq(config_error_count("f: cannot open"), 1);
	ck_assert_uint_eq(config_error_count("a:1: x\na:2: y"), 2);
	ck_assert_uint_eq(config_error_count("a:1: x\n... and 1 more error"),
	    2);
	ck_assert_uint_eq(config_error_count(
	    "a:1: x\na:2: y\n... and 7 more errors"), 9);
}
END_TEST

/* --- metrics --------------------------------------------------------- */

START_TEST(metrics_ports_and_bind)
{
	accept_text("metrics = { ports = [ 9808, 9809 ]; bind = \"::1\"; };");
	ck_assert_uint_eq(cf.metrics.nports, 2);
	ck_assert_uint_eq(cf.metrics.ports[0], 9808);
	ck_assert_uint_eq(cf.metrics.ports[1], 9809);
	ck_assert_uint_eq(cf.metrics.nbinds, 1);
	ck_assert_str_eq(cf.metrics.binds[0].text, "::1");
	ck_assert_int_eq(cf.metrics.binds[0].addr.ss_family, AF_INET6);
	/* The echo ports keep their defaults. */
	ck_assert_uint_eq(cf.tcp.nports, 1);
	ck_assert_str_eq(cf.tcp.binds[0].text, "::");
}
END_TEST

START_TEST(metrics_bind_list)
{
	accept_text("metrics = { ports = [ 9808 ];\n"
	    "bind = [ \"127.0.0.1\", \"::1\" ]; };");
	ck_assert_uint_eq(cf.metrics.nbinds, 2);
	ck_assert_str_eq(cf.metrics.binds[1].text, "::1");
}
END_TEST

/* The echo port on another address than the endpoint's: fine. */
START_TEST(metrics_port_of_tcp_elsewhere)
{
	accept_text("tcp = { ports = [ 9808 ]; bind = \"127.0.0.2\"; };\n"
	    "metrics = { ports = [ 9808 ]; bind = \"127.0.0.1\"; };");
	ck_assert_uint_eq(cf.metrics.ports[0], 9808);
	/* And a UDP echo port is no TCP port. */
	accept_text("udp = { ports = [ 9808 ]; };\n"
	    "metrics = { ports = [ 9808 ]; };");
}
END_TEST

REJECT(metrics_port_is_tcp_port,
    "tcp = { ports = [ 8008, 9808 ]; bind = \"127.0.0.1\"; };\n"
    "metrics = {\n"
    "\tports = [ 9808 ];\n"
    "};",
    "t.conf:3: metrics.ports: port 9808 is also a TCP echo port on "
    "127.0.0.1")
/* The default tcp.bind "::" takes every address, 127.0.0.1 too. */
REJECT(metrics_port_is_default_tcp_port,
    "metrics = { ports = [ 8008 ]; };",
    "t.conf:1: metrics.ports: port 8008 is also a TCP echo port on ::")
REJECT(metrics_port_under_wildcard_v4,
    "tcp = { bind = \"0.0.0.0\"; ports = [ 9000 ]; };\n"
    "metrics = { bind = [ \"::1\", \"127.0.0.1\" ];\n ports = [ 9000 ]; };",
    "t.conf:3: metrics.ports: port 9000 is also a TCP echo port on "
    "0.0.0.0")
REJECT(metrics_port_range,
    "metrics = { ports = [ 0 ]; };",
    "t.conf:1: metrics.ports: 0 is out of range (1..65535)")
REJECT(metrics_bind_hostname,
    "metrics = { bind = \"localhost\"; };",
    "t.conf:1: metrics.bind: \"localhost\" is not a numeric IPv4 or IPv6 "
    "address")
REJECT(metrics_unknown,
    "metrics = { path = \"/metrics\"; };",
    "t.conf:1: unknown setting 'metrics.path'")

START_TEST(dump_metrics_round_trip)
{
	static struct config first;
	char *text;

	accept_text("metrics = { ports = [ 9808, 19808 ]; "
	    "bind = [ \"::1\", \"127.0.0.1\" ]; };");
	config_copy(&first, &cf);
	text = dump(&cf);
	ck_assert_ptr_nonnull(strstr(text, "metrics = {\n\tports = [ 9808, "
	    "19808 ];\n\tbind = [ \"::1\", \"127.0.0.1\" ];\n};\n"));
	accept_text(text);
	assert_config_eq(&cf, &first);
	free(text);
}
END_TEST

/* --- runner ---------------------------------------------------------- */

static void
add(TCase *tc, const TTest *const *tests, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
}

#define ADD(tc, ...) do {						\
	const TTest *const t_[] = { __VA_ARGS__ };			\
	add((tc), t_, sizeof(t_) / sizeof(t_[0]));			\
} while (0)

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("accept");
	ADD(tc, defaults_empty, defaults_function, defaults_comments_only,
	    defaults_empty_groups, workers_value, workers_max,
	    workers_colon_and_hex, workers_effective_cpus, tcp_ports_array,
	    udp_ports_list, ports_empty, ports_64, ports_same_for_tcp_and_udp,
	    bind_string_ipv4, bind_string_ipv6, bind_dual_stack, bind_list,
	    bind_list_parens, bind_16, bind_scope, exit_command_value,
	    exit_command_empty, exit_command_63, limits_all, limits_partial,
	    limits_lowest, limits_highest, lame_duck_values, int64_in_range,
	    level_name_unknown,
	    transform_values, transform_round_trip, udp_rate_values,
	    tcp_socket_buffers,
	    limits_per_source_and_crowded,
	    udp_port_is_ours, everything_non_default,
	    literals_outside_values_ignored, metrics_ports_and_bind,
	    metrics_bind_list, metrics_port_of_tcp_elsewhere);
	tcase_add_loop_test(tc, log_level_each, 0,
	    (int)(sizeof(levels) / sizeof(levels[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	ADD(tc, transform_unknown, transform_int, udp_rate_too_high,
	    send_buffer_too_high, receive_buffer_negative, send_buffer_in_udp,
	    per_source_too_high, crowded_zero,
	    udp_burst_zero, tcp_has_no_rate,
	    workers_string, workers_float, workers_float_exponent,
	    workers_bool, workers_array, workers_group, limit_string,
	    limit_float, limit_list, exit_command_int, level_int,
	    ports_scalar, ports_string_element, ports_mixed_list,
	    ports_group_element, ports_float_element, bind_int, bind_group,
	    bind_int_element, group_tcp_int, group_udp_string,
	    group_limits_array, group_log_string, group_tcp_list);
	ADD(tc, workers_low, workers_high, max_connections_low,
	    max_connections_high, idle_timeout_low, idle_timeout_high,
	    max_pending_low, max_pending_high, drain_timeout_low,
	    drain_timeout_high, lame_duck_low, lame_duck_high,
	    lame_duck_string, lame_duck_in_limits, port_0, port_65536,
	    port_negative,
	    int64_out_of_range, int64_not_truncated, int64_port);
	ADD(tc, wide_in_range_when_cut, wide_wraps_to_default,
	    wide_just_above, wide_negative, wide_hex, wide_in_list,
	    wide_not_blamed_on_neighbour, wide_long_text_cut,
	    wide_for_a_string, wide_too_many);
	ADD(tc, port_duplicate, port_duplicate_udp, ports_65, bind_17,
	    bind_empty_list, bind_hostname, bind_with_port,
	    bind_empty_string, bind_bad_in_list, bind_control_quoted,
	    bind_duplicate, bind_duplicate_spelling);
	ADD(tc, unknown_top, unknown_top_group, unknown_case,
	    unknown_limits, unknown_tcp, unknown_log,
	    unknown_name_with_digits, every_error,
	    every_error_in_file_order, level_unknown, level_upper_case,
	    exit_command_64, exit_command_cr, exit_command_lf,
	    exit_command_tab, exit_command_del, syntax_error_line,
	    syntax_unclosed_group, syntax_duplicate, syntax_mixed_array);
	ADD(tc, metrics_port_is_tcp_port, metrics_port_is_default_tcp_port,
	    metrics_port_under_wildcard_v4, metrics_port_range,
	    metrics_bind_hostname, metrics_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	ADD(tc, file_missing, file_directory, file_fifo, file_ok, file_empty,
	    file_long_path, include_ok, shipped_config,
	    file_too_large,
	    shipped_config_complete);
	tcase_add_loop_test(tc, file_rejected, 0,
	    (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	ADD(tc, dump_exact, dump_prefixes_exact, dump_zero_comments,
	    dump_workers_comment, dump_round_trip_defaults,
	    dump_round_trip_everything, dump_path_newline,
	    dump_metrics_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("confchild");
	/* Room for valgrind, which runs the children too. */
	tcase_set_timeout(tc, 60);
	ADD(tc, child_ok, child_syntax_error, child_value_error,
	    child_missing_file, child_include_directory, child_leaves_nothing,
	    child_holds_no_descriptor,
	    child_short_errlen);
	suite_add_tcase(s, tc);

	tc = tcase_create("proxy-access");
	tcase_set_timeout(tc, 60);
	ADD(tc, new_defaults, proxy_values, proxy_from_64,
	    connection_rate_values, connection_rate_high,
	    connection_rate_negative, connection_burst_zero,
	    connection_burst_high, proxy_timeout_zero, proxy_timeout_high,
	    proxy_timeout_string, proxy_not_group, proxy_from_group,
	    proxy_from_int, proxy_from_hostname, proxy_from_duplicate,
	    proxy_unknown, access_values, access_order_of_lists,
	    access_in_both, access_at_most, access_long_file,
	    access_through_child, copy_used_part,
	    access_dump_round_trip, access_host_bits, access_not_string,
	    access_not_list, access_duplicate, access_duplicate_spelling,
	    access_duplicates_in_order, access_unknown,
	    access_three_mistakes, access_duplicate_among_many,
	    udp_balancers_values, udp_balancers_hostname, udp_balancers_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	ADD(tc, errors_three_in_file_order, errors_three_through_child,
	    errors_in_one_list, errors_in_bind_list, errors_group_and_inside,
	    errors_syntax_alone, wide_before_neighbour, wide_twice_in_list,
	    errors_at_most_max, errors_exactly_max, errors_at_most_errlen,
	    errors_short_buffer, errors_many_through_child, error_count);
	suite_add_tcase(s, tc);
	return s;
}

/* Remove the temporary directory and what the tests left in it. */
static void
cleanup(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		tmp_path(path, sizeof(path), de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(tmpdir);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
