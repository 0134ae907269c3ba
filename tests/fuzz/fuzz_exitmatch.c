/*
 * fuzz_exitmatch.c - the exit-line matcher with any command the
 * configuration accepts, on any stream, cut anywhere.
 *
 * Input: byte 0 sets the command length (0..63) and byte 1 seeds the
 * cuts; then the command (bytes below 0x20 and 0x7f, which config.c
 * refuses, are mapped to printable ones), then the stream.  The stream is
 * fed whole, byte by byte (short streams) and in random pieces (empty
 * ones too); each time the bytes emitted (replayed from the command text,
 * then taken from the input) must be exactly what the line model of
 * tests/unit/check_exitmatch.c gives: everything before the first line
 * equal to the command (with an optional '\r'), or everything.  A step
 * never replays more than the command and its '\r', never emits more than
 * it was given, and the state stays within -1..len+1.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitmatch.h"
#include "fuzz.h"

/* Bytes before the command line, or n; the rule of check_exitmatch.c. */
static size_t
model(const char *cmd, const uint8_t *in, size_t n, bool *matched)
{
	size_t clen = strlen(cmd), start = 0, i, ll;

	*matched = false;
	for (i = 0; i < n; i++) {
		if (in[i] != '\n')
			continue;
		ll = i - start;
		if (clen > 0 && ll > 0 && in[i - 1] == '\r')
			ll--;
		if (clen > 0 && ll == clen &&
		    memcmp(in + start, cmd, clen) == 0 &&
		    (i - start == clen || in[i - 1] == '\r')) {
			*matched = true;
			return start;
		}
		start = i + 1;
	}
	return n;
}

/* Feed in cut at cuts[0..ncuts) (ascending); the emitted bytes to out. */
static size_t
run(const struct exitcmd *c, const uint8_t *in, size_t n,
    const size_t *cuts, size_t ncuts, uint8_t *out, bool *matched)
{
	struct exitmatch_step st;
	exitmatch_state s = EXITMATCH_START;
	size_t from = 0, to, k, o = 0, rel;

	*matched = false;
	for (k = 0; k <= ncuts; k++) {
		to = k < ncuts ? cuts[k] : n;
		st = exitmatch_feed(c, &s, in + from, to - from);
		CHECK(st.replay <= (size_t)c->len + 1u, "replay %zu, len %u",
		    st.replay, c->len);
		CHECK(st.emit <= to - from, "emit %zu of %zu", st.emit,
		    to - from);
		CHECK(s >= EXITMATCH_MIDLINE && s <= c->len + 1,
		    "state %d, len %u", s, c->len);
		memcpy(out + o, c->text, st.replay);
		o += st.replay;
		memcpy(out + o, in + from, st.emit);
		o += st.emit;
		if (st.matched) {
			*matched = true;
			return o;
		}
		from = to;
	}
	rel = exitmatch_release(&s);
	CHECK(rel <= (size_t)c->len + 1u && s == EXITMATCH_MIDLINE,
	    "release %zu, state %d", rel, s);
	memcpy(out + o, c->text, rel);
	return o + rel;
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
compare(const char *how, const uint8_t *got, size_t gotlen, bool gm,
    const uint8_t *in, size_t wantlen, bool wm, const char *cmd)
{
	CHECK(gm == wm && gotlen == wantlen && memcmp(got, in, wantlen) == 0,
	    "%s: command \"%s\" (%zu bytes): got %zu bytes%s, want %zu%s",
	    how, cmd, strlen(cmd), gotlen, gm ? " and a match" : "",
	    wantlen, wm ? " and a match" : "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[CONFIG_MAX_EXIT + 1];
	struct exitcmd c;
	uint8_t *in, *out;
	size_t clen, n, i, ncuts, *cuts, wantlen, len;
	uint32_t seed;
	bool wm, gm;

	if (size < 2)
		return -1;
	clen = data[0] % (CONFIG_MAX_EXIT + 1);
	seed = 0x2545f491u ^ (uint32_t)data[1] << 8 ^ (uint32_t)data[0];
	data += 2;
	size -= 2;
	if (clen > size)
		clen = size;
	for (i = 0; i < clen; i++) {
		uint8_t b = data[i];

		/* What parse_exit_command() lets through. */
		cmd[i] = (char)(b < 0x20 ? b | 0x40 : b == 0x7f ? 0x7e : b);
	}
	cmd[clen] = '\0';
	exitcmd_init(&c, cmd);
	CHECK(c.len == clen && c.text[clen] == '\r', "exitcmd_init");
	data += clen;
	n = size - clen;

	in = malloc(n);
	out = malloc(n + CONFIG_MAX_EXIT + 2);
	cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(in != NULL && out != NULL && cuts != NULL, "malloc");
	memcpy(in, data, n);

	wantlen = model(cmd, in, n, &wm);
	len = run(&c, in, n, NULL, 0, out, &gm);
	compare("whole", out, len, gm, in, wantlen, wm, cmd);
	if (n <= 512) {
		for (i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		len = run(&c, in, n, cuts, n > 0 ? n - 1 : 0, out, &gm);
		compare("byte by byte", out, len, gm, in, wantlen, wm, cmd);
	}
	for (ncuts = 0, i = 0; i < n && ncuts < n; ncuts++) {
		i += rnd(&seed) % (2 * clen + 4);	/* 0: empty piece */
		cuts[ncuts] = i < n ? i : n;
	}
	len = run(&c, in, n, cuts, ncuts, out, &gm);
	compare("random cuts", out, len, gm, in, wantlen, wm, cmd);

	free(in);
	free(out);
	free(cuts);
	return 0;
}
