/*
 * check_handover.c - the hand-over state's format: every kind of record
 * round-trips; every cut of a valid state asks for more, never decodes
 * wrong; a bad magic, another version, oversize and inconsistent fields
 * are refused with a reason.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "proxyproto.h"
#include "unit.h"
#include "unit_handover.h"

static uint8_t outbytes[70000];
static const uint8_t hdrbytes[] = "PROXY TCP4 192.0.2.1 19";

static struct handover_header
header(const char *cmd)
{
	struct handover_header h;

	memset(&h, 0, sizeof(h));
	h.nconns = 7;
	h.nsources = 70000;
	h.transform = CONFIG_TRANSFORM_UNICODE;
	h.exit_len = (uint8_t)strlen(cmd);
	memcpy(h.exit_text, cmd, h.exit_len);
	return h;
}

static void
v4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, a, &in->sin_addr), 1);
}

static void
v6(struct sockaddr_storage *ss, const char *a, uint16_t port,
    uint32_t scope)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	in6->sin6_scope_id = scope;
	ck_assert_int_eq(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
}

/* The kinds of connection the engine has: index k. */
#define NKINDS	8

static struct handover_conn
kind(int k)
{
	struct handover_conn c;

	memset(&c, 0, sizeof(c));
	c.idle_s = 3 + (uint32_t)k;
	c.age_ms = 4000000000u - (uint32_t)k;
	c.bytes_in = UINT64_C(0x0102030405060708) + (uint64_t)k;
	c.bytes_out = UINT64_C(0x1112131415161718) + (uint64_t)k;
	v4(&c.peer, "198.51.100.7", (uint16_t)(40000 + k));
	switch (k) {
	case 0:			/* plain, idle */
		break;
	case 1:			/* output queued, a line held */
		c.out = outbytes;
		c.out_len = sizeof(outbytes);
		c.xs = 3;
		c.flags = HANDOVER_C_COUNTED | HANDOVER_C_FRESH;
		break;
	case 2:			/* UTF-8 cut, IPv6 with a scope */
		c.carry_len = 2;
		c.carry[0] = 0xe2;
		c.carry[1] = 0x82;
		c.xs = -1;
		v6(&c.peer, "fe80::1", 7, 3);
		break;
	case 3:			/* half-closed by the client */
		c.flags = HANDOVER_C_EOF;
		c.out = outbytes + 5;
		c.out_len = 100;
		break;
	case 4:			/* lingering after the exit line */
		c.flags = HANDOVER_C_EXIT | HANDOVER_C_LINGER;
		break;
	case 5:			/* inside its PROXY header */
		c.flags = HANDOVER_C_HEADER | HANDOVER_C_PROXIED |
		    HANDOVER_C_COUNTED;
		c.bytes_in = c.bytes_out = 0;
		c.hdr = hdrbytes;
		c.hdr_len = sizeof(hdrbytes) - 1;
		break;
	case 6:			/* through a balancer, identified */
		c.flags = HANDOVER_C_PROXIED | HANDOVER_C_COUNTED;
		v6(&c.peer, "2001:db8::5", 443, 0);
		v4(&c.balancer, "192.0.2.10", 5555);
		break;
	default:		/* no address (a test's socketpair) */
		memset(&c.peer, 0, sizeof(c.peer));
		c.xs = 5;	/* "exit\r" all held */
		break;
	}
	return c;
}

/* Encode into an exactly sized heap buffer (valgrind sees overruns). */
static uint8_t *
enc_conn(const struct handover_conn *c, size_t *len)
{
	uint8_t *b;

	*len = handover_encode_conn(NULL, 0, c);
	ck_assert_uint_gt(*len, HANDOVER_FRAME);
	ck_assert_ptr_nonnull(b = malloc(*len));
	ck_assert_uint_eq(handover_encode_conn(b, *len, c), *len);
	return b;
}

static void
fill(void)
{
	size_t i;

	for (i = 0; i < sizeof(outbytes); i++)
		outbytes[i] = (uint8_t)(i * 31 + (i >> 9));
}

START_TEST(test_header_round_trip)
{
	struct handover_header h = header("quit now"), d;
	uint8_t buf[256];
	const char *why = NULL;
	size_t n, used = 0;

	n = handover_encode_header(buf, sizeof(buf), &h);
	ck_assert_uint_gt(n, HANDOVER_FRAME + 12);
	memset(&d, 0xff, sizeof(d));
	ck_assert_int_eq(handover_decode_header(buf, n, &d, &used, &why),
	    HANDOVER_OK);
	ck_assert_uint_eq(used, n);
	ck_assert_uint_eq(d.version, HANDOVER_VERSION);
	ck_assert_uint_eq(d.nconns, 7);
	ck_assert_uint_eq(d.nsources, 70000);
	ck_assert_uint_eq(d.transform, CONFIG_TRANSFORM_UNICODE);
	ck_assert_str_eq(d.exit_text, "quit now");
	ck_assert_uint_eq(d.exit_len, 8);
	/* a disabled command, the ascii transform */
	h = header("");
	h.transform = CONFIG_TRANSFORM_ASCII;
	n = handover_encode_header(buf, sizeof(buf), &h);
	ck_assert_int_eq(handover_decode_header(buf, n, &d, &used, &why),
	    HANDOVER_OK);
	ck_assert_str_eq(d.exit_text, "");
	ck_assert_uint_eq(d.transform, CONFIG_TRANSFORM_ASCII);
}
END_TEST

/* Where the pending_out gauge sits in a counters record. */
static size_t
pending_at(void)
{
	struct stats_snapshot s;
	size_t at = HANDOVER_FRAME + 8, found = 0;

#define AT(name)	if (&s.name == &s.pending_out) found = at; at += 8;
	STATS_COUNTERS(AT)
#undef AT
	ck_assert_uint_gt(found, 0);
	return found;
}

START_TEST(test_counters_round_trip)
{
	struct stats_snapshot s, d;
	uint8_t buf[1024];
	const char *why = NULL;
	uint64_t v = UINT64_C(0x0a0b0c0d00000001);
	size_t n, used = 0;
	unsigned i;

	memset(&s, 0, sizeof(s));
#define SET(name)	s.name = v++ * 0x10001;
	STATS_COUNTERS(SET)
#undef SET
	for (i = 0; i <= STATS_DURATION_BUCKETS; i++)
		s.duration[i] = v++ * 3;
	s.conns_open = 99;
	n = handover_encode_counters(buf, sizeof(buf), &s);
	ck_assert_uint_le(n, sizeof(buf));
	ck_assert_int_eq(handover_decode_counters(buf, n, &d, &used, &why),
	    HANDOVER_OK);
	ck_assert_uint_eq(used, n);
	/* all but the open count (admission's) and the pending gauge
	 * (the imported queues add themselves again) */
	ck_assert_uint_eq(d.conns_open, 0);
	ck_assert_uint_eq(d.pending_out, 0);
	s.conns_open = 0;
	s.pending_out = 0;
	ck_assert_mem_eq(&d, &s, sizeof(s));
	/* a pending_out gauge in the bytes: refused */
	ck_assert_uint_eq(buf[pending_at()], 0);
	buf[pending_at()] = 1;
	ck_assert_int_eq(handover_decode_counters(buf, n, &d, &used, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "the pending output gauge is not carried");
	buf[pending_at()] = 0;
	/* a table that differs: refused */
	buf[HANDOVER_FRAME + 4] ^= 1;
	ck_assert_int_eq(handover_decode_counters(buf, n, &d, &used, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "the counters differ from this version's");
}
END_TEST

START_TEST(test_conn_round_trip)
{
	struct handover_header h = header("exit");
	struct handover_conn c = kind(_i), d;
	const char *why = NULL;
	size_t n, used = 0;
	uint8_t *b;

	fill();
	b = enc_conn(&c, &n);
	ck_assert_int_eq(handover_decode_conn(b, n, &h, &d, &used, &why),
	    HANDOVER_OK);
	ck_assert_uint_eq(used, n);
	unit_conn_eq(&c, &d);
	/* the decoded bytes point into the record, not at the source */
	if (d.out_len > 0)
		ck_assert(d.out >= b && d.out + d.out_len <= b + n);
	free(b);
}
END_TEST

/* A whole state, decoded as a receiver would from any prefix of it. */
/* Sources of the per-source table: an IPv4 address, an IPv6 /64. */
#define NSTATE_SOURCES	3
static const struct handover_source sources[NSTATE_SOURCES] = {
	{ AF_INET, { 192, 0, 2, 7, 0, 0, 0, 0 }, 1 },
	{ AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0xff, 0xfe }, 250000 },
	{ AF_INET, { 198, 51, 100, 255, 0, 0, 0, 0 }, HANDOVER_MAX_AHEAD_US }
};

static size_t
state(uint8_t *buf, size_t cap)
{
	struct handover_header h = header("exit");
	struct stats_snapshot s;
	struct handover_conn c;
	size_t n = 0;
	int k;

	memset(&s, 0, sizeof(s));
	s.conns_total = 12345;
	h.nconns = NKINDS;
	h.nsources = NSTATE_SOURCES;
	n += handover_encode_header(buf + n, cap - n, &h);
	n += handover_encode_counters(buf + n, cap - n, &s);
	n += handover_encode_sources(buf + n, cap - n, sources, NSTATE_SOURCES);
	for (k = 0; k < NKINDS; k++) {
		c = kind(k);
		if (k == 1)
			c.out_len = 1000;	/* keep every cut cheap */
		n += handover_encode_conn(buf + n, cap - n, &c);
	}
	n += handover_encode_end(buf + n, cap - n);
	ck_assert_uint_le(n, cap);
	return n;
}

/* Decode buf[0..len) record by record: OK (whole), MORE, or BAD. */
static enum handover_result
decode_all(const uint8_t *buf, size_t len, int *nrec)
{
	static struct handover_source v[HANDOVER_SOURCES_PER_RECORD];
	struct handover_header h;
	struct stats_snapshot s;
	struct handover_conn c;
	uint32_t left = 0;
	size_t nv;
	enum handover_type t;
	enum handover_result r;
	const char *why = NULL;
	size_t off = 0, used;

	*nrec = 0;
	for (;;) {
		used = 0;
		if ((r = handover_peek(buf + off, len - off, &t, &why)) !=
		    HANDOVER_OK)
			return r;
		if (*nrec == 0)
			r = handover_decode_header(buf + off, len - off, &h,
			    &used, &why);
		else if (*nrec == 1)
			r = handover_decode_counters(buf + off, len - off, &s,
			    &used, &why);
		else if (left > 0) {
			r = handover_decode_sources(buf + off, len - off, left,
			    v, &nv, &used, &why);
			if (r == HANDOVER_OK) {
				ck_assert_uint_ge(left, nv);
				left -= (uint32_t)nv;
			}
		} else if (t == HANDOVER_CONN)
			r = handover_decode_conn(buf + off, len - off, &h, &c,
			    &used, &why);
		else
			r = handover_decode_end(buf + off, len - off, &used,
			    &why);
		if (r != HANDOVER_OK)
			return r;
		ck_assert_uint_gt(used, 0);
		if (*nrec == 0)
			left = h.nsources;
		off += used;
		(*nrec)++;
		if (t == HANDOVER_END)
			return off == len ? HANDOVER_OK : HANDOVER_BAD;
	}
}

/* Many sources: full records, the last with the rest, each read back. */
START_TEST(test_sources_round_trip)
{
	enum { N = HANDOVER_SOURCES_PER_RECORD + 6 };
	static struct handover_source v[N], d[HANDOVER_SOURCES_PER_RECORD];
	static uint8_t buf[(N / HANDOVER_SOURCES_PER_RECORD + 1) *
	    (HANDOVER_FRAME + 17 * HANDOVER_SOURCES_PER_RECORD)];
	const char *why = NULL;
	size_t i, k, n, off, used, nd, per;
	uint32_t left;

	for (i = 0; i < N; i++) {
		v[i] = sources[i % NSTATE_SOURCES];
		v[i].prefix[3] = (uint8_t)i;	/* each its own */
		v[i].prefix[2] = (uint8_t)(i >> 8);
		v[i].ahead_us = 1 + i * 977;
	}
	for (i = 0, off = 0; i < N; i += per) {
		per = N - i < HANDOVER_SOURCES_PER_RECORD ? N - i :
		    HANDOVER_SOURCES_PER_RECORD;
		n = handover_encode_sources(buf + off, sizeof(buf) - off,
		    v + i, per);
		ck_assert_uint_eq(n, HANDOVER_FRAME + 17 * per);
		off += n;
	}
	for (i = 0, k = 0, left = N; left > 0; k += used) {
		memset(d, 0xa5, sizeof(d));
		ck_assert_int_eq(handover_decode_sources(buf + k, off - k, left,
		    d, &nd, &used, &why), HANDOVER_OK);
		ck_assert_uint_eq(nd, left < HANDOVER_SOURCES_PER_RECORD ?
		    left : HANDOVER_SOURCES_PER_RECORD);
		for (n = 0; n < nd; n++, i++) {
			ck_assert_uint_eq(d[n].family, v[i].family);
			ck_assert_mem_eq(d[n].prefix, v[i].prefix, 8);
			ck_assert_uint_eq(d[n].ahead_us, v[i].ahead_us);
		}
		left -= (uint32_t)nd;
	}
	ck_assert_uint_eq(i, N);
	ck_assert_uint_eq(k, off);
	/* a split other than the canonical one is refused */
	ck_assert_int_eq(handover_decode_sources(buf, off, N - 1, d, &nd,
	    &used, &why), HANDOVER_OK);		/* 1024 of 1029: fine */
	ck_assert_int_eq(handover_decode_sources(buf, off, 1000, d, &nd,
	    &used, &why), HANDOVER_BAD);	/* 1024 where 1000 were due */
	ck_assert_str_eq(why, "sources record length mismatch");
	k = HANDOVER_FRAME + 17 * HANDOVER_SOURCES_PER_RECORD;
	ck_assert_int_eq(handover_decode_sources(buf + k, off - k, 7, d, &nd,
	    &used, &why), HANDOVER_BAD);	/* 6 where 7 were due */
	ck_assert_str_eq(why, "sources record length mismatch");
	ck_assert_int_eq(handover_decode_sources(buf + k, off - k, 0, d, &nd,
	    &used, &why), HANDOVER_BAD);	/* none was announced */
	ck_assert_str_eq(why, "more sources than announced");
	/* the encoder: 1 .. HANDOVER_SOURCES_PER_RECORD a record */
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v, 0), 0);
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v,
	    HANDOVER_SOURCES_PER_RECORD + 1), 0);
	/* measured with cap 0 */
	ck_assert_uint_eq(handover_encode_sources(NULL, 0, v, 2),
	    HANDOVER_FRAME + 34);
}
END_TEST

/* Decode a sources record (the three of the state) after f() changed it. */
static const char *
sources_bad(void (*f)(uint8_t *))
{
	static struct handover_source d[HANDOVER_SOURCES_PER_RECORD];
	uint8_t buf[256];
	const char *why = NULL;
	size_t n, nd, used;

	n = handover_encode_sources(buf, sizeof(buf), sources, NSTATE_SOURCES);
	ck_assert_uint_eq(n, HANDOVER_FRAME + 17 * NSTATE_SOURCES);
	ck_assert_int_eq(handover_decode_sources(buf, n, NSTATE_SOURCES, d,
	    &nd, &used, &why), HANDOVER_OK);
	ck_assert_uint_eq(nd, NSTATE_SOURCES);
	f(buf);
	if (handover_decode_sources(buf, n, NSTATE_SOURCES, d, &nd, &used,
	    &why) != HANDOVER_BAD)
		return NULL;
	return why;
}

#define S1	(HANDOVER_FRAME + 17)		/* the second source */
static void s_family(uint8_t *b) { b[S1] = 5; }
static void s_unspec(uint8_t *b) { b[S1] = 0; }
static void s_v4_pad(uint8_t *b) { b[HANDOVER_FRAME + 1 + 7] = 1; }
static void s_ahead0(uint8_t *b) { memset(b + HANDOVER_FRAME + 9, 0, 8); }
static void s_ahead_big(uint8_t *b) { b[HANDOVER_FRAME + 2 * 17 + 9]++; }
static void s_ahead_top(uint8_t *b) { b[S1 + 16] = 0x80; }
static void s_len(uint8_t *b) { b[1]--; }
static void s_type(uint8_t *b) { b[0] = HANDOVER_CONN; }

START_TEST(test_sources_bounds)
{
	struct handover_source v[2] = { sources[0], sources[1] };
	static struct handover_source d[HANDOVER_SOURCES_PER_RECORD];
	static uint8_t big[HANDOVER_FRAME + 17 * HANDOVER_SOURCES_PER_RECORD +
	    17];
	uint8_t buf[64];
	const char *why = NULL;
	size_t nd, used;

	/* one source more than a record holds: refused from its frame */
	big[0] = HANDOVER_SOURCES;
	big[1] = (uint8_t)(sizeof(big) - HANDOVER_FRAME);
	big[2] = (uint8_t)((sizeof(big) - HANDOVER_FRAME) >> 8);
	ck_assert_int_eq(handover_decode_sources(big, HANDOVER_FRAME, 5000, d,
	    &nd, &used, &why), HANDOVER_BAD);
	ck_assert_str_eq(why, "record length out of bounds");
	/* the encoder refuses what the decoder would */
	v[1].family = AF_UNIX;
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v, 2), 0);
	v[1] = sources[1];
	v[0].prefix[5] = 1;
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v, 2), 0);
	v[0] = sources[0];
	v[1].ahead_us = 0;
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v, 2), 0);
	v[1].ahead_us = HANDOVER_MAX_AHEAD_US + 1;
	ck_assert_uint_eq(handover_encode_sources(buf, sizeof(buf), v, 2), 0);
}
END_TEST

START_TEST(test_every_cut)
{
	static uint8_t buf[8192];
	size_t n, cut;
	uint8_t *b;
	int nrec;

	fill();
	n = state(buf, sizeof(buf));
	ck_assert_int_eq(decode_all(buf, n, &nrec), HANDOVER_OK);
	ck_assert_int_eq(nrec, 3 + NKINDS + 1);
	for (cut = 0; cut < n; cut++) {
		/* exactly cut bytes on the heap: a read past them shows */
		ck_assert_ptr_nonnull(b = malloc(cut > 0 ? cut : 1));
		memcpy(b, buf, cut);
		ck_assert_msg(decode_all(b, cut, &nrec) == HANDOVER_MORE,
		    "cut at %zu of %zu", cut, n);
		free(b);
	}
}
END_TEST

START_TEST(test_bad_magic)
{
	struct handover_header h = header("exit"), d;
	uint8_t buf[256];
	const char *why = NULL;
	size_t n, used, i;

	n = handover_encode_header(buf, sizeof(buf), &h);
	for (i = 0; i < 8; i++) {
		buf[HANDOVER_FRAME + i] ^= 0x40;
		why = NULL;
		/* refused as soon as the bad byte is there */
		ck_assert_int_eq(handover_decode_header(buf,
		    HANDOVER_FRAME + i + 1, &d, &used, &why), HANDOVER_BAD);
		ck_assert_str_eq(why, "not a hand-over state (bad magic)");
		buf[HANDOVER_FRAME + i] ^= 0x40;
	}
	buf[0] = HANDOVER_CONN;
	ck_assert_int_eq(handover_decode_header(buf, n, &d, &used, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "not a hand-over state (no header)");
}
END_TEST

/* Another version, older or newer: refused once the version is in,
 * whatever the rest (its header may be of another size), and named. */
START_TEST(test_other_version)
{
	struct handover_header h = header("exit"), d;
	static const uint32_t versions[] = { 0, HANDOVER_VERSION + 1,
	    0xffffffffu };
	uint8_t buf[256];
	const char *why = NULL;
	size_t used;
	unsigned i;

	(void)handover_encode_header(buf, sizeof(buf), &h);
	for (i = 0; i < 3; i++) {
		buf[HANDOVER_FRAME + 8] = (uint8_t)versions[i];
		buf[HANDOVER_FRAME + 9] = (uint8_t)(versions[i] >> 8);
		buf[HANDOVER_FRAME + 10] = (uint8_t)(versions[i] >> 16);
		buf[HANDOVER_FRAME + 11] = (uint8_t)(versions[i] >> 24);
		buf[1] = 0xff;		/* a length this version refuses */
		memset(&d, 0, sizeof(d));
		ck_assert_int_eq(handover_decode_header(buf,
		    HANDOVER_FRAME + 12, &d, &used, &why), HANDOVER_BAD);
		ck_assert_str_eq(why, "state format version not supported");
		ck_assert_uint_eq(d.version, versions[i]);
	}
}
END_TEST

/* Decode a header after f() changed its bytes. */
static const char *
header_bad(void (*f)(uint8_t *))
{
	struct handover_header h = header("exit"), d;
	uint8_t buf[256];
	const char *why = NULL;
	size_t n, used;

	n = handover_encode_header(buf, sizeof(buf), &h);
	f(buf);
	ck_assert_int_eq(handover_decode_header(buf, n, &d, &used, &why),
	    HANDOVER_BAD);
	ck_assert_ptr_nonnull(why);
	return why;
}

/* Offsets into a header record (handover.c's layout). */
#define H_SOURCES	(HANDOVER_FRAME + 16)
#define H_TRANSFORM	(HANDOVER_FRAME + 20)
#define H_EXIT_LEN	(HANDOVER_FRAME + 21)
#define H_EXIT		(HANDOVER_FRAME + 22)

static void
put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void h_len(uint8_t *b) { b[1]++; }
static void h_transform(uint8_t *b) { b[H_TRANSFORM] = 2; }
static void h_exit_len(uint8_t *b) { b[H_EXIT_LEN] = CONFIG_MAX_EXIT + 1; }
static void h_exit_lf(uint8_t *b) { b[H_EXIT + 1] = '\n'; }	/* "e\nit" */
static void h_exit_past(uint8_t *b) { b[H_EXIT + 4] = 'x'; }
static void h_sources(uint8_t *b) {
	put32le(b + H_SOURCES, HANDOVER_MAX_SOURCES + 1); }

/* A record spoiled, who decodes it, and the reason the refusal gives. */
static const struct {
	const char	*(*decode)(void (*)(uint8_t *));
	void		(*spoil)(uint8_t *);
	const char	*why;
} bad_records[] = {
	{ header_bad, h_len, "record length out of bounds" },
	{ header_bad, h_transform, "unknown transform" },
	{ header_bad, h_exit_len, "bad exit command" },
	{ header_bad, h_exit_lf, "bad exit command" },
	{ header_bad, h_exit_past, "bad exit command" },
	{ header_bad, h_sources, "too many sources" },
	{ sources_bad, s_family, "bad source family" },
	{ sources_bad, s_unspec, "bad source family" },
	{ sources_bad, s_v4_pad, "IPv4 source padding not zero" },
	{ sources_bad, s_ahead0, "source arrival time out of range" },
	{ sources_bad, s_ahead_big, "source arrival time out of range" },
	{ sources_bad, s_ahead_top, "source arrival time out of range" },
	{ sources_bad, s_len, "sources record length mismatch" },
	{ sources_bad, s_type, "unexpected record type" },
};

START_TEST(test_record_refused)
{
	ck_assert_str_eq(bad_records[_i].decode(bad_records[_i].spoil),
	    bad_records[_i].why);
}
END_TEST

START_TEST(test_header_bounds)
{
	struct handover_header h = header("exit"), d;
	uint8_t buf[256];
	const char *why = NULL;
	size_t n, used;

	n = handover_encode_header(buf, sizeof(buf), &h);
	put32le(buf + H_SOURCES, HANDOVER_MAX_SOURCES);	/* the most */
	ck_assert_int_eq(handover_decode_header(buf, n, &d, &used, &why),
	    HANDOVER_OK);
	ck_assert_uint_eq(d.nsources, HANDOVER_MAX_SOURCES);
	/* the encoder refuses what it cannot carry */
	h.nsources = HANDOVER_MAX_SOURCES + 1;
	ck_assert_uint_eq(handover_encode_header(buf, sizeof(buf), &h), 0);
	h = header("exit");
	h.exit_len = CONFIG_MAX_EXIT + 1;
	ck_assert_uint_eq(handover_encode_header(buf, sizeof(buf), &h), 0);
	h = header("exit");
	h.transform = 9;
	ck_assert_uint_eq(handover_encode_header(buf, sizeof(buf), &h), 0);
}
END_TEST

/* Decode a connection record after f() changed its bytes. */
static const char *
conn_bad(int k, void (*f)(uint8_t *))
{
	struct handover_header h = header("exit");
	struct handover_conn c = kind(k), d;
	const char *why = NULL;
	size_t n, used;
	uint8_t *b;

	b = enc_conn(&c, &n);
	f(b);
	ck_assert_int_eq(handover_decode_conn(b, n, &h, &d, &used, &why),
	    HANDOVER_BAD);
	free(b);
	ck_assert_ptr_nonnull(why);
	return why;
}

/* Offsets into a connection record (handover.c's layout). */
#define P	HANDOVER_FRAME
#define O_FLAGS		(P + 0)
#define O_XS		(P + 1)
#define O_CARRY		(P + 3)
#define O_PEER		(P + 31)
#define O_BAL		(P + 31 + 27)
#define O_OUTLEN	(P + 31 + 54)
#define O_HDRLEN	(P + 31 + 58)

static void m_flags(uint8_t *b) { b[O_FLAGS] |= 0x80; }
static void m_xs(uint8_t *b) { b[O_XS] = 7; }
static void m_xs_neg(uint8_t *b) { b[O_XS] = 0xfe; b[O_XS + 1] = 0xff; }
static void m_carry(uint8_t *b) { b[O_CARRY] = 4; }
static void m_carry_pad(uint8_t *b) { b[O_CARRY + 3] = 1; }
static void m_family(uint8_t *b) { b[O_PEER] = 5; }
static void m_v4_pad(uint8_t *b) { b[O_PEER + 10] = 1; }
static void m_unspec_pad(uint8_t *b) { b[O_BAL + 1] = 1; }
static void m_outlen(uint8_t *b) { b[O_OUTLEN]++; }
static void m_len(uint8_t *b) { b[1]--; }
static void m_header_out(uint8_t *b) { b[O_FLAGS] |= HANDOVER_C_EXIT; }
static void m_no_bal(uint8_t *b) { memset(b + O_BAL, 0, 27); }
static void m_bal(uint8_t *b) { b[O_FLAGS] &= (uint8_t)~HANDOVER_C_PROXIED; }
static void m_linger_out(uint8_t *b) { b[O_FLAGS] |= HANDOVER_C_LINGER; }
static void m_hdr_after(uint8_t *b) { b[O_FLAGS] &=
	(uint8_t)~HANDOVER_C_HEADER; }
static void m_type(uint8_t *b) { b[0] = HANDOVER_END; }

/* A kind of connection (kind()), what spoils its record, and why. */
static const struct {
	int		 kind;
	void		(*spoil)(uint8_t *);
	const char	*why;
} bad_conns[] = {
	{ 0, m_flags, "unknown connection flags" },
	{ 0, m_xs, "exit matcher state out of range" },
	{ 0, m_xs_neg, "exit matcher state out of range" },
	{ 0, m_carry, "UTF-8 carry too long" },
	{ 0, m_carry_pad, "UTF-8 carry padding not zero" },
	{ 0, m_family, "bad address" },
	{ 0, m_v4_pad, "bad address" },
	{ 0, m_unspec_pad, "bad address" },
	{ 3, m_outlen, "connection record length mismatch" },
	{ 3, m_len, "connection record length mismatch" },
	{ 5, m_header_out, "inconsistent PROXY header phase" },
	{ 6, m_no_bal, "proxied without a balancer" },
	{ 6, m_bal, "a balancer without PROXY" },
	{ 3, m_linger_out, "output queued after our FIN" },
	{ 5, m_hdr_after, "PROXY header bytes after the header" },
	{ 0, m_type, "unexpected record type" },
};

START_TEST(test_conn_refused)
{
	fill();
	ck_assert_str_eq(conn_bad(bad_conns[_i].kind, bad_conns[_i].spoil),
	    bad_conns[_i].why);
}
END_TEST

/* An exit matcher state is judged against the command in force. */
START_TEST(test_xs_bound)
{
	struct handover_header h = header("e");
	struct handover_conn c = kind(7), d;	/* xs 5: "exit\r" */
	const char *why = NULL;
	size_t n, used;
	uint8_t *b;

	b = enc_conn(&c, &n);
	ck_assert_int_eq(handover_decode_conn(b, n, &h, &d, &used, &why),
	    HANDOVER_BAD);
	h = header("exi");		/* "exi\r": 4 at most */
	ck_assert_int_eq(handover_decode_conn(b, n, &h, &d, &used, &why),
	    HANDOVER_BAD);
	h = header("exit");
	ck_assert_int_eq(handover_decode_conn(b, n, &h, &d, &used, &why),
	    HANDOVER_OK);
	free(b);
}
END_TEST

/* Oversize: a length past the bounds is refused from its frame alone,
 * before the bytes it announces. */
START_TEST(test_oversize)
{
	struct handover_header h = header("exit");
	struct handover_conn c = kind(0), d;
	uint8_t frame[HANDOVER_FRAME + 4];
	uint64_t len = (uint64_t)HANDOVER_MAX_OUT + PROXYPROTO_MAX + 200;
	const char *why = NULL;
	size_t used;

	frame[0] = HANDOVER_CONN;
	frame[1] = (uint8_t)len;
	frame[2] = (uint8_t)(len >> 8);
	frame[3] = (uint8_t)(len >> 16);
	frame[4] = (uint8_t)(len >> 24);
	ck_assert_int_eq(handover_decode_conn(frame, HANDOVER_FRAME, &h, &d,
	    &used, &why), HANDOVER_BAD);
	ck_assert_str_eq(why, "record length out of bounds");
	frame[1] = 3;			/* shorter than the fixed part */
	frame[2] = frame[3] = frame[4] = 0;
	ck_assert_int_eq(handover_decode_conn(frame, HANDOVER_FRAME, &h, &d,
	    &used, &why), HANDOVER_BAD);
	/* the encoder refuses what the format cannot carry */
	c.out_len = HANDOVER_MAX_OUT + 1u;
	c.out = outbytes;
	ck_assert_uint_eq(handover_encode_conn(NULL, 0, &c), 0);
	c = kind(5);
	c.hdr_len = PROXYPROTO_MAX + 1;
	ck_assert_uint_eq(handover_encode_conn(NULL, 0, &c), 0);
	c = kind(0);
	c.carry_len = 4;
	ck_assert_uint_eq(handover_encode_conn(NULL, 0, &c), 0);
	/* and an unknown record type */
	frame[0] = HANDOVER_TYPE_LAST + 1;
	{
		enum handover_type t;

		ck_assert_int_eq(handover_peek(frame, 1, &t, &why),
		    HANDOVER_BAD);
	}
}
END_TEST

/* Decode a record of type t into out (a struct of that type, the GO
 * flags, nothing for READY). */
static enum handover_result
decode_as(enum handover_type t, const uint8_t *b, size_t n, void *out,
    size_t *used, const char **why)
{
	switch (t) {
	case HANDOVER_LISTENER:
		return handover_decode_listener(b, n, out, used, why);
	case HANDOVER_BATCH:
		return handover_decode_batch(b, n, out, used, why);
	case HANDOVER_HELLO:
		return handover_decode_hello(b, n, out, used, why);
	case HANDOVER_REFUSE:
		return handover_decode_refuse(b, n, out, used, why);
	case HANDOVER_GO:
		return handover_decode_go(b, n, out, used, why);
	case HANDOVER_READY:
		return handover_decode_ready(b, n, used, why);
	default:
		ck_abort_msg("no decoder for type %d", (int)t);
		return HANDOVER_BAD;
	}
}

/* Each record of the transfer and of the conversation round-trips, and
 * every proper prefix of it asks for more. */
static void
round_trip_prefixes(const uint8_t *b, size_t n, enum handover_type t,
    void *out)
{
	const char *why = NULL;
	size_t cut, used = 0;

	for (cut = 0; cut < n; cut++)
		ck_assert_int_eq(decode_as(t, b, cut, out, &used, &why),
		    HANDOVER_MORE);
	ck_assert_int_eq(decode_as(t, b, n, out, &used, &why), HANDOVER_OK);
	ck_assert_uint_eq(used, n);
}

START_TEST(test_listener_round_trip)
{
	struct handover_listener l, d;
	uint8_t b[128];
	size_t n;
	const char *why = NULL;

	memset(&l, 0, sizeof(l));
	l.kind = HANDOVER_L_UDP;
	l.flags = HANDOVER_L_ACTIVATED;
	v6(&l.addr, "2001:db8::7", 8008, 3);
	n = handover_encode_listener(b, sizeof(b), &l);
	ck_assert_uint_gt(n, HANDOVER_FRAME);
	round_trip_prefixes(b, n, HANDOVER_LISTENER, &d);
	ck_assert_int_eq(d.kind, HANDOVER_L_UDP);
	ck_assert_int_eq(d.flags, HANDOVER_L_ACTIVATED);
	ck_assert_mem_eq(&d.addr, &l.addr, sizeof(struct sockaddr_in6));
	l.kind = HANDOVER_L_METRICS;
	l.flags = 0;
	v4(&l.addr, "127.0.0.1", 9100);
	n = handover_encode_listener(b, sizeof(b), &l);
	round_trip_prefixes(b, n, HANDOVER_LISTENER, &d);
	ck_assert_int_eq(d.kind, HANDOVER_L_METRICS);
	ck_assert_mem_eq(&d.addr, &l.addr, sizeof(struct sockaddr_in));
	/* refused: unknown kind, unknown flag, no address */
	b[HANDOVER_FRAME] = 4;
	ck_assert_int_eq(handover_decode_listener(b, n, &d, &n, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "unknown listener kind");
	n = handover_encode_listener(b, sizeof(b), &l);
	b[HANDOVER_FRAME + 1] = 2;
	ck_assert_int_eq(handover_decode_listener(b, n, &d, &n, &why),
	    HANDOVER_BAD);
	memset(&l.addr, 0, sizeof(l.addr));
	ck_assert_uint_eq(handover_encode_listener(b, sizeof(b), &l), 0);
	n = HANDOVER_FRAME + 2 + 27;
	memset(b + HANDOVER_FRAME, 0, n - HANDOVER_FRAME);
	b[0] = HANDOVER_LISTENER;
	b[1] = (uint8_t)(n - HANDOVER_FRAME);
	b[2] = b[3] = b[4] = 0;
	b[HANDOVER_FRAME] = HANDOVER_L_TCP;
	ck_assert_int_eq(handover_decode_listener(b, n, &d, &n, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "bad listener address");
}
END_TEST

START_TEST(test_batch_round_trip)
{
	struct handover_batch bt = { 253, 1000 }, d;
	uint8_t b[32];
	size_t n, used;
	const char *why = NULL;

	n = handover_encode_batch(b, sizeof(b), &bt);
	round_trip_prefixes(b, n, HANDOVER_BATCH, &d);
	ck_assert_uint_eq(d.nfds, 253);
	ck_assert_uint_eq(d.len, 1000);
	bt.nfds = 254;
	ck_assert_uint_eq(handover_encode_batch(b, sizeof(b), &bt), 0);
	bt.nfds = 0;
	bt.len = 0;
	ck_assert_uint_eq(handover_encode_batch(b, sizeof(b), &bt), 0);
	b[HANDOVER_FRAME] = 254;
	ck_assert_int_eq(handover_decode_batch(b, n, &d, &used, &why),
	    HANDOVER_BAD);
	ck_assert_str_eq(why, "batch size out of bounds");
}
END_TEST

START_TEST(test_control_round_trip)
{
	struct handover_hello h, hd;
	struct handover_refuse r, rd;
	uint8_t b[HANDOVER_FRAME + 16 + HANDOVER_MAX_RELEASE +
	    HANDOVER_MAX_TEXT], flags = 0;
	size_t n, used;
	const char *why = NULL;

	memset(&h, 0, sizeof(h));
	h.version = 77;			/* any version is read */
	snprintf(h.release, sizeof(h.release), "0.2.0");
	n = handover_encode_hello(b, sizeof(b), &h);
	round_trip_prefixes(b, n, HANDOVER_HELLO, &hd);
	ck_assert_uint_eq(hd.version, 77);
	ck_assert_str_eq(hd.release, "0.2.0");
	ck_assert_str_eq(hd.config_error, "");
	snprintf(h.config_error, sizeof(h.config_error),
	    "upcased.conf:3: unknown setting\nupcased.conf:4: bad port");
	n = handover_encode_hello(b, sizeof(b), &h);
	round_trip_prefixes(b, n, HANDOVER_HELLO, &hd);
	ck_assert_str_eq(hd.config_error, h.config_error);
	/* a control byte in a text is refused, both ways */
	b[n - 1] = 0x01;
	ck_assert_int_eq(handover_decode_hello(b, n, &hd, &used, &why),
	    HANDOVER_BAD);
	h.release[0] = 0x1b;
	ck_assert_uint_eq(handover_encode_hello(b, sizeof(b), &h), 0);

	memset(&r, 0, sizeof(r));
	r.what = HANDOVER_R_EXEC;
	r.code = 2;
	n = handover_encode_refuse(b, sizeof(b), &r);
	round_trip_prefixes(b, n, HANDOVER_REFUSE, &rd);
	ck_assert_int_eq(rd.what, HANDOVER_R_EXEC);
	ck_assert_uint_eq(rd.code, 2);
	r.what = HANDOVER_R_STATE;
	snprintf(r.why, sizeof(r.why), "bad exit command");
	n = handover_encode_refuse(b, sizeof(b), &r);
	round_trip_prefixes(b, n, HANDOVER_REFUSE, &rd);
	ck_assert_str_eq(rd.why, "bad exit command");
	b[HANDOVER_FRAME] = 0;
	ck_assert_int_eq(handover_decode_refuse(b, n, &rd, &used, &why),
	    HANDOVER_BAD);
	r.what = 9;
	ck_assert_uint_eq(handover_encode_refuse(b, sizeof(b), &r), 0);

	n = handover_encode_go(b, sizeof(b), HANDOVER_GO_RELOAD);
	round_trip_prefixes(b, n, HANDOVER_GO, &flags);
	ck_assert_int_eq(flags, HANDOVER_GO_RELOAD);
	b[HANDOVER_FRAME] = 0x80;
	ck_assert_int_eq(handover_decode_go(b, n, &flags, &used, &why),
	    HANDOVER_BAD);
	ck_assert_uint_eq(handover_encode_go(b, sizeof(b), 0x80), 0);

	n = handover_encode_ready(b, sizeof(b));
	round_trip_prefixes(b, n, HANDOVER_READY, NULL);
	b[1] = 1;			/* READY has no payload */
	ck_assert_int_eq(handover_decode_ready(b, n + 1, &used, &why),
	    HANDOVER_BAD);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_header_round_trip);
	tcase_add_test(tc, test_counters_round_trip);
	tcase_add_loop_test(tc, test_conn_round_trip, 0, NKINDS);
	tcase_add_test(tc, test_every_cut);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_other_version);
	tcase_add_test(tc, test_header_bounds);
	tcase_add_test(tc, test_sources_round_trip);
	tcase_add_test(tc, test_sources_bounds);
	tcase_add_loop_test(tc, test_record_refused, 0,
	    (int)(sizeof(bad_records) / sizeof(bad_records[0])));
	tcase_add_loop_test(tc, test_conn_refused, 0,
	    (int)(sizeof(bad_conns) / sizeof(bad_conns[0])));
	tcase_add_test(tc, test_xs_bound);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_listener_round_trip);
	tcase_add_test(tc, test_batch_round_trip);
	tcase_add_test(tc, test_control_round_trip);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
