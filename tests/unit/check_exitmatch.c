/*
 * check_exitmatch.c - the exit-line matcher against a plain model, with
 * the input cut at every split point and at random.
 *
 * The model reads the whole stream as lines: the output is everything
 * before the first line equal to the command (with or without '\r'), or
 * everything if there is none.  The matcher must produce exactly that
 * whatever the chunking.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exitmatch.h"
#include "unit.h"

struct result {
	uint8_t		 out[4096];
	size_t		 len;
	bool		 matched;
};

static void
model(const char *cmd, const uint8_t *in, size_t n, struct result *r)
{
	size_t clen = strlen(cmd), start = 0, i, ll;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < n; i++) {
		if (in[i] != '\n')
			continue;
		ll = i - start;
		if (clen > 0 && ll > 0 && in[i - 1] == '\r')
			ll--;
		if (clen > 0 && ll == clen &&
		    memcmp(in + start, cmd, clen) == 0 &&
		    (i - start == clen || in[i - 1] == '\r')) {
			memcpy(r->out, in, start);
			r->len = start;
			r->matched = true;
			return;
		}
		start = i + 1;
	}
	memcpy(r->out, in, n);
	r->len = n;
}

/* Feed in at the cut points cuts[0..ncuts) (ascending). */
static void
run(const char *cmd, const uint8_t *in, size_t n, const size_t *cuts,
    size_t ncuts, struct result *r)
{
	struct exitcmd c;
	struct exitmatch_step st;
	exitmatch_state s = EXITMATCH_START;
	size_t from = 0, to, k, rel;

	memset(r, 0, sizeof(*r));
	exitcmd_init(&c, cmd);
	for (k = 0; k <= ncuts; k++) {
		to = k < ncuts ? cuts[k] : n;
		st = exitmatch_feed(&c, &s, in + from, to - from);
		ck_assert_uint_le(st.replay, strlen(cmd) + 1);
		ck_assert_uint_le(st.emit, to - from);
		memcpy(r->out + r->len, c.text, st.replay);
		r->len += st.replay;
		memcpy(r->out + r->len, in + from, st.emit);
		r->len += st.emit;
		if (st.matched) {
			r->matched = true;
			return;
		}
		from = to;
	}
	rel = exitmatch_release(&s);
	memcpy(r->out + r->len, c.text, rel);
	r->len += rel;
}

static void
check_all_splits(const char *cmd, const char *text)
{
	const uint8_t *in = (const uint8_t *)text;
	size_t n = strlen(text), a, b, cuts[2];
	struct result want, got;

	model(cmd, in, n, &want);
	run(cmd, in, n, NULL, 0, &got);
	ck_assert_int_eq(got.matched, want.matched);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_mem_eq(got.out, want.out, want.len);
	for (a = 0; a <= n; a++) {
		for (b = a; b <= n; b++) {
			cuts[0] = a;
			cuts[1] = b;
			run(cmd, in, n, cuts, 2, &got);
			ck_assert_msg(got.matched == want.matched &&
			    got.len == want.len &&
			    memcmp(got.out, want.out, want.len) == 0,
			    "cmd '%s' text '%s' cut at %zu,%zu", cmd, text, a,
			    b);
		}
	}
}

START_TEST(test_model_sanity)
{
	struct result r;

	/* The model itself, on cases worked out by hand. */
	model("exit", (const uint8_t *)"ab\nexit\ncd", 10, &r);
	ck_assert(r.matched);
	ck_assert_uint_eq(r.len, 3);
	model("exit", (const uint8_t *)"exit\r\n", 6, &r);
	ck_assert(r.matched);
	ck_assert_uint_eq(r.len, 0);
	model("exit", (const uint8_t *)"exited\nexit", 11, &r);
	ck_assert(!r.matched);
	ck_assert_uint_eq(r.len, 11);
}
END_TEST

START_TEST(test_plain_match)
{
	struct exitcmd c;
	exitmatch_state s = EXITMATCH_START;
	struct exitmatch_step st;

	exitcmd_init(&c, "exit");
	st = exitmatch_feed(&c, &s, (const uint8_t *)"hello\nexit\nmore", 15);
	ck_assert(st.matched);
	ck_assert_uint_eq(st.replay, 0);
	ck_assert_uint_eq(st.emit, 6);
}
END_TEST

START_TEST(test_split_word)
{
	struct exitcmd c;
	exitmatch_state s = EXITMATCH_START;
	struct exitmatch_step st;

	exitcmd_init(&c, "exit");
	st = exitmatch_feed(&c, &s, (const uint8_t *)"ex", 2);
	ck_assert(!st.matched);
	ck_assert_uint_eq(st.emit, 0);		/* held */
	st = exitmatch_feed(&c, &s, (const uint8_t *)"it\r", 3);
	ck_assert(!st.matched);
	ck_assert_uint_eq(st.emit, 0);
	st = exitmatch_feed(&c, &s, (const uint8_t *)"\n", 1);
	ck_assert(st.matched);
	ck_assert_uint_eq(st.emit, 0);
}
END_TEST

START_TEST(test_split_not_a_match)
{
	struct exitcmd c;
	exitmatch_state s = EXITMATCH_START;
	struct exitmatch_step st;

	exitcmd_init(&c, "exit");
	st = exitmatch_feed(&c, &s, (const uint8_t *)"exi", 3);
	ck_assert_uint_eq(st.emit, 0);
	st = exitmatch_feed(&c, &s, (const uint8_t *)"ted\n", 4);
	ck_assert(!st.matched);
	ck_assert_uint_eq(st.replay, 3);	/* "exi" from the text */
	ck_assert_uint_eq(st.emit, 4);
}
END_TEST

START_TEST(test_disabled)
{
	struct exitcmd c;
	exitmatch_state s = EXITMATCH_START;
	struct exitmatch_step st;

	exitcmd_init(&c, "");
	st = exitmatch_feed(&c, &s, (const uint8_t *)"\n\nexit\n", 7);
	ck_assert(!st.matched);
	ck_assert_uint_eq(st.emit, 7);
	ck_assert_uint_eq(exitmatch_release(&s), 0);
}
END_TEST

/* A command enabled (by reload) in the middle of a line does not take
 * the rest of that line for the start of one. */
START_TEST(test_enabled_mid_line)
{
	struct exitcmd off, on;
	exitmatch_state s = EXITMATCH_START;
	struct exitmatch_step st;

	exitcmd_init(&off, "");
	exitcmd_init(&on, "exit");
	st = exitmatch_feed(&off, &s, (const uint8_t *)"x\nabc", 5);
	ck_assert_uint_eq(st.emit, 5);
	st = exitmatch_feed(&on, &s, (const uint8_t *)"exit\n", 5);
	ck_assert(!st.matched);			/* the line is "abcexit" */
	ck_assert_uint_eq(st.emit, 5);
	st = exitmatch_feed(&on, &s, (const uint8_t *)"exit\n", 5);
	ck_assert(st.matched);			/* a line of its own */
	/* ... and a chunk that ended a line leaves the next one fresh */
	s = EXITMATCH_MIDLINE;
	(void)exitmatch_feed(&off, &s, (const uint8_t *)"abc\n", 4);
	st = exitmatch_feed(&on, &s, (const uint8_t *)"exit\n", 5);
	ck_assert(st.matched);
}
END_TEST

START_TEST(test_every_split)
{
	static const char *const texts[] = {
		"exit\n", "exit\r\n", "hello\nexit\n", "hello\r\nexit\r\nafter",
		"exited\nexit", "exi\nexit\r\r\nexit\n", "\n\nexit\n",
		"xexit\nexit\n", "exit", "exit\r", "eexit\nexit\r\n",
		"abc\nex\nexi\nexit \nexit\n", "EXIT\nexit\n", "\r\nexit\r\n",
		"exitexit\nexit\n",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		check_all_splits("exit", texts[i]);
		check_all_splits("quit", texts[i]);
		check_all_splits("e", texts[i]);
		check_all_splits("", texts[i]);
	}
	check_all_splits("a b", "a\na b\n");
	check_all_splits("aab", "aaab\naab\n");
}
END_TEST

START_TEST(test_random_streams)
{
	static const char alpha[] = "exit\r\nqx";
	uint8_t in[600];
	size_t cuts[40], n, k, i, nc;
	struct result want, got;
	uint32_t r = 99;
	int round;

	for (round = 0; round < 3000; round++) {
		r = r * 1103515245u + 12345u;
		n = (r >> 16) % sizeof(in);
		for (i = 0; i < n; i++) {
			r = r * 1103515245u + 12345u;
			in[i] = (uint8_t)alpha[(r >> 16) % 8];
		}
		r = r * 1103515245u + 12345u;
		nc = n > 0 ? (r >> 16) % 40 : 0;
		for (k = 0; k < nc; k++) {
			r = r * 1103515245u + 12345u;
			cuts[k] = (r >> 16) % (n + 1);
		}
		/* Sort the cuts (insertion sort, tiny). */
		for (k = 1; k < nc; k++)
			for (i = k; i > 0 && cuts[i - 1] > cuts[i]; i--) {
				size_t t = cuts[i];
				cuts[i] = cuts[i - 1];
				cuts[i - 1] = t;
			}
		model("exit", in, n, &want);
		run("exit", in, n, cuts, nc, &got);
		ck_assert_int_eq(got.matched, want.matched);
		ck_assert_uint_eq(got.len, want.len);
		ck_assert_mem_eq(got.out, want.out, want.len);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("exitmatch");
	TCase *tc = tcase_create("exitmatch");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_model_sanity);
	tcase_add_test(tc, test_plain_match);
	tcase_add_test(tc, test_split_word);
	tcase_add_test(tc, test_split_not_a_match);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_enabled_mid_line);
	tcase_add_test(tc, test_every_split);
	tcase_add_test(tc, test_random_streams);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
