/*
 * handover.c - encode and decode the state an upgrade hands over
 * (handover.h has the format and its compatibility rule).
 *
 * Pure: no I/O, no allocation; the main thread of the old process
 * encodes, the main thread of the new one decodes.  All integers are
 * little-endian and written byte by byte, so neither side's layout or
 * alignment leaks into the format.
 */
#include <netinet/in.h>
#include <string.h>

#include "handover.h"
#include "proxyproto.h"

#define HEADER_LEN	(8 + 4 + 4 + 4 + 1 + 1 + CONFIG_MAX_EXIT)
#define ADDR_LEN	(1 + 2 + 16 + 4 + 4)	/* family, port, address,
						   scope id, flow info */
#define CONN_FIXED	(1 + 2 + 1 + 3 + 4 + 4 + 8 + 8 + 2 * ADDR_LEN + 4 + 2)
#define NCOUNTERS	(STATS_NAMES + STATS_DURATION_BUCKETS + 1)
#define COUNTERS_LEN	(4 + 4 + 8 * NCOUNTERS)
#define SOURCE_LEN	(1 + 8 + 8)	/* family, prefix, ahead_us */

/* The last of enum config_transform (a new one must be added here). */
#define TRANSFORM_LAST	CONFIG_TRANSFORM_ASCII

#define STATS_ONE(name)	+ 1
#define STATS_NAMES	(0 STATS_COUNTERS(STATS_ONE))

/* --- bytes ------------------------------------------------------------- */

static uint8_t *
put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p = put16(p, (uint16_t)v);
	return put16(p, (uint16_t)(v >> 16));
}

static uint8_t *
put64(uint8_t *p, uint64_t v)
{
	p = put32(p, (uint32_t)v);
	return put32(p, (uint32_t)(v >> 32));
}

static uint8_t *
putmem(uint8_t *p, const void *v, size_t n)
{
	if (n > 0)
		memcpy(p, v, n);
	return p + n;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return false;
	return true;
}

/*
 * The counter table's fingerprint (FNV-1a over the names and the
 * histogram's bounds): a table changed without a new format version
 * is refused rather than read into the wrong counters.
 */
static uint32_t
counters_fingerprint(void)
{
	static const char *const names[] = {
#define STATS_NAME(name)	#name,
		STATS_COUNTERS(STATS_NAME)
#undef STATS_NAME
	};
	uint32_t h = 2166136261u;
	const char *s;
	size_t i;
	unsigned b;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (s = names[i]; ; s++) {
			h = (h ^ (uint8_t)*s) * 16777619u;
			if (*s == '\0')
				break;
		}
	for (b = 0; b < STATS_DURATION_BUCKETS; b++)
		h = (h ^ (uint32_t)stats_duration_bound(b)) * 16777619u;
	return h;
}

/* --- frames ------------------------------------------------------------ */

static uint8_t *
frame(uint8_t *p, enum handover_type t, size_t len)
{
	p = put8(p, (uint8_t)t);
	return put32(p, (uint32_t)len);
}

/*
 * The payload of a record of type t at buf: MORE until the frame and
 * exactly its payload are there; BAD for another type, or a length out
 * of [min, max].
 */
static enum handover_result
unframe(const uint8_t *buf, size_t len, enum handover_type t, size_t min,
    size_t max, size_t *plen, const char **why)
{
	size_t n;

	if (len < 1)
		return HANDOVER_MORE;
	if (buf[0] != t) {
		*why = "unexpected record type";
		return HANDOVER_BAD;
	}
	if (len < HANDOVER_FRAME)
		return HANDOVER_MORE;
	n = get32(buf + 1);
	if (n < min || n > max) {
		*why = "record length out of bounds";
		return HANDOVER_BAD;
	}
	if (len - HANDOVER_FRAME < n)
		return HANDOVER_MORE;
	*plen = n;
	return HANDOVER_OK;
}

/*
 * A record of type t whose payload is the n bytes at payload (END and
 * READY have none, GO one): written if it fits in cap, its size
 * returned either way.
 */
static size_t
encode_fixed(uint8_t *buf, size_t cap, enum handover_type t,
    const uint8_t *payload, size_t n)
{
	if (cap >= HANDOVER_FRAME + n)
		(void)putmem(frame(buf, t, n), payload, n);
	return HANDOVER_FRAME + n;
}

/* Its decoder: a record of type t with exactly n payload bytes. */
static enum handover_result
decode_fixed(const uint8_t *buf, size_t len, enum handover_type t, size_t n,
    size_t *used, const char **why)
{
	enum handover_result r;
	size_t plen;

	if ((r = unframe(buf, len, t, n, n, &plen, why)) == HANDOVER_OK)
		*used = HANDOVER_FRAME + plen;
	return r;
}

enum handover_result
handover_peek(const uint8_t *buf, size_t len, enum handover_type *type,
    const char **why)
{
	if (len < 1)
		return HANDOVER_MORE;
	if (buf[0] < HANDOVER_HEADER || buf[0] > HANDOVER_TYPE_LAST) {
		*why = "unknown record type";
		return HANDOVER_BAD;
	}
	*type = (enum handover_type)buf[0];
	return HANDOVER_OK;
}

/* --- header ------------------------------------------------------------ */

size_t
handover_encode_header(uint8_t *buf, size_t cap,
    const struct handover_header *h)
{
	uint8_t *p = buf;
	size_t need = HANDOVER_FRAME + HEADER_LEN;
	uint8_t text[CONFIG_MAX_EXIT];

	if (h->exit_len > CONFIG_MAX_EXIT ||
	    memchr(h->exit_text, '\0', h->exit_len) != NULL ||
	    h->transform > TRANSFORM_LAST ||
	    h->nsources > HANDOVER_MAX_SOURCES)
		return 0;
	if (cap < need)
		return need;
	memset(text, 0, sizeof(text));
	memcpy(text, h->exit_text, h->exit_len);
	p = frame(p, HANDOVER_HEADER, HEADER_LEN);
	p = putmem(p, HANDOVER_MAGIC, 8);
	p = put32(p, HANDOVER_VERSION);
	p = put32(p, h->nconns);
	p = put32(p, h->nsources);
	p = put8(p, h->transform);
	p = put8(p, h->exit_len);
	(void)putmem(p, text, sizeof(text));
	return need;
}

/*
 * The magic and the version are judged as soon as they are there, and
 * before the length: a version this one does not know may well have a
 * header of another size, and "version 2, not 1" is the useful answer.
 */
enum handover_result
handover_decode_header(const uint8_t *buf, size_t len,
    struct handover_header *h, size_t *used, const char **why)
{
	size_t have = len > HANDOVER_FRAME ? len - HANDOVER_FRAME : 0, n;
	const uint8_t *p = have > 0 ? buf + HANDOVER_FRAME : buf;
	enum handover_result r;
	uint32_t version;

	if (len >= 1 && buf[0] != HANDOVER_HEADER) {
		*why = "not a hand-over state (no header)";
		return HANDOVER_BAD;
	}
	if (have > 0 && memcmp(p, HANDOVER_MAGIC, have < 8 ? have : 8) != 0) {
		*why = "not a hand-over state (bad magic)";
		return HANDOVER_BAD;
	}
	if (have < 12)
		return HANDOVER_MORE;
	if ((version = get32(p + 8)) != HANDOVER_VERSION) {
		h->version = version;
		*why = "state format version not supported";
		return HANDOVER_BAD;
	}
	r = unframe(buf, len, HANDOVER_HEADER, HEADER_LEN, HEADER_LEN, &n,
	    why);
	if (r != HANDOVER_OK)
		return r;
	p += 12;
	h->version = version;
	h->nconns = get32(p);
	h->nsources = get32(p + 4);
	h->transform = p[8];
	h->exit_len = p[9];
	p += 10;
	if (h->nsources > HANDOVER_MAX_SOURCES) {
		*why = "too many sources";
		return HANDOVER_BAD;
	}
	if (h->transform > TRANSFORM_LAST) {
		*why = "unknown transform";
		return HANDOVER_BAD;
	}
	if (h->exit_len > CONFIG_MAX_EXIT ||
	    memchr(p, '\0', h->exit_len) != NULL ||
	    memchr(p, '\n', h->exit_len) != NULL ||
	    memchr(p, '\r', h->exit_len) != NULL ||
	    !all_zero(p + h->exit_len, CONFIG_MAX_EXIT - h->exit_len)) {
		*why = "bad exit command";
		return HANDOVER_BAD;
	}
	memcpy(h->exit_text, p, h->exit_len);
	h->exit_text[h->exit_len] = '\0';
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

/* --- counters ---------------------------------------------------------- */

size_t
handover_encode_counters(uint8_t *buf, size_t cap,
    const struct stats_snapshot *s)
{
	uint8_t *p = buf;
	size_t need = HANDOVER_FRAME + COUNTERS_LEN;
	unsigned i;

	if (cap < need)
		return need;
	p = frame(p, HANDOVER_COUNTERS, COUNTERS_LEN);
	p = put32(p, NCOUNTERS);
	p = put32(p, counters_fingerprint());
	/* The pending_out gauge is not carried: imported queues add
	 * themselves again.  It goes as 0, and only 0 is read. */
#define STATS_PUT(name)						\
	p = put64(p, &s->name == &s->pending_out ? 0 : s->name);
	STATS_COUNTERS(STATS_PUT)
#undef STATS_PUT
	for (i = 0; i <= STATS_DURATION_BUCKETS; i++)
		p = put64(p, s->duration[i]);
	return need;
}

enum handover_result
handover_decode_counters(const uint8_t *buf, size_t len,
    struct stats_snapshot *s, size_t *used, const char **why)
{
	enum handover_result r;
	const uint8_t *p;
	size_t n;
	unsigned i;

	r = unframe(buf, len, HANDOVER_COUNTERS, COUNTERS_LEN, COUNTERS_LEN,
	    &n, why);
	if (r != HANDOVER_OK)
		return r;
	p = buf + HANDOVER_FRAME;
	if (get32(p) != NCOUNTERS || get32(p + 4) != counters_fingerprint()) {
		*why = "the counters differ from this version's";
		return HANDOVER_BAD;
	}
	p += 8;
	memset(s, 0, sizeof(*s));
#define STATS_GET(name)	s->name = get64(p); p += 8;
	STATS_COUNTERS(STATS_GET)
#undef STATS_GET
	for (i = 0; i <= STATS_DURATION_BUCKETS; i++, p += 8)
		s->duration[i] = get64(p);
	if (s->pending_out != 0) {
		*why = "the pending output gauge is not carried";
		return HANDOVER_BAD;
	}
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

/* --- sources ------------------------------------------------------------ */

/* What the table can have produced; NULL if s is one of those. */
static const char *
source_invalid(const struct handover_source *s)
{
	if (s->family != AF_INET && s->family != AF_INET6)
		return "bad source family";
	if (s->family == AF_INET && !all_zero(s->prefix + 4, 4))
		return "IPv4 source padding not zero";
	if (s->ahead_us == 0 || s->ahead_us > HANDOVER_MAX_AHEAD_US)
		return "source arrival time out of range";
	return NULL;
}

size_t
handover_encode_sources(uint8_t *buf, size_t cap,
    const struct handover_source *v, size_t n)
{
	uint8_t *p = buf;
	size_t need = HANDOVER_FRAME + n * SOURCE_LEN, i;

	if (n == 0 || n > HANDOVER_SOURCES_PER_RECORD)
		return 0;
	for (i = 0; i < n; i++)
		if (source_invalid(&v[i]) != NULL)
			return 0;
	if (cap < need)
		return need;
	p = frame(p, HANDOVER_SOURCES, n * SOURCE_LEN);
	for (i = 0; i < n; i++) {
		p = put8(p, v[i].family == AF_INET ? 4 : 6);
		p = putmem(p, v[i].prefix, 8);
		p = put64(p, v[i].ahead_us);
	}
	return need;
}

enum handover_result
handover_decode_sources(const uint8_t *buf, size_t len, uint32_t left,
    struct handover_source *v, size_t *n, size_t *used, const char **why)
{
	enum handover_result r;
	const uint8_t *p = buf + HANDOVER_FRAME;
	const char *bad;
	size_t want, plen, i;

	if (left == 0) {
		*why = "more sources than announced";
		return len < 1 ? HANDOVER_MORE : HANDOVER_BAD;
	}
	want = left < HANDOVER_SOURCES_PER_RECORD ? left :
	    HANDOVER_SOURCES_PER_RECORD;
	r = unframe(buf, len, HANDOVER_SOURCES, SOURCE_LEN,
	    HANDOVER_SOURCES_PER_RECORD * SOURCE_LEN, &plen, why);
	if (r != HANDOVER_OK)
		return r;
	if (plen != want * SOURCE_LEN) {
		*why = "sources record length mismatch";
		return HANDOVER_BAD;
	}
	for (i = 0; i < want; i++, p += SOURCE_LEN) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].family = p[0] == 4 ? AF_INET : p[0] == 6 ? AF_INET6 :
		    AF_UNSPEC;
		memcpy(v[i].prefix, p + 1, 8);
		v[i].ahead_us = get64(p + 9);
		if ((bad = source_invalid(&v[i])) != NULL) {
			*why = bad;
			return HANDOVER_BAD;
		}
	}
	*n = want;
	*used = HANDOVER_FRAME + plen;
	return HANDOVER_OK;
}

/* --- connections ------------------------------------------------------- */

static bool
addr_ok(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_UNSPEC || ss->ss_family == AF_INET ||
	    ss->ss_family == AF_INET6;
}

static uint8_t *
put_addr(uint8_t *p, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	uint8_t *start = p;

	memset(p, 0, ADDR_LEN);
	if (ss->ss_family == AF_INET) {
		p = put8(p, 4);
		p = putmem(p, &in->sin_port, 2);	/* network order */
		(void)putmem(p, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		p = put8(p, 6);
		p = putmem(p, &in6->sin6_port, 2);
		p = putmem(p, &in6->sin6_addr, 16);
		p = put32(p, in6->sin6_scope_id);
		(void)put32(p, in6->sin6_flowinfo);
	}
	return start + ADDR_LEN;
}

static bool
get_addr(const uint8_t *p, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	switch (p[0]) {
	case 0:
		return all_zero(p + 1, ADDR_LEN - 1);
	case 4:
		if (!all_zero(p + 7, ADDR_LEN - 7))
			return false;
		in->sin_family = AF_INET;
		memcpy(&in->sin_port, p + 1, 2);
		memcpy(&in->sin_addr, p + 3, 4);
		return true;
	case 6:
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_port, p + 1, 2);
		memcpy(&in6->sin6_addr, p + 3, 16);
		in6->sin6_scope_id = get32(p + 19);
		in6->sin6_flowinfo = get32(p + 23);
		return true;
	default:
		return false;
	}
}

/*
 * What the engine can have produced; NULL if c is one of those.  The
 * encoder asks it too, so a bad export never reaches the wire.  exit_len
 * bounds the exit matcher's state: held bytes are a prefix of
 * "command\r".
 */
static const char *
conn_invalid(const struct handover_conn *c, unsigned exit_len)
{
	uint8_t f = c->flags;

	if (f & ~HANDOVER_C_ALL)
		return "unknown connection flags";
	if (c->xs < -1 || c->xs > (int)exit_len + 1)
		return "exit matcher state out of range";
	if (c->carry_len > 3)
		return "UTF-8 carry too long";
	if (!addr_ok(&c->peer) || !addr_ok(&c->balancer))
		return "bad address family";
	if (c->out_len > HANDOVER_MAX_OUT)
		return "queued output too long";
	if (c->hdr_len > PROXYPROTO_MAX)
		return "PROXY header too long";
	if ((f & HANDOVER_C_HEADER) && (!(f & HANDOVER_C_PROXIED) ||
	    (f & (HANDOVER_C_EOF | HANDOVER_C_EXIT | HANDOVER_C_LINGER)) ||
	    c->out_len > 0 || c->carry_len > 0 || c->xs != 0 ||
	    c->bytes_in > 0 || c->bytes_out > 0 ||
	    c->balancer.ss_family != AF_UNSPEC))
		return "inconsistent PROXY header phase";
	if (!(f & HANDOVER_C_HEADER) && c->hdr_len > 0)
		return "PROXY header bytes after the header";
	if ((f & HANDOVER_C_PROXIED) && !(f & HANDOVER_C_HEADER) &&
	    c->balancer.ss_family == AF_UNSPEC)
		return "proxied without a balancer";
	if (!(f & HANDOVER_C_PROXIED) && c->balancer.ss_family != AF_UNSPEC)
		return "a balancer without PROXY";
	if ((f & HANDOVER_C_LINGER) && c->out_len > 0)
		return "output queued after our FIN";
	return NULL;
}

size_t
handover_encode_conn(uint8_t *buf, size_t cap, const struct handover_conn *c)
{
	uint8_t *p = buf, carry[3] = { 0, 0, 0 };
	size_t plen, need;

	if (conn_invalid(c, CONFIG_MAX_EXIT) != NULL)
		return 0;
	plen = CONN_FIXED + (size_t)c->out_len + c->hdr_len;
	need = HANDOVER_FRAME + plen;
	if (cap < need)
		return need;
	memcpy(carry, c->carry, c->carry_len);
	p = frame(p, HANDOVER_CONN, plen);
	p = put8(p, c->flags);
	p = put16(p, (uint16_t)c->xs);
	p = put8(p, c->carry_len);
	p = putmem(p, carry, 3);
	p = put32(p, c->idle_s);
	p = put32(p, c->age_ms);
	p = put64(p, c->bytes_in);
	p = put64(p, c->bytes_out);
	p = put_addr(p, &c->peer);
	p = put_addr(p, &c->balancer);
	p = put32(p, c->out_len);
	p = put16(p, c->hdr_len);
	p = putmem(p, c->out, c->out_len);
	(void)putmem(p, c->hdr, c->hdr_len);
	return need;
}

enum handover_result
handover_decode_conn(const uint8_t *buf, size_t len,
    const struct handover_header *h, struct handover_conn *c, size_t *used,
    const char **why)
{
	enum handover_result r;
	const uint8_t *p;
	const char *bad;
	size_t n;

	r = unframe(buf, len, HANDOVER_CONN, CONN_FIXED,
	    CONN_FIXED + (size_t)HANDOVER_MAX_OUT + PROXYPROTO_MAX, &n, why);
	if (r != HANDOVER_OK)
		return r;
	p = buf + HANDOVER_FRAME;
	memset(c, 0, sizeof(*c));
	c->flags = p[0];
	c->xs = (int16_t)get16(p + 1);
	c->carry_len = p[3];
	memcpy(c->carry, p + 4, 3);
	p += 7;
	c->idle_s = get32(p);
	c->age_ms = get32(p + 4);
	c->bytes_in = get64(p + 8);
	c->bytes_out = get64(p + 16);
	p += 24;
	if (!get_addr(p, &c->peer) || !get_addr(p + ADDR_LEN, &c->balancer)) {
		*why = "bad address";
		return HANDOVER_BAD;
	}
	p += 2 * ADDR_LEN;
	c->out_len = get32(p);
	c->hdr_len = get16(p + 4);
	p += 6;
	if ((size_t)c->out_len + c->hdr_len != n - CONN_FIXED) {
		*why = "connection record length mismatch";
		return HANDOVER_BAD;
	}
	if (c->carry_len <= 3 &&
	    !all_zero(c->carry + c->carry_len, 3 - c->carry_len)) {
		*why = "UTF-8 carry padding not zero";
		return HANDOVER_BAD;
	}
	if ((bad = conn_invalid(c, h->exit_len)) != NULL) {
		*why = bad;
		return HANDOVER_BAD;
	}
	c->out = c->out_len > 0 ? p : NULL;
	c->hdr = c->hdr_len > 0 ? p + c->out_len : NULL;
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

/* --- end --------------------------------------------------------------- */

size_t
handover_encode_end(uint8_t *buf, size_t cap)
{
	return encode_fixed(buf, cap, HANDOVER_END, NULL, 0);
}

enum handover_result
handover_decode_end(const uint8_t *buf, size_t len, size_t *used,
    const char **why)
{
	return decode_fixed(buf, len, HANDOVER_END, 0, used, why);
}

/* --- listeners and batches ---------------------------------------------- */

#define LISTENER_LEN	(1 + 1 + ADDR_LEN)
#define BATCH_LEN	(4 + 4)

size_t
handover_encode_listener(uint8_t *buf, size_t cap,
    const struct handover_listener *l)
{
	uint8_t *p = buf;
	size_t need = HANDOVER_FRAME + LISTENER_LEN;

	if (l->kind < HANDOVER_L_TCP || l->kind > HANDOVER_L_METRICS ||
	    (l->flags & ~HANDOVER_L_ACTIVATED) ||
	    (l->addr.ss_family != AF_INET && l->addr.ss_family != AF_INET6))
		return 0;
	if (cap < need)
		return need;
	p = frame(p, HANDOVER_LISTENER, LISTENER_LEN);
	p = put8(p, l->kind);
	p = put8(p, l->flags);
	(void)put_addr(p, &l->addr);
	return need;
}

enum handover_result
handover_decode_listener(const uint8_t *buf, size_t len,
    struct handover_listener *l, size_t *used, const char **why)
{
	enum handover_result r;
	const uint8_t *p = buf + HANDOVER_FRAME;
	size_t n;

	r = unframe(buf, len, HANDOVER_LISTENER, LISTENER_LEN, LISTENER_LEN,
	    &n, why);
	if (r != HANDOVER_OK)
		return r;
	memset(l, 0, sizeof(*l));
	l->kind = p[0];
	l->flags = p[1];
	if (l->kind < HANDOVER_L_TCP || l->kind > HANDOVER_L_METRICS) {
		*why = "unknown listener kind";
		return HANDOVER_BAD;
	}
	if (l->flags & ~HANDOVER_L_ACTIVATED) {
		*why = "unknown listener flags";
		return HANDOVER_BAD;
	}
	if (!get_addr(p + 2, &l->addr) || l->addr.ss_family == AF_UNSPEC) {
		*why = "bad listener address";
		return HANDOVER_BAD;
	}
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

size_t
handover_encode_batch(uint8_t *buf, size_t cap, const struct handover_batch *b)
{
	uint8_t *p = buf;
	size_t need = HANDOVER_FRAME + BATCH_LEN;

	if (b->nfds > 253 || b->len == 0 || b->len > HANDOVER_MAX_BATCH)
		return 0;
	if (cap < need)
		return need;
	p = frame(p, HANDOVER_BATCH, BATCH_LEN);
	p = put32(p, b->nfds);
	(void)put32(p, b->len);
	return need;
}

enum handover_result
handover_decode_batch(const uint8_t *buf, size_t len,
    struct handover_batch *b, size_t *used, const char **why)
{
	enum handover_result r;
	size_t n;

	r = unframe(buf, len, HANDOVER_BATCH, BATCH_LEN, BATCH_LEN, &n, why);
	if (r != HANDOVER_OK)
		return r;
	b->nfds = get32(buf + HANDOVER_FRAME);
	b->len = get32(buf + HANDOVER_FRAME + 4);
	if (b->nfds > 253 || b->len == 0 || b->len > HANDOVER_MAX_BATCH) {
		*why = "batch size out of bounds";
		return HANDOVER_BAD;
	}
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

/* --- control records ---------------------------------------------------- */

/* A text field: printable (tabs and newlines too), no NUL, bounded. */
static bool
text_ok(const uint8_t *p, size_t n, size_t max)
{
	size_t i;

	if (n > max)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] == '\0' || (p[i] < 0x20 && p[i] != '\n' &&
		    p[i] != '\t') || p[i] == 0x7f)
			return false;
	return true;
}

#define HELLO_FIXED	(4 + 1 + 2)

size_t
handover_encode_hello(uint8_t *buf, size_t cap,
    const struct handover_hello *h)
{
	size_t rl = strnlen(h->release, sizeof(h->release));
	size_t el = strnlen(h->config_error, sizeof(h->config_error));
	size_t need = HANDOVER_FRAME + HELLO_FIXED + rl + el;
	uint8_t *p = buf;

	if (!text_ok((const uint8_t *)h->release, rl, HANDOVER_MAX_RELEASE) ||
	    !text_ok((const uint8_t *)h->config_error, el, HANDOVER_MAX_TEXT))
		return 0;
	if (cap < need)
		return need;
	p = frame(p, HANDOVER_HELLO, HELLO_FIXED + rl + el);
	p = put32(p, h->version);
	p = put8(p, (uint8_t)rl);
	p = put16(p, (uint16_t)el);
	p = putmem(p, h->release, rl);
	(void)putmem(p, h->config_error, el);
	return need;
}

/* Any version is read: the old process judges it and names it. */
enum handover_result
handover_decode_hello(const uint8_t *buf, size_t len,
    struct handover_hello *h, size_t *used, const char **why)
{
	enum handover_result r;
	const uint8_t *p = buf + HANDOVER_FRAME;
	size_t n, rl, el;

	r = unframe(buf, len, HANDOVER_HELLO, HELLO_FIXED,
	    HELLO_FIXED + HANDOVER_MAX_RELEASE + HANDOVER_MAX_TEXT, &n, why);
	if (r != HANDOVER_OK)
		return r;
	rl = p[4];
	el = get16(p + 5);
	if (HELLO_FIXED + rl + el != n) {
		*why = "hello record length mismatch";
		return HANDOVER_BAD;
	}
	p += HELLO_FIXED;
	if (!text_ok(p, rl, HANDOVER_MAX_RELEASE) ||
	    !text_ok(p + rl, el, HANDOVER_MAX_TEXT)) {
		*why = "bad text in hello";
		return HANDOVER_BAD;
	}
	h->version = get32(buf + HANDOVER_FRAME);
	memcpy(h->release, p, rl);
	h->release[rl] = '\0';
	memcpy(h->config_error, p + rl, el);
	h->config_error[el] = '\0';
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

size_t
handover_encode_ready(uint8_t *buf, size_t cap)
{
	return encode_fixed(buf, cap, HANDOVER_READY, NULL, 0);
}

enum handover_result
handover_decode_ready(const uint8_t *buf, size_t len, size_t *used,
    const char **why)
{
	return decode_fixed(buf, len, HANDOVER_READY, 0, used, why);
}

#define REFUSE_FIXED	(1 + 4)

/* Pure and without library state: the child calls it after a failed
 * execv(), where only async-signal-safe code may run. */
size_t
handover_encode_refuse(uint8_t *buf, size_t cap,
    const struct handover_refuse *r)
{
	size_t wl = strnlen(r->why, sizeof(r->why));
	size_t need = HANDOVER_FRAME + REFUSE_FIXED + wl;
	uint8_t *p = buf;

	if (r->what < HANDOVER_R_EXEC || r->what > HANDOVER_R_SYSTEM ||
	    !text_ok((const uint8_t *)r->why, wl, HANDOVER_MAX_TEXT))
		return 0;
	if (cap < need)
		return need;
	p = frame(p, HANDOVER_REFUSE, REFUSE_FIXED + wl);
	p = put8(p, r->what);
	p = put32(p, r->code);
	(void)putmem(p, r->why, wl);
	return need;
}

enum handover_result
handover_decode_refuse(const uint8_t *buf, size_t len,
    struct handover_refuse *r, size_t *used, const char **why)
{
	enum handover_result res;
	const uint8_t *p = buf + HANDOVER_FRAME;
	size_t n;

	res = unframe(buf, len, HANDOVER_REFUSE, REFUSE_FIXED,
	    REFUSE_FIXED + HANDOVER_MAX_TEXT, &n, why);
	if (res != HANDOVER_OK)
		return res;
	if (p[0] < HANDOVER_R_EXEC || p[0] > HANDOVER_R_SYSTEM) {
		*why = "unknown refusal";
		return HANDOVER_BAD;
	}
	if (!text_ok(p + REFUSE_FIXED, n - REFUSE_FIXED, HANDOVER_MAX_TEXT)) {
		*why = "bad text in refusal";
		return HANDOVER_BAD;
	}
	r->what = p[0];
	r->code = get32(p + 1);
	memcpy(r->why, p + REFUSE_FIXED, n - REFUSE_FIXED);
	r->why[n - REFUSE_FIXED] = '\0';
	*used = HANDOVER_FRAME + n;
	return HANDOVER_OK;
}

size_t
handover_encode_go(uint8_t *buf, size_t cap, uint8_t flags)
{
	if (flags & ~HANDOVER_GO_RELOAD)
		return 0;
	return encode_fixed(buf, cap, HANDOVER_GO, &flags, 1);
}

enum handover_result
handover_decode_go(const uint8_t *buf, size_t len, uint8_t *flags,
    size_t *used, const char **why)
{
	enum handover_result r;
	size_t n;

	if ((r = decode_fixed(buf, len, HANDOVER_GO, 1, &n, why)) !=
	    HANDOVER_OK)
		return r;
	if (buf[HANDOVER_FRAME] & ~HANDOVER_GO_RELOAD) {
		*why = "unknown go flags";
		return HANDOVER_BAD;
	}
	*flags = buf[HANDOVER_FRAME];
	*used = n;
	return HANDOVER_OK;
}
