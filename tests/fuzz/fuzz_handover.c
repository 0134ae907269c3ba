/*
 * fuzz_handover.c - the decoder of the upgrade's hand-over state
 * (handover.c) on any bytes, as the new process reads them from the old.
 *
 * The input is decoded as a state: a header, the counters, the SOURCES
 * records its count announces, then any of the other records (LISTENER,
 * BATCH, CONN, the control records) up to an END, each record judged by
 * the decoder of the type the stream expects there.  Each record's bytes are first copied into a heap
 * buffer of exactly their size, so ASan catches a read past them.
 *   - An answer is OK, MORE or BAD; BAD comes with a non-empty,
 *     printable reason of at most 60 bytes, OK with 5 <= used <= len.
 *   - Every record decoded OK re-encodes to exactly its bytes: the
 *     encoding is canonical, so nothing is dropped, invented or read
 *     from padding.  A decoded connection obeys the bounds of the
 *     format (carry, matcher state under the header's command, sizes,
 *     flags) and its out and hdr point inside the record.
 *   - Every proper prefix of a record decoded OK is MORE: a valid state
 *     cut anywhere is never refused nor taken early.
 *   - A decoded snapshot has conns_open and pending_out 0.
 *   - A SOURCES record holds exactly the sources still due (at most a
 *     record's worth), each of a known family with an arrival time
 *     within a bucket; no more of them than the header announced.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "proxyproto.h"
#include "fuzz.h"

enum stage { ST_HEADER, ST_COUNTERS, ST_SOURCES, ST_CONNS };

struct decoded {
	struct handover_header	 h;
	struct stats_snapshot	 s;
	struct handover_conn	 c;
	struct handover_listener l;
	struct handover_batch	 b;
	struct handover_hello	 hello;
	struct handover_refuse	 refuse;
	uint8_t			 go;
	enum handover_type	 t;
	size_t			 nsrc;
	struct handover_source	 src[HANDOVER_SOURCES_PER_RECORD];
};

static uint32_t left;		/* sources still due in this input */

static enum handover_result
decode_one(const uint8_t *b, size_t len, enum stage st,
    const struct handover_header *h, struct decoded *d, size_t *used,
    const char **why)
{
	enum handover_result r;

	switch (st) {
	case ST_HEADER:
		d->t = HANDOVER_HEADER;
		return handover_decode_header(b, len, &d->h, used, why);
	case ST_COUNTERS:
		d->t = HANDOVER_COUNTERS;
		return handover_decode_counters(b, len, &d->s, used, why);
	case ST_SOURCES:
		d->t = HANDOVER_SOURCES;
		return handover_decode_sources(b, len, left, d->src, &d->nsrc,
		    used, why);
	default:
		if ((r = handover_peek(b, len, &d->t, why)) != HANDOVER_OK)
			return r;
		switch (d->t) {
		case HANDOVER_END:
			return handover_decode_end(b, len, used, why);
		case HANDOVER_LISTENER:
			return handover_decode_listener(b, len, &d->l, used,
			    why);
		case HANDOVER_BATCH:
			return handover_decode_batch(b, len, &d->b, used, why);
		case HANDOVER_HELLO:
			return handover_decode_hello(b, len, &d->hello, used,
			    why);
		case HANDOVER_READY:
			return handover_decode_ready(b, len, used, why);
		case HANDOVER_REFUSE:
			return handover_decode_refuse(b, len, &d->refuse, used,
			    why);
		case HANDOVER_GO:
			return handover_decode_go(b, len, &d->go, used, why);
		case HANDOVER_HEADER:
		case HANDOVER_COUNTERS:
		case HANDOVER_SOURCES:
			*why = "unexpected record type";
			return HANDOVER_BAD;
		default:
			return handover_decode_conn(b, len, h, &d->c, used,
			    why);
		}
	}
}

static void
check_why(const char *why)
{
	size_t i, n;

	CHECK(why != NULL, "no reason");
	n = strlen(why);
	CHECK(n > 0 && n <= 60, "reason of %zu bytes", n);
	for (i = 0; i < n; i++)
		CHECK(why[i] >= 0x20 && why[i] < 0x7f, "unprintable reason");
}

/* Re-encode what was decoded from b[0..n): the same bytes. */
static void
check_canonical(const uint8_t *b, size_t n, const struct decoded *d,
    const struct handover_header *h)
{
	uint8_t *e = malloc(n);
	size_t m = 0, i;

	CHECK(e != NULL, "malloc");
	switch (d->t) {
	case HANDOVER_HEADER:
		CHECK(d->h.version == HANDOVER_VERSION, "version");
		CHECK(d->h.exit_len <= CONFIG_MAX_EXIT, "exit_len");
		CHECK(strlen(d->h.exit_text) == d->h.exit_len, "exit text");
		m = handover_encode_header(e, n, &d->h);
		break;
	case HANDOVER_COUNTERS:
		CHECK(d->s.conns_open == 0 && d->s.pending_out == 0,
		    "gauges not reset");
		m = handover_encode_counters(e, n, &d->s);
		break;
	case HANDOVER_CONN:
		CHECK(d->c.carry_len <= 3, "carry");
		CHECK(d->c.xs >= -1 && d->c.xs <= h->exit_len + 1, "xs");
		CHECK(d->c.hdr_len <= PROXYPROTO_MAX, "hdr_len");
		CHECK(d->c.out_len <= HANDOVER_MAX_OUT, "out_len");
		CHECK((d->c.flags & ~HANDOVER_C_ALL) == 0, "flags");
		CHECK(d->c.out_len == 0 || (d->c.out > b &&
		    d->c.out + d->c.out_len <= b + n), "out outside");
		CHECK(d->c.hdr_len == 0 || (d->c.hdr > b &&
		    d->c.hdr + d->c.hdr_len <= b + n), "hdr outside");
		m = handover_encode_conn(e, n, &d->c);
		break;
	case HANDOVER_SOURCES:
		CHECK(d->nsrc >= 1 && d->nsrc <= left &&
		    d->nsrc <= HANDOVER_SOURCES_PER_RECORD, "%zu sources of %u",
		    d->nsrc, left);
		CHECK(d->nsrc == HANDOVER_SOURCES_PER_RECORD || d->nsrc == left,
		    "a short record before the last");
		for (i = 0; i < d->nsrc; i++) {
			CHECK(d->src[i].family == AF_INET ||
			    d->src[i].family == AF_INET6, "source family");
			CHECK(d->src[i].ahead_us >= 1 && d->src[i].ahead_us <=
			    HANDOVER_MAX_AHEAD_US, "arrival time");
		}
		m = handover_encode_sources(e, n, d->src, d->nsrc);
		break;
	case HANDOVER_END:
		m = handover_encode_end(e, n);
		break;
	case HANDOVER_LISTENER:
		m = handover_encode_listener(e, n, &d->l);
		break;
	case HANDOVER_BATCH:
		m = handover_encode_batch(e, n, &d->b);
		break;
	case HANDOVER_HELLO:
		m = handover_encode_hello(e, n, &d->hello);
		break;
	case HANDOVER_READY:
		m = handover_encode_ready(e, n);
		break;
	case HANDOVER_REFUSE:
		m = handover_encode_refuse(e, n, &d->refuse);
		break;
	case HANDOVER_GO:
		m = handover_encode_go(e, n, d->go);
		break;
	}
	CHECK(m == n, "re-encoded to %zu bytes, not %zu", m, n);
	CHECK(memcmp(e, b, n) == 0, "re-encoded to other bytes");
	free(e);
}

/* Every proper prefix of a record decoded OK asks for more. */
static void
check_prefixes(const uint8_t *b, size_t n, enum stage st,
    const struct handover_header *h)
{
	static struct decoded d;
	const char *why = NULL;
	size_t cut, used, step = n > 300 ? n / 97 + 1 : 1;
	uint8_t *p;

	for (cut = 0; cut < n; cut += (cut < 200 ? 1 : step)) {
		p = malloc(cut > 0 ? cut : 1);
		CHECK(p != NULL, "malloc");
		memcpy(p, b, cut);
		CHECK(decode_one(p, cut, st, h, &d, &used, &why) ==
		    HANDOVER_MORE, "prefix of %zu of a %zu-byte record: %s",
		    cut, n, why != NULL ? why : "OK");
		free(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handover_header h;
	static struct decoded d;	/* 24 KiB of sources: not on the stack */
	enum handover_result r;
	enum stage st = ST_HEADER;
	const char *why;
	size_t off = 0, used, len;
	uint8_t *b;

	memset(&h, 0, sizeof(h));
	left = 0;
	while (off < size) {
		len = size - off;
		b = malloc(len);
		CHECK(b != NULL, "malloc");
		memcpy(b, data + off, len);
		why = NULL;
		used = 0;
		memset(&d, 0, sizeof(d));
		r = decode_one(b, len, st, &h, &d, &used, &why);
		if (r == HANDOVER_BAD)
			check_why(why);
		if (r != HANDOVER_OK) {
			free(b);
			break;
		}
		CHECK(used >= HANDOVER_FRAME && used <= len, "used %zu of %zu",
		    used, len);
		/* again on exactly its bytes */
		free(b);
		b = malloc(used);
		CHECK(b != NULL, "malloc");
		memcpy(b, data + off, used);
		CHECK(decode_one(b, used, st, &h, &d, &used, &why) ==
		    HANDOVER_OK, "not OK on its own bytes");
		check_canonical(b, used, &d, &h);
		check_prefixes(b, used, st, &h);
		free(b);
		if (st == ST_HEADER) {
			h = d.h;
			CHECK(h.nsources <= HANDOVER_MAX_SOURCES, "nsources");
		}
		off += used;
		if (d.t == HANDOVER_END)
			break;
		if (st == ST_HEADER)
			st = ST_COUNTERS;
		else if (st == ST_COUNTERS) {
			left = h.nsources;
			st = left > 0 ? ST_SOURCES : ST_CONNS;
		} else if (st == ST_SOURCES) {
			left -= (uint32_t)d.nsrc;
			st = left > 0 ? ST_SOURCES : ST_CONNS;
		} else
			st = ST_CONNS;
	}
	return 0;
}
