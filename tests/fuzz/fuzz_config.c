/*
 * fuzz_config.c - the configuration parser and validator, fed as files.
 *
 * Each input is written to one temporary file (reused) and read with
 * config_parse_file(), in this process, as `upcased --check-config` does.
 * On success every value must lie in its documented range (config.h), the
 * ports of each protocol must be unique, each bind address must re-parse
 * to what was stored, and config_dump() must read back
 * (config_parse_string) to the same configuration.  On failure the message
 * must be non-empty, NUL-terminated, printable but for the newlines
 * between errors, with at most CONFIG_MAX_ERRORS lines that each name the
 * file they are about ("FILE:" first), perhaps followed by "... and N
 * more errors"; config_error_count() must agree; and *cf must hold the
 * defaults.  A second parse with a short error buffer must give a prefix
 * of the same message.
 *
 * @include: libconfig 1.5 reads included files itself and calls exit()
 * from its scanner when one cannot be read (a directory: "input in flex
 * scanner failed"), and would read whatever the name points at (a FIFO
 * blocks, /dev/zero never ends).  The daemon guards against that with a
 * child process (confchild.c); here an input is run only if every
 * "@include" in it is followed by blanks and a plain quoted name
 * ([A-Za-z0-9_.-]{1,64}, not "." or ".."), and that name is rewritten to
 * an absolute path inside a private scratch directory before the file is
 * written.  The directory holds a few fixture files (a valid fragment, a
 * syntax error, an unknown setting, a wide literal, nested and recursive
 * includes) and nothing else, so any other name is a missing file.  That
 * keeps include handling (errors naming the included file, wide literals
 * found in included text) under test without ever reaching a directory
 * or a device.  Other inputs are rejected (return -1: not added to the
 * corpus).  The rewrite keeps line numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);

#define MAX_INCLUDE_NAME	64
/* Longer than one error line can be: the room a "more errors" leaves. */
#define LINE_SLACK		2200

static char	 scratch[PATH_MAX];	/* private directory */
static char	 input_path[PATH_MAX + 16];	/* the file parsed each time */
static uint8_t	*text;			/* rewritten input */
static size_t	 text_cap;

static const char *const fixtures[][2] = {
	{ "ok.inc",	"workers = 3;\nlimits = { idle_timeout = 60; };\n" },
	{ "tcp.inc",	"tcp = { ports = [ 1, 2, 3 ]; bind = \"::1\"; };\n" },
	{ "bad.inc",	"# a syntax error on line 2\nworkers = ;\n" },
	{ "unknown.inc", "limits = {\n\tmax_conections = 5;\n};\n" },
	{ "wide.inc",	"\nlimits = { max_pending_output = 5000000000; };\n" },
	{ "range.inc",	"udp = { ports = [ 0 ]; };\n" },
	{ "nest.inc",	NULL },		/* includes ok.inc */
	{ "loop.inc",	NULL },		/* includes itself */
};
#define NFIXTURES	(sizeof(fixtures) / sizeof(fixtures[0]))

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, strerror(errno));
	abort();
}

static void
write_all(const char *path, const void *buf, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		die(path);
	if (len > 0 && write(fd, buf, len) != (ssize_t)len)
		die(path);
	if (close(fd) == -1)
		die(path);
}

static void
cleanup(void)
{
	char path[PATH_MAX + 32];
	size_t i;

	if (scratch[0] == '\0')
		return;
	for (i = 0; i < NFIXTURES; i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, fixtures[i][0]);
		(void)unlink(path);
	}
	(void)unlink(input_path);
	(void)rmdir(scratch);
	free(text);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[PATH_MAX + 32], body[2 * PATH_MAX + 64];
	const char *tmp = getenv("TMPDIR");
	size_t i;

	(void)argc;
	(void)argv;
	snprintf(scratch, sizeof(scratch), "%s/upcased-fuzz-config.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(scratch) == NULL)
		die("mkdtemp");
	snprintf(input_path, sizeof(input_path), "%s/input.conf", scratch);
	for (i = 0; i < NFIXTURES; i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, fixtures[i][0]);
		if (fixtures[i][1] != NULL)
			snprintf(body, sizeof(body), "%s", fixtures[i][1]);
		else if (strcmp(fixtures[i][0], "nest.inc") == 0)
			snprintf(body, sizeof(body),
			    "log = { level = \"debug\"; };\n@include \"%s/ok.inc\"\n",
			    scratch);
		else
			snprintf(body, sizeof(body), "@include \"%s\"\n", path);
		write_all(path, body, strlen(body));
	}
	atexit(cleanup);
	return 0;
}

/*
 * libconfig 1.5 leaks on some syntax errors (ARCHITECTURE.md: the
 * daemon parses in a child for that reason too): the scanner's buffer of
 * a string literal cut by the error.  Only the libconfig functions that
 * leak that way are named here, so a setting tree that upcased forgot to
 * config_destroy() (allocated elsewhere in libconfig) is still reported.
 */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\n"
	    "leak:libconfig_yylex\n";
}

/* --- @include filter and rewrite -------------------------------------- */

static bool
name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static void
text_put(size_t *o, const void *p, size_t n)
{
	size_t need = *o + n + 1;

	if (need > text_cap) {
		text_cap = need * 2;
		if ((text = realloc(text, text_cap)) == NULL)
			die("realloc");
	}
	memcpy(text + *o, p, n);
	*o += n;
}

/*
 * Copy in to text, with each include name made absolute in scratch.
 * Returns the length, or -1 if an "@include" is not of the safe form.
 */
static long
rewrite(const uint8_t *in, size_t n)
{
	static const char kw[] = "@include";
	const size_t kwlen = sizeof(kw) - 1;
	size_t i = 0, o = 0, j, name, len;
	const uint8_t *at;

	for (;;) {
		at = memmem(in + i, n - i, kw, kwlen);
		if (at == NULL)
			break;
		j = (size_t)(at - in) + kwlen;
		if (j >= n || (in[j] != ' ' && in[j] != '\t'))
			return -1;
		while (j < n && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j >= n || in[j] != '"')
			return -1;
		name = ++j;
		while (j < n && name_char(in[j]))
			j++;
		len = j - name;
		if (j >= n || in[j] != '"' || len == 0 ||
		    len > MAX_INCLUDE_NAME ||
		    (len == 1 && in[name] == '.') ||
		    (len == 2 && in[name] == '.' && in[name + 1] == '.'))
			return -1;
		text_put(&o, in + i, name - i);
		text_put(&o, scratch, strlen(scratch));
		text_put(&o, "/", 1);
		i = name;
	}
	text_put(&o, in + i, n - i);
	return (long)o;
}

/* --- checks ----------------------------------------------------------- */

static bool
cstr_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void
check_proto(const char *name, const struct config_proto *pr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned i, j;

	CHECK(pr->nports <= CONFIG_MAX_PORTS, "%s: %u ports", name,
	    pr->nports);
	for (i = 0; i < pr->nports; i++) {
		CHECK(pr->ports[i] != 0, "%s: port 0", name);
		for (j = 0; j < i; j++)
			CHECK(pr->ports[i] != pr->ports[j],
			    "%s: duplicate port %u", name, pr->ports[i]);
	}
	/* "bind = [ ]" is refused and the default is one address. */
	CHECK(pr->nbinds >= 1 && pr->nbinds <= CONFIG_MAX_BINDS,
	    "%s: %u binds", name, pr->nbinds);
	for (i = 0; i < pr->nbinds; i++) {
		const struct config_bind *b = &pr->binds[i];

		CHECK(cstr_ok(b->text, sizeof(b->text)) && b->text[0] != '\0',
		    "%s: bind %u text", name, i);
		CHECK(b->addr.ss_family == AF_INET ||
		    b->addr.ss_family == AF_INET6, "%s: bind %u family %d",
		    name, i, b->addr.ss_family);
		CHECK(b->addrlen == (b->addr.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
		    "%s: bind %u addrlen %u", name, i, (unsigned)b->addrlen);
		CHECK(addr_port((const struct sockaddr *)&b->addr) == 0,
		    "%s: bind %u has a port", name, i);
		CHECK(addr_parse(b->text, &ss, &len) == 0 &&
		    len == b->addrlen && memcmp(&ss, &b->addr, len) == 0,
		    "%s: bind %u '%s' does not re-parse to itself", name, i,
		    b->text);
		for (j = 0; j < i; j++)
			CHECK(pr->binds[j].addrlen != b->addrlen ||
			    memcmp(&pr->binds[j].addr, &b->addr,
			    b->addrlen) != 0, "%s: duplicate bind '%s'", name,
			    b->text);
	}
}

/* Canonical (host bits zero, mapped IPv4 as IPv4), no duplicates. */
static void
check_prefixes(const char *name, const struct prefix *pf, unsigned n)
{
	struct prefix m;
	unsigned i, j;

	for (i = 0; i < n; i++) {
		CHECK((pf[i].family == AF_INET && pf[i].len <= 32) ||
		    (pf[i].family == AF_INET6 && pf[i].len <= 128),
		    "%s[%u]: family %u, length %u", name, i, pf[i].family,
		    pf[i].len);
		m = pf[i];
		prefix_mask(&m);
		CHECK(memcmp(&m, &pf[i], sizeof(m)) == 0,
		    "%s[%u]: host bits set", name, i);
		for (j = 0; j < i; j++)
			CHECK(memcmp(&pf[j], &pf[i], sizeof(m)) != 0,
			    "%s[%u]: duplicate of [%u]", name, i, j);
	}
}

static void
check_valid(const struct config *cf, const char *path)
{
	size_t i, len;
	unsigned n;

	CHECK(strcmp(cf->path, path) == 0, "path '%s'", cf->path);
	CHECK(cf->workers <= CONFIG_MAX_WORKERS, "workers %u", cf->workers);
	n = config_effective_workers(cf);
	CHECK(n >= 1 && n <= CONFIG_MAX_WORKERS, "effective workers %u", n);
	CHECK(cf->transform == CONFIG_TRANSFORM_UNICODE ||
	    cf->transform == CONFIG_TRANSFORM_ASCII, "transform %d",
	    (int)cf->transform);
	check_proto("tcp", &cf->tcp);
	check_proto("udp", &cf->udp);
	CHECK(cstr_ok(cf->exit_command, sizeof(cf->exit_command)),
	    "exit_command not terminated");
	len = strlen(cf->exit_command);
	CHECK(len <= CONFIG_MAX_EXIT, "exit_command %zu bytes", len);
	for (i = 0; i < len; i++)
		CHECK((unsigned char)cf->exit_command[i] >= 0x20 &&
		    (unsigned char)cf->exit_command[i] != 0x7f,
		    "exit_command has control byte 0x%02x",
		    (unsigned char)cf->exit_command[i]);
	CHECK(cf->max_connections >= CONFIG_MIN_CONNECTIONS &&
	    cf->max_connections <= CONFIG_MAX_CONNECTIONS,
	    "max_connections %u", cf->max_connections);
	CHECK(cf->idle_timeout <= CONFIG_MAX_IDLE_TIMEOUT, "idle_timeout %u",
	    cf->idle_timeout);
	CHECK(cf->max_pending_output >= CONFIG_MIN_PENDING &&
	    cf->max_pending_output <= CONFIG_MAX_PENDING,
	    "max_pending_output %zu", cf->max_pending_output);
	CHECK(cf->drain_timeout <= CONFIG_MAX_DRAIN_TIMEOUT,
	    "drain_timeout %u", cf->drain_timeout);
	CHECK(cf->max_per_source <= CONFIG_MAX_PER_SOURCE,
	    "max_connections_per_source %u", cf->max_per_source);
	CHECK(cf->crowded_idle_timeout >= 1 &&
	    cf->crowded_idle_timeout <= CONFIG_MAX_CROWDED_IDLE,
	    "crowded_idle_timeout %u", cf->crowded_idle_timeout);
	CHECK(cf->udp_rate_limit <= CONFIG_MAX_UDP_RATE, "rate_limit %u",
	    cf->udp_rate_limit);
	CHECK(cf->udp_rate_burst >= 1 &&
	    cf->udp_rate_burst <= CONFIG_MAX_UDP_BURST, "rate_burst %u",
	    cf->udp_rate_burst);
	CHECK(cf->connection_rate <= CONFIG_MAX_CONN_RATE,
	    "connection_rate %u", cf->connection_rate);
	CHECK(cf->connection_burst >= 1 &&
	    cf->connection_burst <= CONFIG_MAX_CONN_BURST,
	    "connection_burst %u", cf->connection_burst);
	CHECK(cf->proxy_timeout >= 1 &&
	    cf->proxy_timeout <= CONFIG_MAX_PROXY_TIMEOUT,
	    "proxy_protocol.timeout %u", cf->proxy_timeout);
	CHECK(config_level_name(cf->log_level) != NULL, "log_level %d",
	    cf->log_level);
	CHECK(cf->proxy_nfrom <= CONFIG_MAX_PROXY_FROM, "proxy_nfrom %u",
	    cf->proxy_nfrom);
	CHECK(cf->udp_nbalancers <= CONFIG_MAX_UDP_BALANCERS,
	    "udp_nbalancers %u", cf->udp_nbalancers);
	check_prefixes("proxy_protocol.from", cf->proxy_from,
	    cf->proxy_nfrom);
	CHECK(cf->access_nallow + cf->access_ndeny <= CONFIG_MAX_ACCESS,
	    "access: %u + %u rules", cf->access_nallow, cf->access_ndeny);
	check_prefixes("access.allow", config_access_allow(cf),
	    cf->access_nallow);
	check_prefixes("access.deny", config_access_deny(cf),
	    cf->access_ndeny);
	for (i = 0; i < cf->udp.nports; i++)
		CHECK(config_udp_port_is_ours(cf, cf->udp.ports[i]),
		    "udp port %u not ours", cf->udp.ports[i]);
}

static void
check_proto_eq(const char *name, const struct config_proto *a,
    const struct config_proto *b)
{
	unsigned i;

	CHECK(a->nports == b->nports, "%s: nports %u != %u", name,
	    a->nports, b->nports);
	for (i = 0; i < a->nports; i++)
		CHECK(a->ports[i] == b->ports[i], "%s: port %u", name, i);
	CHECK(a->nbinds == b->nbinds, "%s: nbinds %u != %u", name,
	    a->nbinds, b->nbinds);
	for (i = 0; i < a->nbinds; i++) {
		CHECK(strcmp(a->binds[i].text, b->binds[i].text) == 0,
		    "%s: bind '%s' != '%s'", name, a->binds[i].text,
		    b->binds[i].text);
		CHECK(a->binds[i].addrlen == b->binds[i].addrlen &&
		    memcmp(&a->binds[i].addr, &b->binds[i].addr,
		    a->binds[i].addrlen) == 0, "%s: bind %u addr", name, i);
	}
}

/* config_dump() must read back to the very same settings. */
static void
check_round_trip(const struct config *cf)
{
	static struct config back;	/* large: not on the stack */
	char *dump = NULL, err[CONFIG_ERRLEN];
	size_t dumplen = 0;
	FILE *fp;

	if ((fp = open_memstream(&dump, &dumplen)) == NULL)
		die("open_memstream");
	config_dump(cf, fp);
	if (fclose(fp) != 0)
		die("fclose");
	memset(&back, 0x5a, sizeof(back));
	CHECK(config_parse_string(dump, cf->path, &back, err,
	    sizeof(err)) == 0, "dump does not re-parse: %s\n%s", err, dump);
	CHECK(back.workers == cf->workers, "workers");
	CHECK(back.transform == cf->transform, "transform");
	check_proto_eq("tcp", &back.tcp, &cf->tcp);
	check_proto_eq("udp", &back.udp, &cf->udp);
	CHECK(strcmp(back.exit_command, cf->exit_command) == 0,
	    "exit_command\n%s", dump);
	CHECK(back.max_connections == cf->max_connections, "max_connections");
	CHECK(back.idle_timeout == cf->idle_timeout, "idle_timeout");
	CHECK(back.max_pending_output == cf->max_pending_output,
	    "max_pending_output");
	CHECK(back.drain_timeout == cf->drain_timeout, "drain_timeout");
	CHECK(back.max_per_source == cf->max_per_source,
	    "max_connections_per_source");
	CHECK(back.crowded_idle_timeout == cf->crowded_idle_timeout,
	    "crowded_idle_timeout");
	CHECK(back.udp_rate_limit == cf->udp_rate_limit, "rate_limit");
	CHECK(back.udp_rate_burst == cf->udp_rate_burst, "rate_burst");
	CHECK(back.log_level == cf->log_level, "log_level");
	CHECK(strcmp(back.path, cf->path) == 0, "path");
	/* config_defaults() zeroes padding so that snapshots compare
	 * equal: the two snapshots must be byte for byte the same (which
	 * also covers a setting added later and not compared above). */
	CHECK(memcmp(&back, cf, sizeof(back)) == 0,
	    "round trip equal but not byte for byte\n%s", dump);
	free(dump);
}

/* The file a message may be about: the input or a fixture. */
static size_t
message_file_len(const char *err)
{
	size_t sl = strlen(scratch), i, fl;

	if (strncmp(err, input_path, strlen(input_path)) == 0 &&
	    err[strlen(input_path)] == ':')
		return strlen(input_path);
	if (strncmp(err, scratch, sl) != 0 || err[sl] != '/')
		return 0;
	for (i = 0; i < NFIXTURES; i++) {
		fl = strlen(fixtures[i][0]);
		if (strncmp(err + sl + 1, fixtures[i][0], fl) == 0 &&
		    err[sl + 1 + fl] == ':')
			return sl + 1 + fl;
	}
	return 0;
}

static void
check_failed(const struct config *cf, const char *err, size_t errlen,
    const char *path)
{
	static struct config def;	/* large: not on the stack */
	size_t i, len;
	const char *line;
	unsigned lines = 1, more = 0;

	CHECK(memchr(err, '\0', errlen) != NULL, "message not terminated");
	len = strlen(err);
	CHECK(len > 0, "empty message");
	for (i = 0; i < len; i++)
		CHECK(((unsigned char)err[i] >= 0x20 &&
		    (unsigned char)err[i] < 0x7f) ||
		    (err[i] == '\n' && i > 0 && i + 1 < len &&
		    err[i - 1] != '\n'),
		    "unprintable byte 0x%02x at %zu in message: %s",
		    (unsigned char)err[i], i, err);
	/* Every error on a line of its own, each naming its file. */
	for (line = err; line != NULL; line = strchr(line, '\n')) {
		if (*line == '\n') {
			line++;
			lines++;
		}
		if (line != err && strchr(line, '\n') == NULL &&
		    sscanf(line, "... and %u more error", &more) == 1)
			break;
		CHECK(message_file_len(line) > 0,
		    "error %u does not start with a file name: %s", lines,
		    err);
	}
	CHECK(lines <= CONFIG_MAX_ERRORS + (more > 0),
	    "%u lines in message: %s", lines, err);
	CHECK(more == 0 || lines == CONFIG_MAX_ERRORS + 1 ||
	    len + LINE_SLACK > CONFIG_ERRLEN,
	    "\"more errors\" with room to spare: %s", err);
	CHECK(config_error_count(err) == lines - (more > 0) + more,
	    "config_error_count() %u, %u lines: %s",
	    config_error_count(err), lines, err);
	/* On error *cf is left with the defaults (and the path). */
	config_defaults(&def);
	snprintf(def.path, sizeof(def.path), "%s", path);
	CHECK(memcmp(cf, &def, sizeof(def)) == 0,
	    "not the defaults after an error: %s", err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cf;
	char *err, *err2;
	size_t errlen2, len;
	long n;
	int rc, rc2;

	if ((n = rewrite(data, size)) < 0)
		return -1;
	write_all(input_path, text, (size_t)n);

	/* Heap buffers of the exact size: ASan sees any overrun. */
	cf = malloc(sizeof(*cf));
	err = malloc(CONFIG_ERRLEN);
	if (cf == NULL || err == NULL)
		die("malloc");
	memset(cf, 0xa5, sizeof(*cf));
	memset(err, 0xa5, CONFIG_ERRLEN);
	rc = config_parse_file(input_path, cf, err, CONFIG_ERRLEN);
	CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (rc == 0) {
		check_valid(cf, input_path);
		check_round_trip(cf);
	} else {
		check_failed(cf, err, CONFIG_ERRLEN, input_path);
		/* A short buffer gets a prefix of the same message. */
		errlen2 = 1 + (size % 48);
		if ((err2 = malloc(errlen2)) == NULL)
			die("malloc");
		memset(err2, 0xa5, errlen2);
		rc2 = config_parse_file(input_path, cf, err2, errlen2);
		CHECK(rc2 == -1, "second parse gave %d", rc2);
		CHECK(memchr(err2, '\0', errlen2) != NULL,
		    "short message not terminated (errlen %zu)", errlen2);
		len = strlen(err);
		CHECK(strlen(err2) == (len < errlen2 - 1 ? len : errlen2 - 1) &&
		    strncmp(err2, err, strlen(err2)) == 0,
		    "short message '%s' is not a prefix of '%s'", err2, err);
		free(err2);
	}
	free(cf);
	free(err);
	return 0;
}
