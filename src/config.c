/*
 * config.c - read, validate and print the upcased configuration.
 *
 * libconfig does the syntax; everything else is done here.  Every value
 * is type checked and range checked, every name must be known (a typo
 * must not silently fall back to a default).  Settings are visited in
 * file order, and every problem is reported, one a line and in file
 * order: "FILE:LINE: setting: what is wrong".  Only a syntax error (after
 * which libconfig gives nothing to walk) or a file that cannot be read
 * is reported alone.  The result is the flat struct config of config.h;
 * the parser keeps no state of its own.
 *
 * Every setting is a row of one table, settings[]: its group, name,
 * bounds, default and field.  An integer setting is that row and nothing
 * else; the others (ports, addresses, names) add their own parse, init
 * and dump functions.  The defaults, the parser and the --check-config
 * dump all read the same table, so they cannot drift apart.
 *
 * The daemon never calls setlocale(), so libconfig's number parsing runs
 * in the C locale whatever LC_NUMERIC says ("1.5" stays a float).
 *
 * libconfig 1.5 stores an integer literal without an L suffix with
 * atoi(): "5000000000" silently becomes 705032704, which is in range for
 * max_pending_output.  scan_literals() therefore scans the text of every
 * file libconfig read once more and notes each such "wide" literal, and
 * get_int() reports the one behind a value as out of range, as written.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"

/* No sane config is larger: 50,000 access rules of IPv6 take 2.5 MB. */
#define CONFIG_MAX_FILE	(8 * 1024 * 1024)
#define QUOTE_LEN	(4 * CONFIG_ADDRSTRLEN + 16)	/* every byte \xNN */
#define PATH_LEN	128	/* "limits.max_pending_output" and more */
#define MAX_WIDE	16	/* wide literals noted; more is an error */
#define LINE_LEN	2048	/* one message: file, line, setting, what */
#define WHAT_LEN	1024	/* the "what is wrong" part of it */
#define TAIL_LEN	48	/* "... and 4294967295 more errors" */

/*
 * An integer literal beyond 32 bits, without an L suffix: where it is,
 * how it is written, and what libconfig 1.5 stored instead.
 */
struct wide {
	const char	*file;
	unsigned	 line;
	uint32_t	 stored;
	unsigned	 before;	/* plain integers stored the same */
	unsigned	 seen;		/* of those, met by get_int() */
	char		 text[32];
};

struct parse {
	struct config		*cf;
	const char		*name;		/* file name for messages */
	char			 msgs[CONFIG_ERRLEN - TAIL_LEN]; /* 1 a line */
	size_t			 used;		/* strlen(msgs) */
	unsigned		 nerr;		/* lines in msgs */
	unsigned		 nmore;		/* errors left out of msgs */
	struct wide		 wide[MAX_WIDE];
	unsigned		 nwide;
};

enum setting_type {
	SET_UINT,		/* an unsigned field */
	SET_ULONG,		/* an unsigned long (size_t) field */
	SET_CUSTOM		/* parse, init and dump do it all */
};

/*
 * One setting: where it is, what it is, where it goes.  An integer
 * setting needs nothing more than its row; the others bring their own
 * functions, which find their field (or the struct holding it, such as
 * a struct config_proto) at off.  config_defaults(), the parser and
 * config_dump() all work from the one table, settings[] below.
 */
struct setting {
	const char	*group;		/* "limits"; "" at the top level */
	const char	*name;
	enum setting_type type;
	long long	 min, max;	/* inclusive, for integers */
	long long	 def;		/* default, for integers */
	const char	*text;		/* default, for addresses */
	const char	*zero;		/* what 0 means, if it is special */
	size_t		 off;		/* offsetof(struct config, ...) */
	int		(*parse)(struct parse *, const struct setting *,
			    const config_setting_t *);
	void		(*init)(const struct setting *, struct config *);
	void		(*dump)(const struct setting *, const struct config *,
			    FILE *);
};

static const struct {
	const char	*name;
	int		 level;
} levels[] = {
	{ "debug",	LOG_DEBUG },
	{ "info",	LOG_INFO },
	{ "notice",	LOG_NOTICE },
	{ "warning",	LOG_WARNING },
	{ "err",	LOG_ERR },
};
#define NLEVELS	(sizeof(levels) / sizeof(levels[0]))

static void	report(struct parse *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static int	fail(struct parse *, const config_setting_t *, const char *,
		    ...) __attribute__((__format__(__printf__, 3, 4)));

static void
set_path(struct config *cf, const char *path)
{
	/* A longer path is cut: it only ever names the file in messages. */
	snprintf(cf->path, sizeof(cf->path), "%s", path);
}

/* "an integer", for "expected a string, got an integer". */
static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

/*
 * Write s as a libconfig string literal: printable ASCII as is, '"' and
 * '\' escaped, every other byte as \xNN.  Used both for messages (a value
 * from the file may hold a newline or an escape sequence) and by
 * config_dump, which must print what libconfig reads back unchanged.
 * Cut with "..." if buf is too small; len must be at least 8.
 */
static void
quote(const char *s, char *buf, size_t len)
{
	unsigned char c;
	size_t o = 0;

	buf[o++] = '"';
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (o + 4 + 5 > len) {		/* \xNN, then ...", NUL */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(buf + o, len - o, "\\x%02x", c);
			o += 4;
		} else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* "tcp.ports" for a member of a group, "workers" at the top level. */
static void
setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *up;
	const char *name;
	size_t n;

	/* An element of a list has no name: name the list instead. */
	while (config_setting_name(s) == NULL &&
	    config_setting_parent(s) != NULL)
		s = config_setting_parent(s);
	name = config_setting_name(s);
	if (name == NULL)
		name = "";
	up = config_setting_parent(s);
	if (up == NULL || config_setting_parent(up) == NULL) {
		snprintf(buf, len, "%s", name);
		return;
	}
	setting_path(up, buf, len);
	n = strlen(buf);
	snprintf(buf + n, len - n, ".%s", name);
}

/* The file s was read from: an @include'd one, or the main file. */
static const char *
source_file(const struct parse *p, const config_setting_t *s)
{
	const char *file = config_setting_source_file(s);

	return file != NULL ? file : p->name;
}

/*
 * Add one error to the list.  At most CONFIG_MAX_ERRORS, and as many as
 * fit in CONFIG_ERRLEN, are kept; the rest are only counted, so what is
 * kept is always the first ones in the file.
 */
static void
report(struct parse *p, const char *fmt, ...)
{
	char line[LINE_LEN];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	len = strlen(line);
	if (p->nmore > 0 || p->nerr == CONFIG_MAX_ERRORS ||
	    p->used + 1 + len >= sizeof(p->msgs)) {
		p->nmore++;
		return;
	}
	if (p->used > 0)
		p->msgs[p->used++] = '\n';
	memcpy(p->msgs + p->used, line, len + 1);
	p->used += len;
	p->nerr++;
}

/* All of them in err, with a count of those left out. */
static void
report_all(const struct parse *p, char *err, size_t errlen)
{
	if (p->nmore > 0)
		snprintf(err, errlen, "%s\n... and %u more error%s", p->msgs,
		    p->nmore, p->nmore == 1 ? "" : "s");
	else
		snprintf(err, errlen, "%s", p->msgs);
}

/* Report "FILE:LINE: setting: ..." about s; returns -1 for the caller. */
static int
fail(struct parse *p, const config_setting_t *s, const char *fmt, ...)
{
	char what[WHAT_LEN], path[PATH_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	setting_path(s, path, sizeof(path));
	report(p, "%s:%u: %s: %s", source_file(p, s),
	    (unsigned)config_setting_source_line(s), path, what);
	return -1;
}

/*
 * The wide literal that libconfig turned into the value v of s, if any.
 * Matched by place, by the truncated value and by order among the
 * integers of its line stored the same, so that a neighbour is not
 * blamed for it: in "[ 8008, 4294975304 ]" both are stored as 8008.
 */
static const struct wide *
find_wide(struct parse *p, const config_setting_t *s, long long v)
{
	const char *file = source_file(p, s);
	const struct wide *found = NULL;
	struct wide *w;

	for (w = p->wide; w < p->wide + p->nwide; w++)
		if (w->line == config_setting_source_line(s) &&
		    w->stored == (uint32_t)v && strcmp(w->file, file) == 0 &&
		    w->seen++ == w->before)
			found = w;
	return found;
}

/* Integer of either width, range checked before anything narrows it. */
static int
get_int(struct parse *p, const config_setting_t *s, long long min,
    long long max, long long *v)
{
	const struct wide *w;

	*v = 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*v = config_setting_get_int(s);
		/* Every range here is within 32 bits: wide is too much. */
		if ((w = find_wide(p, s, *v)) != NULL)
			return fail(p, s, "%s is out of range (%lld..%lld)",
			    w->text, min, max);
		break;
	case CONFIG_TYPE_INT64:
		*v = config_setting_get_int64(s);
		break;
	default:
		return fail(p, s, "expected an integer, got %s",
		    type_name(config_setting_type(s)));
	}
	if (*v < min || *v > max)
		return fail(p, s, "%lld is out of range (%lld..%lld)", *v,
		    min, max);
	return 0;
}

static int
get_string(struct parse *p, const config_setting_t *s, const char **v)
{
	*v = "";
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(p, s, "expected a string, got %s",
		    type_name(config_setting_type(s)));
	if ((*v = config_setting_get_string(s)) == NULL)
		*v = "";	/* not seen for "", but not promised */
	return 0;
}

static int
expect_group(struct parse *p, const config_setting_t *s)
{
	if (config_setting_is_group(s))
		return 0;
	return fail(p, s, "expected a group, got %s",
	    type_name(config_setting_type(s)));
}

/* --- top level ------------------------------------------------------- */

static int
parse_exit_command(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	const char *text;
	size_t len, i;
	unsigned char c;

	(void)row;
	if (get_string(p, s, &text) == -1)
		return -1;
	len = strlen(text);
	if (len > CONFIG_MAX_EXIT)
		return fail(p, s, "too long (%zu bytes, at most %d)", len,
		    CONFIG_MAX_EXIT);
	/* It is compared with a line: CR or LF could never match. */
	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f)
			return fail(p, s,
			    "contains the control character 0x%02x", c);
	}
	memcpy(p->cf->exit_command, text, len + 1);
	return 0;
}

static void
init_exit_command(const struct setting *row, struct config *cf)
{
	(void)row;
	strcpy(cf->exit_command, CONFIG_DEF_EXIT);
}

static void
dump_exit_command(const struct setting *row, const struct config *cf,
    FILE *fp)
{
	char q[QUOTE_LEN];

	quote(cf->exit_command, q, sizeof(q));
	fprintf(fp, "%s = %s;\n", row->name, q);
}

/* workers = 0 means one per CPU: say how many that makes. */
static void
dump_workers(const struct setting *row, const struct config *cf, FILE *fp)
{
	unsigned n = config_effective_workers(cf);

	fprintf(fp, "%s = %u;  # %u thread%s\n", row->name, cf->workers, n,
	    n == 1 ? "" : "s");
}

/* --- tcp and udp ----------------------------------------------------- */

/* The struct config_proto a ports or bind row is about. */
static struct config_proto *
proto_of(struct config *cf, const struct setting *row)
{
	return (struct config_proto *)(void *)((char *)cf + row->off);
}

static const struct config_proto *
const_proto_of(const struct config *cf, const struct setting *row)
{
	return (const struct config_proto *)(const void *)
	    ((const char *)cf + row->off);
}

static int
parse_ports(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	struct config_proto *pr = proto_of(p->cf, row);
	const config_setting_t *e;
	long long v;
	unsigned i, j, n;
	int rc = 0;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(p, s, "expected an array of integers, got %s",
		    type_name(config_setting_type(s)));
	n = (unsigned)config_setting_length(s);
	if (n > CONFIG_MAX_PORTS)
		return fail(p, s, "too many ports (%u, at most %d)", n,
		    CONFIG_MAX_PORTS);
	pr->nports = 0;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (get_int(p, e, 1, 65535, &v) == -1) {
			rc = -1;
			continue;
		}
		for (j = 0; j < pr->nports && pr->ports[j] != v; j++)
			continue;
		if (j < pr->nports)
			rc = fail(p, e, "duplicate port %lld", v);
		else
			pr->ports[pr->nports++] = (uint16_t)v;
	}
	return rc;
}

static void
init_ports(const struct setting *row, struct config *cf)
{
	struct config_proto *pr = proto_of(cf, row);

	pr->ports[0] = CONFIG_DEF_PORT;
	pr->nports = 1;
}

static void
dump_ports(const struct setting *row, const struct config *cf, FILE *fp)
{
	const struct config_proto *pr = const_proto_of(cf, row);
	unsigned i;

	fprintf(fp, "%s = [", row->name);
	for (i = 0; i < pr->nports; i++)
		fprintf(fp, "%s %u", i > 0 ? "," : "", pr->ports[i]);
	fprintf(fp, " ];\n");
}

/* Append the address in string setting s to the bind list of pr. */
static int
add_bind(struct parse *p, struct config_proto *pr, const config_setting_t *s)
{
	struct config_bind *b = &pr->binds[pr->nbinds];
	const char *text;
	char q[QUOTE_LEN];
	unsigned j;

	if (get_string(p, s, &text) == -1)
		return -1;
	quote(text, q, sizeof(q));
	if (strlen(text) >= sizeof(b->text) ||
	    addr_parse(text, &b->addr, &b->addrlen) == -1)
		return fail(p, s, "%s is not a numeric IPv4 or IPv6 address",
		    q);
	for (j = 0; j < pr->nbinds; j++)
		if (pr->binds[j].addrlen == b->addrlen &&
		    memcmp(&pr->binds[j].addr, &b->addr, b->addrlen) == 0)
			return fail(p, s, "duplicate address %s", q);
	strcpy(b->text, text);
	pr->nbinds++;
	return 0;
}

static int
parse_bind(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	struct config_proto *pr = proto_of(p->cf, row);
	unsigned i, n;
	int rc = 0;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		pr->nbinds = 0;
		return add_bind(p, pr, s);
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(p, s,
		    "expected a string or a list of strings, got %s",
		    type_name(config_setting_type(s)));
	n = (unsigned)config_setting_length(s);
	if (n == 0)
		return fail(p, s, "empty list (at least one address)");
	if (n > CONFIG_MAX_BINDS)
		return fail(p, s, "too many addresses (%u, at most %d)", n,
		    CONFIG_MAX_BINDS);
	pr->nbinds = 0;
	for (i = 0; i < n; i++)
		if (add_bind(p, pr, config_setting_get_elem(s, i)) == -1)
			rc = -1;
	return rc;
}

static void
init_bind(const struct setting *row, struct config *cf)
{
	struct config_proto *pr = proto_of(cf, row);

	snprintf(pr->binds[0].text, sizeof(pr->binds[0].text), "%s",
	    row->text);
	/* Cannot fail: the table's defaults are numeric addresses. */
	(void)addr_parse(row->text, &pr->binds[0].addr,
	    &pr->binds[0].addrlen);
	pr->nbinds = 1;
}

static void
dump_bind(const struct setting *row, const struct config *cf, FILE *fp)
{
	const struct config_proto *pr = const_proto_of(cf, row);
	char q[QUOTE_LEN];
	unsigned i;

	fprintf(fp, "%s = [", row->name);
	for (i = 0; i < pr->nbinds; i++) {
		quote(pr->binds[i].text, q, sizeof(q));
		fprintf(fp, "%s %s", i > 0 ? "," : "", q);
	}
	fprintf(fp, " ];\n");
}

/* --- log ------------------------------------------------------------- */

static int
parse_level(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	const char *text;
	char q[QUOTE_LEN];
	size_t i;

	(void)row;
	if (get_string(p, s, &text) == -1)
		return -1;
	for (i = 0; i < NLEVELS; i++)
		if (strcmp(levels[i].name, text) == 0) {
			p->cf->log_level = levels[i].level;
			return 0;
		}
	quote(text, q, sizeof(q));
	return fail(p, s,
	    "unknown level %s (debug, info, notice, warning, err)", q);
}

static void
init_level(const struct setting *row, struct config *cf)
{
	(void)row;
	cf->log_level = LOG_INFO;
}

static void
dump_level(const struct setting *row, const struct config *cf, FILE *fp)
{
	const char *level = config_level_name(cf->log_level);

	fprintf(fp, "%s = \"%s\";\n", row->name,
	    level != NULL ? level : "unknown");
}

/* --- transform --------------------------------------------------------- */

const char *
config_transform_name(enum config_transform t)
{
	return t == CONFIG_TRANSFORM_ASCII ? "ascii" : "unicode";
}

static int
parse_transform(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	const char *text;
	char q[QUOTE_LEN];

	(void)row;
	if (get_string(p, s, &text) == -1)
		return -1;
	if (strcmp(text, "unicode") == 0)
		p->cf->transform = CONFIG_TRANSFORM_UNICODE;
	else if (strcmp(text, "ascii") == 0)
		p->cf->transform = CONFIG_TRANSFORM_ASCII;
	else {
		quote(text, q, sizeof(q));
		return fail(p, s, "unknown transform %s (unicode, ascii)", q);
	}
	return 0;
}

static void
init_transform(const struct setting *row, struct config *cf)
{
	(void)row;
	cf->transform = CONFIG_TRANSFORM_UNICODE;
}

static void
dump_transform(const struct setting *row, const struct config *cf, FILE *fp)
{
	fprintf(fp, "%s = \"%s\";\n", row->name,
	    config_transform_name(cf->transform));
}

/* --- proxy_protocol and access: lists of prefixes --------------------- */

/* A list entry seen from far: for finding duplicates in one sort. */
struct entry {
	struct prefix	 pf;
	unsigned	 idx;		/* in the list */
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	/* Canonical prefixes (zeroed host bits): equal is memcmp-equal. */
	if ((c = memcmp(&x->pf, &y->pf, sizeof(x->pf))) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Element e of a prefix list into *pf; with report, say what is wrong. */
static int
get_prefix(struct parse *p, const config_setting_t *e, struct prefix *pf,
    bool report)
{
	const char *text;
	char q[QUOTE_LEN], why[128];

	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return report ? fail(p, e, "expected a string, got %s",
		    type_name(config_setting_type(e))) : -1;
	if ((text = config_setting_get_string(e)) == NULL)
		text = "";
	if (prefix_parse(text, pf, why, sizeof(why)) == 0)
		return 0;
	if (report) {
		quote(text, q, sizeof(q));
		(void)fail(p, e, "%s: %s", q, why);
	}
	return -1;
}

/* e means the same as the earlier entry twin. */
static int
dup_prefix(struct parse *p, const config_setting_t *e,
    const config_setting_t *twin)
{
	const char *text = config_setting_get_string(e);
	const char *was = config_setting_get_string(twin);
	char q[QUOTE_LEN], qwas[QUOTE_LEN];

	quote(text != NULL ? text : "", q, sizeof(q));
	quote(was != NULL ? was : "", qwas, sizeof(qwas));
	return fail(p, e, "%s: duplicate of %s (line %u)", q,
	    qwas, (unsigned)config_setting_source_line(twin));
}

/* Element i of the list s, or s itself when it is one string. */
static const config_setting_t *
elem(const config_setting_t *s, unsigned i)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return s;
	return config_setting_get_elem(s, i);
}

/*
 * Read the prefix list s (a list or array of strings, or one string)
 * into out[], in file order, its length in *np.  Each bad entry and each
 * duplicate of an earlier one is reported at its own line, in order; the
 * good ones are kept all the same.  More than max entries is one error,
 * said by the caller: returns -2 then, with the count in *np.
 *
 * Duplicates are found by sorting (a list may hold tens of thousands of
 * entries), then reported in file order by a second pass.
 */
static int
get_prefixes(struct parse *p, const config_setting_t *s, struct prefix *out,
    unsigned max, unsigned *np)
{
	const config_setting_t *e;
	struct entry *ent;
	unsigned *first, i, k, n, nok = 0;
	int rc = 0;

	*np = 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		n = 1;
	else if (config_setting_is_array(s) || config_setting_is_list(s))
		n = (unsigned)config_setting_length(s);
	else
		return fail(p, s, "expected a string or a list of strings, "
		    "got %s", type_name(config_setting_type(s)));
	if (n > max) {
		*np = n;
		return -2;
	}
	if (n == 0)
		return 0;
	ent = calloc(n, sizeof(*ent));
	first = calloc(n, sizeof(*first));	/* 1 + earlier twin, or 0 */
	if (ent == NULL || first == NULL) {
		free(ent);
		free(first);
		return fail(p, s, "out of memory");
	}
	for (i = 0; i < n; i++)
		if (get_prefix(p, elem(s, i), &ent[nok].pf, false) == 0)
			ent[nok++].idx = i;
	qsort(ent, nok, sizeof(*ent), entry_cmp);
	for (k = 1; k < nok; k++)
		if (memcmp(&ent[k].pf, &ent[k - 1].pf, sizeof(ent[k].pf)) == 0)
			first[ent[k].idx] = 1 + (first[ent[k - 1].idx] != 0 ?
			    first[ent[k - 1].idx] - 1 : ent[k - 1].idx);
	for (i = 0; i < n; i++) {
		e = elem(s, i);
		if (get_prefix(p, e, &out[*np], true) == -1)
			rc = -1;
		else if (first[i] != 0)
			rc = dup_prefix(p, e, elem(s, first[i] - 1));
		else
			(*np)++;
	}
	free(ent);
	free(first);
	return rc;
}

static int
parse_proxy_from(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	unsigned n;
	int rc;

	(void)row;
	rc = get_prefixes(p, s, p->cf->proxy_from, CONFIG_MAX_PROXY_FROM, &n);
	if (rc == -2)
		return fail(p, s, "too many addresses (%u, at most %d)", n,
		    CONFIG_MAX_PROXY_FROM);
	p->cf->proxy_nfrom = n;
	return rc;
}

static int
parse_udp_balancers(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	unsigned n;
	int rc;

	(void)row;
	rc = get_prefixes(p, s, p->cf->udp_balancers,
	    CONFIG_MAX_UDP_BALANCERS, &n);
	if (rc == -2)
		return fail(p, s, "too many addresses (%u, at most %d)", n,
		    CONFIG_MAX_UDP_BALANCERS);
	p->cf->udp_nbalancers = n;
	return rc;
}

/* "[ ]", "[ "a", "b" ]", or one entry a line for a long list. */
static void
dump_prefixes(const struct prefix *pf, unsigned n, const char *empty,
    FILE *fp)
{
	char text[PREFIX_STRLEN];
	unsigned i;

	if (n == 0) {
		fprintf(fp, "[ ];  # %s\n", empty);
		return;
	}
	fputc('[', fp);
	for (i = 0; i < n; i++) {
		prefix_format(&pf[i], text, sizeof(text));
		if (n <= 4)
			fprintf(fp, "%s \"%s\"", i > 0 ? "," : "", text);
		else
			fprintf(fp, "%s\n\t\t\"%s\"", i > 0 ? "," : "", text);
	}
	fputs(n <= 4 ? " ];\n" : "\n\t];\n", fp);
}

static void
dump_proxy_from(const struct setting *row, const struct config *cf,
    FILE *fp)
{
	fprintf(fp, "%s = ", row->name);
	dump_prefixes(cf->proxy_from, cf->proxy_nfrom, "off", fp);
}

static void
dump_udp_balancers(const struct setting *row, const struct config *cf,
    FILE *fp)
{
	fprintf(fp, "%s = ", row->name);
	dump_prefixes(cf->udp_balancers, cf->udp_nbalancers,
	    "none", fp);
}

/*
 * access.allow and access.deny share cf->access (allow first), so that
 * together they may hold CONFIG_MAX_ACCESS rules in any proportion.
 * They are read through a scratch list, then put in place.
 */
static int
parse_access(struct parse *p, const config_setting_t *s, bool deny)
{
	struct config *cf = p->cf;
	struct prefix *tmp;
	unsigned other = deny ? cf->access_nallow : cf->access_ndeny, n;
	int rc;

	if ((tmp = calloc(CONFIG_MAX_ACCESS, sizeof(*tmp))) == NULL)
		return fail(p, s, "out of memory");
	rc = get_prefixes(p, s, tmp, CONFIG_MAX_ACCESS - other, &n);
	if (rc == -2) {
		free(tmp);
		return fail(p, s, "too many rules (%u here and %u in "
		    "access.%s, at most %d together)", n, other,
		    deny ? "allow" : "deny", CONFIG_MAX_ACCESS);
	}
	if (deny) {
		memcpy(cf->access + cf->access_nallow, tmp, n * sizeof(*tmp));
		cf->access_ndeny = n;
	} else {
		memmove(cf->access + n, cf->access + cf->access_nallow,
		    cf->access_ndeny * sizeof(*tmp));
		memcpy(cf->access, tmp, n * sizeof(*tmp));
		cf->access_nallow = n;
	}
	free(tmp);
	return rc;
}

static int
parse_access_allow(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	(void)row;
	return parse_access(p, s, false);
}

static int
parse_access_deny(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	(void)row;
	return parse_access(p, s, true);
}

static void
dump_access_allow(const struct setting *row, const struct config *cf,
    FILE *fp)
{
	fprintf(fp, "%s = ", row->name);
	dump_prefixes(config_access_allow(cf), cf->access_nallow,
	    "everyone not denied", fp);
}

static void
dump_access_deny(const struct setting *row, const struct config *cf,
    FILE *fp)
{
	fprintf(fp, "%s = ", row->name);
	dump_prefixes(config_access_deny(cf), cf->access_ndeny, "none", fp);
}

/* --- the table --------------------------------------------------------- */

/*
 * An integer setting: one row says all there is to say about it.  The
 * type follows from the field (anything but unsigned or unsigned long,
 * which size_t is, does not compile).
 */
#define FIELD_TYPE(field)						\
	_Generic(((struct config *)0)->field,				\
	    unsigned: SET_UINT, unsigned long: SET_ULONG)
#define ROW_INT(grp, nm, lo, hi, dflt, field)				\
	ROW_INT0(grp, nm, lo, hi, dflt, field, NULL)
/* The same, where 0 means something else ("off"): the dump says so. */
#define ROW_INT0(grp, nm, lo, hi, dflt, field, z)			\
	{ .group = (grp), .name = (nm), .type = FIELD_TYPE(field),	\
	  .min = (lo), .max = (hi), .def = (dflt), .zero = (z),		\
	  .off = offsetof(struct config, field) }
/* Anything else: its own functions, and the field they start from. */
#define ROW_CUSTOM(grp, nm, field, fn)					\
	{ .group = (grp), .name = (nm), .type = SET_CUSTOM,		\
	  .off = offsetof(struct config, field), .parse = parse_##fn,	\
	  .init = init_##fn, .dump = dump_##fn }
/* An address list (init_bind), with its default address. */
#define ROW_BIND(grp, field, dflt)					\
	{ .group = (grp), .name = "bind", .type = SET_CUSTOM,		\
	  .text = (dflt), .off = offsetof(struct config, field),	\
	  .parse = parse_bind, .init = init_bind, .dump = dump_bind }
/* The same, for a setting whose default is all zero (no init). */
#define ROW_ZERO(grp, nm, field, fn)					\
	{ .group = (grp), .name = (nm), .type = SET_CUSTOM,		\
	  .off = offsetof(struct config, field), .parse = parse_##fn,	\
	  .dump = dump_##fn }

/*
 * Every setting, in the order config_dump() prints them; the rows of a
 * group must follow one another.  A group is a name used as .group.
 */
static const struct setting settings[] = {
	{ .group = "", .name = "workers", .type = FIELD_TYPE(workers),
	  .min = 0, .max = CONFIG_MAX_WORKERS, .def = 0,
	  .off = offsetof(struct config, workers), .dump = dump_workers },
	ROW_CUSTOM("", "transform", transform, transform),
	ROW_CUSTOM("tcp", "ports", tcp, ports),
	ROW_BIND("tcp", tcp, CONFIG_DEF_BIND),
	ROW_INT0("tcp", "send_buffer", 0, CONFIG_MAX_SOCKBUF,
	    CONFIG_DEF_SOCKBUF, tcp_send_buffer, "autotuned"),
	ROW_INT0("tcp", "receive_buffer", 0, CONFIG_MAX_SOCKBUF,
	    CONFIG_DEF_SOCKBUF, tcp_receive_buffer, "autotuned"),
	ROW_CUSTOM("udp", "ports", udp, ports),
	ROW_BIND("udp", udp, CONFIG_DEF_BIND),
	ROW_INT0("udp", "rate_limit", 0, CONFIG_MAX_UDP_RATE,
	    CONFIG_DEF_UDP_RATE, udp_rate_limit, "off"),
	ROW_INT("udp", "rate_burst", 1, CONFIG_MAX_UDP_BURST,
	    CONFIG_DEF_UDP_BURST, udp_rate_burst),
	ROW_ZERO("udp", "balancers", udp_balancers, udp_balancers),
	ROW_CUSTOM("", "exit_command", exit_command, exit_command),
	ROW_INT0("", "lame_duck", 0, CONFIG_MAX_LAME_DUCK,
	    CONFIG_DEF_LAME_DUCK, lame_duck, "off"),
	ROW_INT("limits", "max_connections", CONFIG_MIN_CONNECTIONS,
	    CONFIG_MAX_CONNECTIONS, CONFIG_DEF_MAX_CONNECTIONS,
	    max_connections),
	ROW_INT0("limits", "idle_timeout", 0, CONFIG_MAX_IDLE_TIMEOUT,
	    CONFIG_DEF_IDLE_TIMEOUT, idle_timeout, "never"),
	ROW_INT("limits", "max_pending_output", CONFIG_MIN_PENDING,
	    CONFIG_MAX_PENDING, CONFIG_DEF_MAX_PENDING, max_pending_output),
	ROW_INT("limits", "drain_timeout", 0, CONFIG_MAX_DRAIN_TIMEOUT,
	    CONFIG_DEF_DRAIN_TIMEOUT, drain_timeout),
	ROW_INT0("limits", "max_connections_per_source", 0,
	    CONFIG_MAX_PER_SOURCE, CONFIG_DEF_PER_SOURCE, max_per_source,
	    "no limit"),
	ROW_INT("limits", "crowded_idle_timeout", 1, CONFIG_MAX_CROWDED_IDLE,
	    CONFIG_DEF_CROWDED_IDLE, crowded_idle_timeout),
	ROW_INT0("limits", "connection_rate", 0, CONFIG_MAX_CONN_RATE,
	    CONFIG_DEF_CONN_RATE, connection_rate, "off"),
	ROW_INT("limits", "connection_burst", 1, CONFIG_MAX_CONN_BURST,
	    CONFIG_DEF_CONN_BURST, connection_burst),
	ROW_ZERO("proxy_protocol", "from", proxy_from, proxy_from),
	ROW_INT("proxy_protocol", "timeout", 1, CONFIG_MAX_PROXY_TIMEOUT,
	    CONFIG_DEF_PROXY_TIMEOUT, proxy_timeout),
	ROW_ZERO("access", "allow", access, access_allow),
	ROW_ZERO("access", "deny", access, access_deny),
	ROW_CUSTOM("log", "level", log_level, level),
	/* No endpoint unless asked for; loopback only unless told. */
	ROW_ZERO("metrics", "ports", metrics, ports),
	ROW_BIND("metrics", metrics, CONFIG_DEF_METRICS_BIND),
};
#define NSETTINGS	(sizeof(settings) / sizeof(settings[0]))

/* The field of an integer row, as the type it has in struct config. */
static void
int_store(const struct setting *row, struct config *cf, long long v)
{
	char *field = (char *)cf + row->off;

	if (row->type == SET_ULONG)
		*(unsigned long *)(void *)field = (unsigned long)v;
	else
		*(unsigned *)(void *)field = (unsigned)v;
}

static unsigned long long
int_load(const struct setting *row, const struct config *cf)
{
	const char *field = (const char *)cf + row->off;

	if (row->type == SET_ULONG)
		return *(const unsigned long *)(const void *)field;
	return *(const unsigned *)(const void *)field;
}

static int
parse_row(struct parse *p, const struct setting *row,
    const config_setting_t *s)
{
	long long v;

	if (row->parse != NULL)
		return row->parse(p, row, s);
	if (get_int(p, s, row->min, row->max, &v) == -1)
		return -1;
	int_store(row, p->cf, v);
	return 0;
}

/* The row for name in group ("" for the top level), or NULL. */
static const struct setting *
find_row(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].group, group) == 0 &&
		    strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

/* The group called name, as spelled in the table, or NULL. */
static const char *
find_group(const char *name)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (settings[i].group[0] != '\0' &&
		    strcmp(settings[i].group, name) == 0)
			return settings[i].group;
	return NULL;
}

/*
 * Visit the members of group (named gname, "" for the top level) in file
 * order: known ones are parsed, a group at the top level is walked, any
 * other name is an error.  An error does not stop the walk: each one is
 * reported, and the caller looks at the count.
 */
static void
walk(struct parse *p, const config_setting_t *group, const char *gname)
{
	const config_setting_t *s;
	const struct setting *row;
	const char *sub;
	char path[PATH_LEN];
	unsigned i;

	for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		if ((row = find_row(gname, config_setting_name(s))) != NULL)
			(void)parse_row(p, row, s);
		else if (gname[0] == '\0' &&
		    (sub = find_group(config_setting_name(s))) != NULL) {
			if (expect_group(p, s) == 0)
				walk(p, s, sub);
		} else {
			setting_path(s, path, sizeof(path));
			report(p, "%s:%u: unknown setting '%s'",
			    source_file(p, s),
			    (unsigned)config_setting_source_line(s), path);
		}
	}
}

/*
 * Could a socket bound to a and one bound to b (same family or not, the
 * same port) not both listen?  Equal addresses, "::" (both families),
 * or "0.0.0.0" next to any IPv4 address.
 */
static bool
binds_overlap(const struct config_bind *a, const struct config_bind *b)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
	const struct sockaddr *sb = (const struct sockaddr *)&b->addr;

	if (a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr,
	    a->addrlen) == 0)
		return true;
	if ((addr_is_any(sa) && sa->sa_family == AF_INET6) ||
	    (addr_is_any(sb) && sb->sa_family == AF_INET6))
		return true;
	return sa->sa_family == AF_INET && sb->sa_family == AF_INET &&
	    (addr_is_any(sa) || addr_is_any(sb));
}

/*
 * A metrics port may not be a TCP echo port on an address both would
 * bind: one of the two binds would fail, or worse, the echo clients of
 * one address would get HTTP.  Reported at metrics.ports, after the
 * walk, as both settings must be known.
 */
static void
check_metrics_ports(struct parse *p, const config_t *lc)
{
	const struct config *cf = p->cf;
	const config_setting_t *s;
	unsigned i, j, b, c;

	if ((s = config_lookup(lc, "metrics.ports")) == NULL)
		s = config_lookup(lc, "metrics");	/* bind alone */
	if (s == NULL)
		return;
	for (i = 0; i < cf->metrics.nports; i++)
		for (j = 0; j < cf->tcp.nports; j++) {
			if (cf->metrics.ports[i] != cf->tcp.ports[j])
				continue;
			for (b = 0; b < cf->metrics.nbinds; b++)
				for (c = 0; c < cf->tcp.nbinds; c++)
					if (binds_overlap(&cf->metrics.binds[b],
					    &cf->tcp.binds[c])) {
						(void)fail(p, s, "port %u is "
						    "also a TCP echo port on "
						    "%s", cf->tcp.ports[j],
						    cf->tcp.binds[c].text);
						return;
					}
		}
}

/* --- integer literals libconfig 1.5 would truncate ------------------- */

static bool
is_name_start(char c)
{
	return isalpha((unsigned char)c) || c == '*';
}

static bool
is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '*' || c == '-' || c == '_';
}

/* Does a number start at s?  "5", "-5", "+.5", ".5", "0x1F" ... */
static bool
is_number_start(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.')
		s++;
	return isdigit((unsigned char)*s);
}

/* Past the comment or string starting at s, counting newlines. */
static const char *
skip_comment(const char *s, unsigned *line)
{
	if (s[0] == '/' && s[1] == '*') {
		for (s += 2; *s != '\0' && !(s[0] == '*' && s[1] == '/'); s++)
			if (*s == '\n')
				(*line)++;
		return *s != '\0' ? s + 2 : s;
	}
	while (*s != '\0' && *s != '\n')	/* # or // to end of line */
		s++;
	return s;
}

static const char *
skip_string(const char *s, unsigned *line)
{
	for (s++; *s != '\0' && *s != '"'; s++) {
		if (*s == '\n')
			(*line)++;
		else if (*s == '\\' && s[1] != '\0')
			s++;		/* \" and \\ do not end it */
	}
	return *s != '\0' ? s + 1 : s;
}

static const char *
number_end(const char *s)
{
	const char *t = s + 1;

	/* A sign inside a valid number only follows a float's exponent. */
	while (isalnum((unsigned char)*t) || *t == '.' ||
	    ((*t == '-' || *t == '+') && (t[-1] == 'e' || t[-1] == 'E')))
		t++;
	return t;
}

/*
 * Is the number literal tok (len bytes) a plain integer, one libconfig
 * 1.5 stores in an int?  Floats and L-suffixed integers are stored as
 * written; a plain integer goes through atoi() (strtoul() for hex).
 * What that makes of it goes to *stored, as 32 bits, and *wide says
 * whether that is not what is written.
 */
static bool
plain_int(const char *tok, size_t len, uint32_t *stored, bool *wide)
{
	unsigned long u;
	long v;
	bool hex;

	if (memchr(tok, '.', len) != NULL || tok[len - 1] == 'L')
		return false;
	hex = len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
	if (!hex && (memchr(tok, 'e', len) != NULL ||
	    memchr(tok, 'E', len) != NULL))
		return false;
	/* Both stop where the literal ends; on overflow both clamp. */
	errno = 0;
	if (hex) {
		u = strtoul(tok, NULL, 16);
		*stored = (uint32_t)u;
		*wide = errno == ERANGE || u > INT_MAX;
		return true;
	}
	v = strtol(tok, NULL, 10);
	*stored = (uint32_t)(unsigned long)v;
	*wide = errno == ERANGE || v < INT_MIN || v > INT_MAX;
	return true;
}

/* "FILE:LINE: integer ... does not fit" for a wide literal. */
static int
wide_error(struct parse *p, const struct wide *w)
{
	report(p, "%s:%u: integer %s does not fit in 32 bits (libconfig "
	    "would truncate it)", w->file, w->line, w->text);
	return -1;
}

/*
 * Note the wide literal tok of len bytes at file:line, the one after
 * before plain integers stored the same on that line.
 */
static int
add_wide(struct parse *p, const char *file, unsigned line,
    const char *tok, size_t len, uint32_t stored, unsigned before)
{
	struct wide w;

	w.file = file;
	w.line = line;
	w.stored = stored;
	w.before = before;
	w.seen = 0;
	if (len < sizeof(w.text))
		snprintf(w.text, sizeof(w.text), "%.*s", (int)len, tok);
	else
		snprintf(w.text, sizeof(w.text), "%.*s...",
		    (int)sizeof(w.text) - 4, tok);
	/* A file full of them: no need to tell which setting has each. */
	if (p->nwide == MAX_WIDE)
		return wide_error(p, &w);
	p->wide[p->nwide++] = w;
	return 0;
}

/*
 * The next number literal from *sp on, with libconfig's lexical rules
 * (comments, strings and names skipped): its start, with *sp moved past
 * it, or NULL at the end.  *line counts newlines; *bol is where the scan
 * stood when that line began (after the newline, or after the comment
 * or string that held it).  Only text libconfig has accepted comes
 * here, so malformed input needs no good message, only safe handling.
 */
static const char *
next_number(const char **sp, unsigned *line, const char **bol)
{
	const char *s = *sp, *tok;
	unsigned was;

	while (*s != '\0') {
		was = *line;
		if (*s == '\n') {
			(*line)++;
			s++;
		} else if (*s == '#' || (s[0] == '/' &&
		    (s[1] == '/' || s[1] == '*')))
			s = skip_comment(s, line);
		else if (*s == '"')
			s = skip_string(s, line);
		else if (is_name_start(*s)) {
			while (is_name_char(*s))
				s++;
		} else if (is_number_start(s)) {
			tok = s;
			*sp = number_end(s);
			return tok;
		} else
			s++;
		if (*line != was)
			*bol = s;
	}
	*sp = s;
	return NULL;
}

/* Plain integers stored as stored between bol and end (on one line). */
static unsigned
count_stored(const char *bol, const char *end, uint32_t stored)
{
	const char *s = bol, *tok;
	unsigned line = 0, n = 0;
	uint32_t v;
	bool wide;

	while ((tok = next_number(&s, &line, &bol)) != NULL && tok < end)
		if (plain_int(tok, (size_t)(s - tok), &v, &wide) &&
		    v == stored)
			n++;
	return n;
}

/*
 * Note every wide literal of text (of file), and which one it is among
 * the plain integers of its line that libconfig stores the same: the
 * walk meets them in the same order, which is how get_int() tells
 * "4294975304" from a "8008" next to it.
 */
static int
scan_literals(struct parse *p, const char *text, const char *file)
{
	const char *s = text, *bol = text, *tok;
	unsigned line = 1;
	uint32_t stored;
	bool wide;

	while ((tok = next_number(&s, &line, &bol)) != NULL)
		if (plain_int(tok, (size_t)(s - tok), &stored, &wide) &&
		    wide && add_wide(p, file, line, tok, (size_t)(s - tok),
		    stored, count_stored(bol, tok, stored)) == -1)
			return -1;
	return 0;
}

/* --- files ----------------------------------------------------------- */

/* Read all of fd into a new NUL-terminated buffer of *lenp bytes. */
static int
read_fd(int fd, const char *path, char **textp, size_t *lenp, char *err,
    size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t n;

	/*
	 * One byte more than allowed tells "too large" from "just fits".
	 * Pages never written to cost nothing, so no need to size it.
	 */
	if ((buf = malloc(CONFIG_MAX_FILE + 2)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (len < CONFIG_MAX_FILE + 1) {
		n = read(fd, buf + len, CONFIG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: too large (more than %d bytes)",
		    path, CONFIG_MAX_FILE);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*textp = buf;
	*lenp = len;
	return 0;
}

/*
 * The whole file at path, or a message with the errno text.  Only a
 * regular file will do: opening a FIFO would block the daemon, and
 * libconfig would report a directory as a bare "file I/O error".
 */
static int
read_file(const char *path, char **textp, char *err, size_t errlen)
{
	struct stat st;
	const char *nul, *s;
	unsigned line = 1;
	size_t len;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    S_ISDIR(st.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
		close(fd);
		return -1;
	}
	rc = read_fd(fd, path, textp, &len, err, errlen);
	close(fd);
	if (rc == -1 || (nul = memchr(*textp, '\0', len)) == NULL)
		return rc;
	/* The text goes to libconfig as a C string: it would end here. */
	for (s = *textp; s < nul; s++)
		if (*s == '\n')
			line++;
	snprintf(err, errlen, "%s:%u: unexpected NUL byte", path, line);
	free(*textp);
	return -1;
}

/*
 * libconfig reads @include'd files itself: scan their literals too.  An
 * include is resolved from the current directory (no include_dir is set:
 * libconfig 1.5 would prefix it to absolute paths as well), and the
 * filenames member of config_t lists the files as libconfig opened them
 * - the very strings config_setting_source_file() returns.
 */
static int
scan_included(struct parse *p, const config_t *lc)
{
	char *text, err[LINE_LEN];
	unsigned i;
	int rc;

	for (i = 0; i < lc->num_filenames; i++) {
		if (read_file(lc->filenames[i], &text, err,
		    sizeof(err)) == -1) {
			report(p, "%s", err);
			return -1;
		}
		rc = scan_literals(p, text, lc->filenames[i]);
		free(text);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
parse_config(config_t *lc, const char *text, struct parse *p)
{
	const char *file;

	if (config_read_string(lc, text) != CONFIG_TRUE) {
		file = config_error_file(lc);
		report(p, "%s:%d: %s",
		    file != NULL ? file : p->name, config_error_line(lc),
		    config_error_text(lc) != NULL ? config_error_text(lc) :
		    "syntax error");
		return -1;
	}
	/* Before the walk, which would see truncated values. */
	if (scan_literals(p, text, p->name) == -1 ||
	    scan_included(p, lc) == -1)
		return -1;
	walk(p, config_root_setting(lc), "");
	check_metrics_ports(p, lc);
	if (p->nerr > 0)
		return -1;
	/*
	 * Every integer is the value of a setting, and a wide one is out
	 * of range for each: get_int() has reported it.  Unless libconfig
	 * and scan_literals() disagree on what a literal is; then refuse.
	 */
	if (p->nwide > 0)
		return wide_error(p, &p->wide[0]);
	return 0;
}

/* Parse text, named name in messages, into *cf. */
static int
parse_text(const char *text, const char *name, struct config *cf,
    char *err, size_t errlen)
{
	struct parse p;
	config_t lc;
	int rc;

	config_defaults(cf);
	set_path(cf, name);
	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.name = name;
	config_init(&lc);
	rc = parse_config(&lc, text, &p);
	config_destroy(&lc);
	if (rc == -1) {
		report_all(&p, err, errlen);
		config_defaults(cf);
		set_path(cf, name);
	}
	return rc;
}

int
config_parse_file(const char *path, struct config *cf, char *err,
    size_t errlen)
{
	char *text;
	int rc;

	config_defaults(cf);
	set_path(cf, path);
	/*
	 * Read the file here rather than with config_read_file(): the
	 * errno text reaches the message, and scan_literals() sees the
	 * very bytes libconfig parsed.
	 */
	if (read_file(path, &text, err, errlen) == -1)
		return -1;
	rc = parse_text(text, path, cf, err, errlen);
	free(text);
	return rc;
}

int
config_parse_string(const char *text, const char *name, struct config *cf,
    char *err, size_t errlen)
{
	return parse_text(text, name, cf, err, errlen);
}

/* --- use ------------------------------------------------------------- */

void
config_defaults(struct config *cf)
{
	const struct setting *row;

	/* Zero everything, padding included, so snapshots compare equal. */
	memset(cf, 0, sizeof(*cf));
	for (row = settings; row < settings + NSETTINGS; row++) {
		if (row->init != NULL)
			row->init(row, cf);
		else if (row->type != SET_CUSTOM)
			int_store(row, cf, row->def);
	}
}

/* CPUs this process may run on: the affinity mask, else all online. */
static unsigned
usable_cpus(void)
{
	cpu_set_t set;
	long n = 0;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	/* Fails with more than CPU_SETSIZE CPUs: count them instead. */
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > CONFIG_MAX_WORKERS)
		n = CONFIG_MAX_WORKERS;
	return (unsigned)n;
}

unsigned
config_effective_workers(const struct config *cf)
{
	return cf->workers != 0 ? cf->workers : usable_cpus();
}

unsigned
config_error_count(const char *err)
{
	const char *last = err, *nl;
	unsigned n = 1, more;

	if (*err == '\0')
		return 0;
	while ((nl = strchr(last, '\n')) != NULL) {
		n++;
		last = nl + 1;
	}
	if (n > 1 && sscanf(last, "... and %u more error", &more) == 1)
		n += more - 1;
	return n;
}

const char *
config_level_name(int level)
{
	size_t i;

	for (i = 0; i < NLEVELS; i++)
		if (levels[i].level == level)
			return levels[i].name;
	return NULL;
}

size_t
config_used_size(const struct config *cf)
{
	size_t n = (size_t)cf->access_nallow + cf->access_ndeny;

	if (n > CONFIG_MAX_ACCESS)
		n = CONFIG_MAX_ACCESS;
	return offsetof(struct config, access) + n * sizeof(cf->access[0]);
}

void
config_copy(struct config *dst, const struct config *src)
{
	if (dst != src)
		memcpy(dst, src, config_used_size(src));
}

bool
config_udp_port_is_ours(const struct config *cf, uint16_t port)
{
	unsigned i;

	for (i = 0; i < cf->udp.nports; i++)
		if (cf->udp.ports[i] == port)
			return true;
	return false;
}

/* --- dump ------------------------------------------------------------ */

void
config_dump(const struct config *cf, FILE *fp)
{
	const struct setting *row;
	const char *open = "", *s;

	/* The path may hold anything; a newline would end the comment. */
	fputs("# effective configuration of ", fp);
	for (s = cf->path; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
	fputc('\n', fp);
	for (row = settings; row < settings + NSETTINGS; row++) {
		if (strcmp(row->group, open) != 0) {
			if (open[0] != '\0')
				fputs("};\n", fp);
			if (row->group[0] != '\0')
				fprintf(fp, "%s = {\n", row->group);
			open = row->group;
		}
		if (open[0] != '\0')
			fputc('\t', fp);
		if (row->dump != NULL)
			row->dump(row, cf, fp);
		else if (row->zero != NULL && int_load(row, cf) == 0)
			fprintf(fp, "%s = 0;  # %s\n", row->name, row->zero);
		else
			fprintf(fp, "%s = %llu;\n", row->name,
			    int_load(row, cf));
	}
	if (open[0] != '\0')
		fputs("};\n", fp);
}
