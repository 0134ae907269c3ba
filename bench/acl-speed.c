/*
 * acl-speed.c - access list lookups in ns, and builds in ms, by rule count.
 *
 * For 0, 10, 1,000, 10,000 and 50,000 random rules (a blocklist's mix:
 * IPv4 /16 to /32, mostly /24 and /32; IPv6 /32 to /64 and /128; 30 %
 * allow, the rest deny), builds the list and times acl_permits() over
 * 4096 addresses of each kind (IPv4, IPv4-mapped IPv6 as a dual-stack
 * socket reports IPv4 peers, IPv6), half inside some rule and half
 * anywhere.  Two figures per kind: "chained", each lookup waiting for
 * the one before (the index of the next address depends on the answer),
 * which is the latency an accept or a datagram pays; and "free", the
 * lookups independent, which the CPU overlaps.  Best of several rounds.
 * Then the time acl_build() takes, median of 5 builds.  "null" is the
 * daemon without access rules (no acl at all).  Speed is never asserted:
 * this program only measures.
 *
 * usage: acl-speed [-t SECONDS_PER_ROUND] [-r ROUNDS]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "prefix.h"

#define NQ	4096		/* addresses per kind; a power of two */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t seed = 0x853c49e6748fea9bull;

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void
random_rule(struct prefix *p)
{
	static const uint8_t len4[] = { 16, 20, 22, 24, 24, 24, 24, 28, 32,
	    32, 32, 32 };
	static const uint8_t len6[] = { 32, 40, 48, 48, 56, 64, 64, 128 };
	uint64_t r = rnd(), v = rnd(), w = rnd();

	memset(p, 0, sizeof(*p));
	if (r % 3 != 0) {
		p->family = AF_INET;
		memcpy(p->addr, &v, 4);
		p->len = len4[(r >> 8) % sizeof(len4)];
	} else {
		p->family = AF_INET6;
		memcpy(p->addr, &v, 8);
		memcpy(p->addr + 8, &w, 8);
		p->addr[0] = (uint8_t)(0x20 | (p->addr[0] & 0x0f)); /* 2000::/4 */
		p->len = len6[(r >> 8) % sizeof(len6)];
	}
	prefix_mask(p);
}

enum kind { K_V4, K_MAPPED, K_V6, K_N };
static const char *const kind_names[] = { "IPv4", "IPv4-mapped", "IPv6" };

static struct sockaddr_in6 q6[K_N][NQ];	/* K_V4 uses them as sockaddr_in */

/* Addresses of each kind: half inside a random rule, half anywhere. */
static void
make_queries(const struct prefix *rules, size_t n)
{
	struct sockaddr_in *s4;
	struct prefix p;
	uint64_t v, w;
	size_t i, k, tries;
	int want;

	for (k = 0; k < K_N; k++)
		for (i = 0; i < NQ; i++) {
			want = k == K_V6 ? AF_INET6 : AF_INET;
			v = rnd();
			w = rnd();
			memset(&p, 0, sizeof(p));
			p.family = (uint8_t)want;
			memcpy(p.addr, &v, 8);
			memcpy(p.addr + 8, &w, 8);
			for (tries = 0; n > 0 && i % 2 == 0 && tries < 64;
			    tries++) {
				const struct prefix *r = &rules[rnd() % n];
				unsigned b;

				if (r->family != want)
					continue;
				for (b = 0; b < r->len; b++) {
					uint8_t m = (uint8_t)(0x80u >> (b % 8));

					p.addr[b / 8] = (uint8_t)((p.addr[b / 8] &
					    ~m) | (r->addr[b / 8] & m));
				}
				break;
			}
			memset(&q6[k][i], 0, sizeof(q6[k][i]));
			if (k == K_V4) {
				s4 = (struct sockaddr_in *)(void *)&q6[k][i];
				s4->sin_family = AF_INET;
				memcpy(&s4->sin_addr, p.addr, 4);
			} else if (k == K_MAPPED) {
				q6[k][i].sin6_family = AF_INET6;
				q6[k][i].sin6_addr.s6_addr[10] = 0xff;
				q6[k][i].sin6_addr.s6_addr[11] = 0xff;
				memcpy(&q6[k][i].sin6_addr.s6_addr[12], p.addr, 4);
			} else {
				q6[k][i].sin6_family = AF_INET6;
				memcpy(&q6[k][i].sin6_addr, p.addr, 16);
			}
		}
}

static volatile size_t sink;

/* ns per lookup, best of rounds. */
static double
time_lookups(const struct acl *a, enum kind k, bool chained, double secs,
    int rounds)
{
	const struct sockaddr_in6 *q = q6[k];
	double best = 1e30, t0, t;
	size_t i, n, idx, acc;
	int r;

	for (r = 0; r < rounds; r++) {
		n = 0;
		idx = 0;
		acc = 0;
		t0 = now();
		do {
			for (i = 0; i < 65536; i++) {
				bool ok = acl_permits(a,
				    (const struct sockaddr *)&q[idx]);

				acc += ok;
				idx = chained ? (idx + 1 + ok) & (NQ - 1) :
				    (idx + 1) & (NQ - 1);
			}
			n += 65536;
			t = now() - t0;
		} while (t < secs);
		sink = acc;
		if (t * 1e9 / (double)n < best)
			best = t * 1e9 / (double)n;
	}
	return best;
}

static int
dcmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Milliseconds for acl_build() of rules[0..n), median of 5. */
static double
time_build(const struct prefix *rules, size_t n, size_t *ranges)
{
	size_t nallow = n * 3 / 10;
	double t[5], t0;
	struct acl *a;
	int i;

	for (i = 0; i < 5; i++) {
		t0 = now();
		a = acl_build(rules, nallow, rules + nallow, n - nallow);
		t[i] = (now() - t0) * 1e3;
		if (a == NULL) {
			fprintf(stderr, "acl_build: out of memory\n");
			exit(1);
		}
		*ranges = acl_ranges(a);
		acl_free(a);
	}
	qsort(t, 5, sizeof(t[0]), dcmp);
	return t[2];
}

int
main(int argc, char **argv)
{
	static const long counts[] = { -1, 0, 10, 1000, 10000, 50000 };
	double secs = 0.2, ns[K_N][2], build_ms;
	struct prefix *rules;
	struct acl *a;
	size_t n, nallow, ranges, c, maxn = 50000;
	int rounds = 5, ch, k;

	while ((ch = getopt(argc, argv, "t:r:")) != -1) {
		switch (ch) {
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: acl-speed [-t SECONDS] "
			    "[-r ROUNDS]\n");
			return 2;
		}
	}
	if ((rules = calloc(maxn, sizeof(*rules))) == NULL)
		return 1;
	for (n = 0; n < maxn; n++)
		random_rule(&rules[n]);

	printf("| rules | ranges | build ms |");
	for (k = 0; k < K_N; k++)
		printf(" %s ns chained | %s ns free |", kind_names[k],
		    kind_names[k]);
	printf("\n|---|---|---|");
	for (k = 0; k < K_N; k++)
		printf("---|---|");
	printf("\n");
	for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		n = counts[c] < 0 ? 0 : (size_t)counts[c];
		nallow = n * 3 / 10;
		build_ms = 0;
		ranges = 0;
		a = NULL;
		if (counts[c] >= 0) {
			build_ms = time_build(rules, n, &ranges);
			a = acl_build(rules, nallow, rules + nallow,
			    n - nallow);
			if (a == NULL)
				return 1;
		}
		make_queries(rules, n);
		for (k = 0; k < K_N; k++) {
			ns[k][0] = time_lookups(a, (enum kind)k, true, secs,
			    rounds);
			ns[k][1] = time_lookups(a, (enum kind)k, false, secs,
			    rounds);
		}
		if (counts[c] < 0)
			printf("| null | - | - |");
		else
			printf("| %zu | %zu | %.2f |", n, ranges, build_ms);
		for (k = 0; k < K_N; k++)
			printf(" %.1f | %.1f |", ns[k][0], ns[k][1]);
		printf("\n");
		fflush(stdout);
		acl_free(a);
	}
	free(rules);
	return 0;
}
