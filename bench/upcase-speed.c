/*
 * upcase-speed.c - the transforms alone, in GB/s, beside memcpy().
 *
 * For each buffer size (64 B, 4 KiB, 1 MiB) and each input (ASCII text,
 * mixed UTF-8 text, random bytes), runs each function over the buffer
 * for a fixed time and reports the best of several rounds as one JSON
 * line, so scripts can compare runs.  Speed is never asserted here or in
 * the tests: this program only measures.
 *
 * usage: upcase-speed [-t SECONDS_PER_ROUND] [-r ROUNDS]
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upcase.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep the compiler from dropping work whose result is unused. */
static volatile uint8_t sink;

enum fn { FN_MEMCPY, FN_ASCII, FN_UNICODE, FN_UNICODE_INPLACE,
    FN_UNICODE_NOGROW, FN_N };
static const char *const fn_names[] = { "memcpy", "ascii", "unicode",
    "unicode_inplace", "unicode_nogrow" };

static void
run(enum fn f, uint8_t *dst, const uint8_t *src, uint8_t *tmp, size_t n)
{
	struct upcase_carry cy = { 0, { 0 } };
	size_t len;

	switch (f) {
	case FN_MEMCPY:
		memcpy(dst, src, n);
		break;
	case FN_ASCII:
		upcase_ascii(dst, src, n);
		break;
	case FN_UNICODE:
		(void)upcase_utf8(dst, src, n, &cy);
		break;
	case FN_UNICODE_INPLACE:		/* as a TCP worker does */
		dst = (uint8_t *)(uintptr_t)upcase_utf8_inplace(dst, tmp, n,
		    &cy, &len);
		n = len;
		break;
	case FN_UNICODE_NOGROW:
		memcpy(tmp, src, n);		/* it works in place */
		(void)upcase_utf8_nogrow(tmp, n);
		dst = tmp;
		break;
	default:
		break;
	}
	sink = dst[n - 1];
}

/* Best GB/s over rounds of secs each. */
static double
measure(enum fn f, uint8_t *dst, const uint8_t *src, uint8_t *tmp,
    size_t n, double secs, int rounds)
{
	double best = 0, t0, t, gbs;
	uint64_t iters;
	int r;

	/* In place: tmp holds the input (uppercased after the first run,
	 * which leaves the work per run the same). */
	if (f == FN_UNICODE_INPLACE)
		memcpy(tmp, src, n);
	for (r = 0; r < rounds; r++) {
		iters = 0;
		t0 = now();
		do {
			for (int k = 0; k < 64; k++)
				run(f, dst, src, tmp, n);
			iters += 64;
			t = now() - t0;
		} while (t < secs);
		gbs = (double)iters * (double)n / t / 1e9;
		if (gbs > best)
			best = gbs;
	}
	return best;
}

static void
fill(uint8_t *buf, size_t n, const char *kind)
{
	static const char *const mixed[] = { "Straße ", "café ", "ΣΊΣΥΦΟΣ ",
	    "σίσυφος ", "Ünïcödé ", "hello ", "мир ", "日本語 ", "ǅ ",
	    "ɐ ", "😀 " };
	uint32_t r = 12345;
	size_t i = 0, k, len;

	if (strcmp(kind, "random") == 0) {
		for (i = 0; i < n; i++) {
			r = r * 1103515245u + 12345u;
			buf[i] = (uint8_t)(r >> 16);
		}
		return;
	}
	if (strcmp(kind, "ascii") == 0) {
		static const char text[] = "The quick brown fox jumps over "
		    "the lazy dog, 0123456789 times.\n";
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)text[i % (sizeof(text) - 1)];
		return;
	}
	while (i < n) {				/* mixed UTF-8 text */
		r = r * 1103515245u + 12345u;
		k = (r >> 16) % (sizeof(mixed) / sizeof(mixed[0]));
		len = strlen(mixed[k]);
		if (i + len > n)
			len = n - i;
		memcpy(buf + i, mixed[k], len);
		i += len;
	}
}

int
main(int argc, char *argv[])
{
	static const size_t sizes[] = { 64, 4096, 1 << 20 };
	static const char *const inputs[] = { "ascii", "mixed", "random" };
	double secs = 0.2, gbs, ref;
	int rounds = 3, ch;
	size_t s, i;
	uint8_t *src, *dst, *tmp;
	enum fn f;

	while ((ch = getopt(argc, argv, "t:r:")) != -1) {
		switch (ch) {
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: upcase-speed [-t SECONDS] "
			    "[-r ROUNDS]\n");
			return 64;
		}
	}
	src = malloc(1 << 20);
	dst = malloc(UPCASE_UTF8_MAX(1 << 20));
	tmp = malloc(1 << 20);
	if (src == NULL || dst == NULL || tmp == NULL)
		return 71;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			fill(src, sizes[s], inputs[i]);
			ref = measure(FN_MEMCPY, dst, src, tmp, sizes[s], secs,
			    rounds);
			for (f = FN_MEMCPY; f < FN_N; f++) {
				gbs = f == FN_MEMCPY ? ref : measure(f, dst,
				    src, tmp, sizes[s], secs, rounds);
				printf("{\"input\":\"%s\",\"size\":%zu,"
				    "\"function\":\"%s\",\"gb_per_s\":%.3f,"
				    "\"vs_memcpy\":%.3f}\n", inputs[i],
				    sizes[s], fn_names[f], gbs, gbs / ref);
			}
		}
	}
	free(src);
	free(dst);
	free(tmp);
	return 0;
}
