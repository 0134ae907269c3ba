/*
 * upcase-bench.c - a load generator that checks every byte it gets back.
 *
 * One thread, one epoll set, non-blocking sockets.  It drives one traffic
 * shape against an echo service for a bounded time and prints one JSON
 * line: messages/s, MB/s (10^6 bytes of payload one way), p50/p99 latency
 * (per message, send to last byte of its reply), errors, mismatched
 * replies, lost datagrams, and its own CPU use (getrusage), so a reader
 * can tell whether the generator or the server was the bottleneck.
 *
 * Shapes:
 *   pingpong  -c N connections, one message of -s bytes in flight each
 *   pipeline  -c N connections, -q messages in flight each
 *   bulk      -c 1 connection streaming -B bytes both ways at once,
 *             measured after -W bytes (64 MiB) of warm-up
 *   udp       -c N sockets, -q datagrams in flight each; a datagram not
 *             answered within -L ms is lost (and replaced)
 *   idle      -c N connections opened and used once, then held (the
 *             --ready-file appears; SIGUSR1 or --hold ends the hold),
 *             then every connection is served -r more messages at once
 *   churn     -c N clients, each in a loop: connect, send one message of
 *             -s bytes, read the whole reply, close (we close first, so
 *             TIME_WAIT stays on this side); at most -N connections in
 *             all.  Figure: connections/s, latency from connect() to the
 *             reply's last byte
 *
 * --bulk-beside (pingpong, pipeline): one more connection streams bytes
 * both ways for as long as the others send, as bulk does, its bytes
 * checked like theirs but kept out of their figures: messages/s and
 * p50/p99 are the -c connections' alone, and the stream's own rate is
 * "beside_mb_per_s".  It starts once every other connection has been
 * answered once.  bench/run's mix shapes compare 1,000 ping-pong clients
 * with and without it: what one bulk client does to their latency.
 *
 * Options for every TCP shape: --sources=K binds connection n to source
 * address 127.0.0.(1 + n % K) (IP_BIND_ADDRESS_NO_PORT: the kernel still
 * picks the port at connect(), reusing TIME_WAIT ports on loopback), so
 * churn has K times the ephemeral ports; --proxy-v2 starts each
 * connection with a PROXY protocol v2 header (PROXY, TCP over IPv4) that
 * names a made-up client, a different one per connection, in
 * 198.18.0.0/15 (RFC 2544's benchmarking network).
 *
 * Payloads are lowercase ASCII letters (no newline, so no "exit" line),
 * or with --text=mixed (bulk only) dense mixed UTF-8 text: words of
 * Latin with accents, Greek, Cyrillic, CJK and ASCII, each with its
 * uppercase written out in this file (pattern_mixed()).  Every reply
 * byte is compared with its expected value: the uppercase of what was sent (--expect=upper) or the same bytes (--expect=same, for a
 * plain echo).  TCP payloads come from one periodic pseudo-random pattern
 * at a different offset per connection, so a byte is checked with one
 * memcmp() against a precomputed expected pattern; a UDP datagram starts
 * with its sequence number spelled in letters, which picks the in-flight
 * slot it answers and the pattern offset of its body.
 *
 * Every phase is bounded: -w warm-up and -d measured seconds, a short
 * drain (-g) for replies still in flight, and a hard cap (-T) on the whole
 * run after which it reports what it has with "timeout": true.
 *
 * Exit status: 0 when every reply arrived and matched, 1 when anything
 * went wrong (the JSON line says what), 64 usage, 71 system error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAT_LEN		65521u		/* prime: offsets never line up */
#define CHUNK_MAX	(256u * 1024u)	/* largest send or recv */
#define QMAX		64u		/* in flight per connection, at most */
#define HDR_LEN		7u		/* UDP sequence number, base 26 */
#define EVENTS_MAX	1024
#define CONNECT_WAVE	256u		/* connects in progress at once */
#define TICK_MS		10
#define NS		1000000000ull
#define PP2_LEN		28u		/* PROXY v2 header, TCP over IPv4 */
#define PP2_NET		0xc6120000u	/* 198.18.0.0/15 (RFC 2544) */
#define PP2_NADDR	0x20000u
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif
/* A TCP read, or a batch of depth UDP replies with room to spot longer. */
#define RBUF_SIZE	(CHUNK_MAX > (size_t)o.depth * (o.size + 64) ? \
			    CHUNK_MAX : (size_t)o.depth * (o.size + 64))

enum shape { SH_PINGPONG, SH_PIPELINE, SH_BULK, SH_UDP, SH_IDLE, SH_CHURN };
static const char *const shape_names[] = { "pingpong", "pipeline", "bulk",
    "udp", "idle", "churn" };
#define NSHAPES	(sizeof(shape_names) / sizeof(shape_names[0]))

enum kind { K_TCP = 1, K_UDP };
enum cstate { CS_NEW, CS_CONNECTING, CS_OPEN, CS_CLOSED };

struct conn {
	uint8_t		 kind;		/* K_TCP; must be first */
	uint8_t		 state;
	uint8_t		 pp_sent;	/* bytes of pp[] sent */
	uint8_t		 beside;	/* --bulk-beside: the stream */
	uint32_t	 events;	/* what epoll watches now */
	int		 fd;
	uint64_t	 t0;		/* churn: when connect() began */
	uint8_t		 pp[PP2_LEN];	/* --proxy-v2: this connection's header */
	uint32_t	 base;		/* pattern offset of stream byte 0 */
	uint64_t	 sent;		/* bytes */
	uint64_t	 rcvd;
	uint64_t	 quota;		/* bytes we may have sent by now */
	uint64_t	 lastbad;	/* message of the last mismatch + 1 */
	uint64_t	 ts[QMAX];	/* send time of message k: ts[k % QMAX] */
};

struct slot {
	uint64_t	 seq;
	uint64_t	 t;		/* 0: free */
};

struct usock {
	uint8_t		 kind;		/* K_UDP; must be first */
	int		 fd;
	uint32_t	 idx;
	uint64_t	 next_seq;
	uint32_t	 busy;
	struct slot	 slot[QMAX];
	uint8_t		 hdr[QMAX][8];
	struct iovec	 siov[QMAX][2];
	struct mmsghdr	 smsg[QMAX];
};

static struct {
	enum shape	 shape;
	const char	*host;
	const char	*port;
	unsigned	 conns;
	size_t		 size;
	unsigned	 depth;
	double		 duration;
	double		 warmup;
	double		 grace;
	double		 cap;
	double		 hold;
	double		 loss_ms;
	uint64_t	 bulk;
	uint64_t	 bulk_warm;
	unsigned	 rounds;
	bool		 same;
	const char	*label;
	const char	*ready_file;
	long		 server_pid;
	uint64_t	 max_conns;	/* churn: connections in all, at most */
	unsigned	 sources;	/* 127.0.0.1 .. 127.0.0.sources; 0: any */
	bool		 proxy_v2;
	bool		 beside;	/* --bulk-beside */
	bool		 mixed;		/* --text=mixed */
} o = {
	SH_PINGPONG, "127.0.0.1", NULL, 0, 64, 0, 3.0, 0.5, 1.0, 0.0, 30.0,
	200.0, 512ull << 20, 64ull << 20, 3, false, "", NULL, 0, 2000000, 0,
	false, false, false
};

static struct {
	uint64_t	 msgs;		/* replies in the measured window */
	uint64_t	 bytes;
	uint64_t	 errors;
	uint64_t	 connect_failed;
	uint64_t	 mismatches;
	uint64_t	 mismatched_bytes;
	uint64_t	 excess_bytes;
	uint64_t	 unanswered;
	uint64_t	 lost;
	uint64_t	 late;
	uint64_t	 sent_msgs;
	uint64_t	 open_ns;	/* idle: open and use every connection */
	uint64_t	 first_ns;	/* every connection answered once */
	uint64_t	 opened;
	uint64_t	 used;
	uint64_t	 held;
	uint64_t	 served;
	uint64_t	 started;	/* connect()s begun */
	uint64_t	 completed;	/* churn: answered in full and closed */
	uint64_t	 addrnotavail;	/* connect() or bind(): no port left */
	uint64_t	 beside_bytes;	/* --bulk-beside: in the window */
	bool		 timeout;
} st;

/* Latency histogram, log-linear: 64 sub-buckets per power of two (<2%). */
#define SUB_BITS	6u
#define SUB		(1u << SUB_BITS)
#define HIST_N		((64u - SUB_BITS + 1u) * SUB)
static uint64_t		 hist[HIST_N];
static uint64_t		 hist_n;

static struct addrinfo	*peer;
static int		 ep = -1;
static uint8_t		*pat;		/* PAT_LEN + CHUNK_MAX, periodic */
static uint8_t		*want;		/* what a reply of pat must be */
static uint8_t		*rbuf;		/* RBUF_SIZE */
static struct conn	*conns;
static unsigned		 nconns;	/* o.conns, plus one --bulk-beside */
static struct usock	*usocks;
static unsigned		 nopen, nconnecting, nnext;
static unsigned		 pp_len;	/* PP2_LEN with --proxy-v2, else 0 */
static uint64_t		 bulk_rcvd;	/* over all connections */
static bool		 sending, measuring, gate;
static uint64_t		 t_cap;
static volatile sig_atomic_t stop_flag, hold_over;

/* --- small helpers ---------------------------------------------------- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "upcase-bench: %s: %s\n", what, strerror(errno));
	exit(71);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		hold_over = 1;
	else
		stop_flag = 1;
}

static unsigned
hist_idx(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return (e - SUB_BITS + 1u) * SUB +
	    (unsigned)((v >> (e - SUB_BITS)) & (SUB - 1u));
}

static double
hist_value(unsigned idx)
{
	unsigned g = idx / SUB, sub = idx % SUB;
	uint64_t low, width;

	if (g == 0)
		return (double)idx;
	low = (uint64_t)(SUB + sub) << (g - 1u);
	width = 1ull << (g - 1u);
	return (double)low + (double)width / 2.0;
}

static void
hist_add(uint64_t ns)
{
	hist[hist_idx(ns)]++;
	hist_n++;
}

/* The p-quantile in microseconds, or -1 without samples. */
static double
hist_quantile(double p)
{
	uint64_t target, sum = 0;
	unsigned i;

	if (hist_n == 0)
		return -1;
	target = (uint64_t)(p * (double)hist_n);
	if (target < 1)
		target = 1;
	for (i = 0; i < HIST_N; i++) {
		sum += hist[i];
		if (sum >= target)
			return hist_value(i) / 1e3;
	}
	return -1;
}

/*
 * CPU seconds used so far by the server: its process group (bench/run
 * starts each server with setsid, so socat's children and their tr count
 * too) or, failing that, the process alone.  Live threads count from
 * /proc/PID/task/TID/schedstat, in nanoseconds: utime and stime come in
 * clock ticks, and a thousand short-lived children each under one tick
 * would add up to nothing.  Children already reaped count through their
 * parent's cutime + cstime, so one that ends inside the window is
 * counted once.  -1 if unknown.
 */
static double
proc_threads_ns(const char *pid)
{
	char path[600], buf[128];
	struct dirent *de;
	double sum = 0;
	ssize_t n;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat", pid,
		    de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		sum += strtod(buf, NULL);
	}
	closedir(d);
	return sum;
}

static double
server_cpu(void)
{
	char path[300], buf[1024], *p;
	unsigned long long ut, stt, cut, cst;
	double sum = 0, tick = (double)sysconf(_SC_CLK_TCK), ns;
	long pid, pgrp;
	struct dirent *de;
	ssize_t n;
	bool seen = false;
	DIR *d;
	int fd;

	if (o.server_pid <= 0 || (d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* pid (comm) state ppid pgrp ... field 14 is utime. */
		pid = strtol(buf, NULL, 10);
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%llu %llu %llu %llu", &pgrp, &ut, &stt, &cut, &cst) != 5)
			continue;
		if (pid != o.server_pid && pgrp != o.server_pid)
			continue;
		if ((ns = proc_threads_ns(de->d_name)) < 0)
			ns = (double)(ut + stt) / tick * 1e9;
		sum += ns / 1e9 + (double)(cut + cst) / tick;
		seen = true;
	}
	closedir(d);
	return seen ? sum : -1;
}

/* Begin the measured window: counters and histogram start from zero. */
static struct rusage	 ru0, ru1;
static uint64_t		 t_win0, t_win1;
static double		 srv0, srv1;

static void
window_open(void)
{
	st.msgs = st.bytes = st.beside_bytes = 0;
	memset(hist, 0, sizeof(hist));
	hist_n = 0;
	measuring = true;
	srv0 = server_cpu();
	getrusage(RUSAGE_SELF, &ru0);
	t_win0 = now_ns();
}

static void
window_close(void)
{
	if (!measuring)
		return;
	measuring = false;
	t_win1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	srv1 = server_cpu();
}

static double
tv_diff(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_usec - a->tv_usec) / 1e6;
}

/* --- payload ---------------------------------------------------------- */

/*
 * --text=mixed: words of Latin with accents, Greek, Cyrillic, CJK and
 * ASCII, each with its uppercase written out here (Unicode's simple
 * mapping, as Go's strings.ToUpper applies it), not computed: the bench
 * shares no code or table with the daemon.  Each uppercase has the
 * length of its word, so reply bytes line up with sent ones and are
 * checked by stream position, however the replies are cut.  U+00DF
 * stays as it is (no simple uppercase).
 */
static const char *const words[][2] = {
	{ "stra\xc3\x9f" "e", "STRA\xc3\x9f" "E" },		/* straße */
	{ "caf\xc3\xa9", "CAF\xc3\x89" },				/* café */
	{ "na\xc3\xafve", "NA\xc3\x8fVE" },			/* naïve */
	{ "\xc3\xbc" "ber", "\xc3\x9c" "BER" },			/* über */
	{ "se\xc3\xb1or", "SE\xc3\x91OR" },			/* señor */
	{ "fa\xc3\xa7" "ade", "FA\xc3\x87" "ADE" },		/* façade */
	{ "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
	  "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3" },
							/* σίσυφος */
	{ "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1",
	  "\xce\x95\xce\x9b\xce\x9b\xce\x86\xce\x94\xce\x91" },
							/* Ελλάδα */
	{ "\xce\xb1\xce\xb2\xce\xb3", "\xce\x91\xce\x92\xce\x93" },
							/* αβγ */
	{ "\xd0\xbc\xd0\xb8\xd1\x80", "\xd0\x9c\xd0\x98\xd0\xa0" },
							/* мир */
	{ "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
	  "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2" },
							/* привет */
	{ "\xd1\x91\xd0\xb6\xd0\xb8\xd0\xba",
	  "\xd0\x81\xd0\x96\xd0\x98\xd0\x9a" },		/* ёжик */
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },		/* 日本語 */
	{ "\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87" },
							/* 中文 */
	{ "hello,", "HELLO," },
	{ "world", "WORLD" },
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

/* One period of mixed text: words and spaces, then 'a's to fill. */
static void
pattern_mixed(uint32_t r)
{
	size_t i = 0, len, k;

	for (;;) {
		r ^= r << 13;
		r ^= r >> 17;
		r ^= r << 5;
		k = r % NWORDS;
		len = strlen(words[k][0]);
		if (strlen(words[k][1]) != len)
			die("bench word: uppercase of another length");
		if (i + len + 1 > PAT_LEN)
			break;
		memcpy(pat + i, words[k][0], len);
		memcpy(want + i, words[k][1], len);
		pat[i + len] = want[i + len] = ' ';
		i += len + 1;
	}
	for (; i < PAT_LEN; i++) {
		pat[i] = 'a';
		want[i] = 'A';
	}
}

static void
pattern_init(void)
{
	uint32_t r = 2463534242u;
	size_t i;

	if ((pat = malloc(PAT_LEN + CHUNK_MAX)) == NULL ||
	    (want = malloc(PAT_LEN + CHUNK_MAX)) == NULL ||
	    (rbuf = malloc(RBUF_SIZE)) == NULL)
		die("malloc");
	if (o.mixed)
		pattern_mixed(r);
	else
		for (i = 0; i < PAT_LEN; i++) {
			r ^= r << 13;
			r ^= r >> 17;
			r ^= r << 5;
			pat[i] = (uint8_t)('a' + r % 26u);
			want[i] = (uint8_t)(pat[i] - 'a' + 'A');
		}
	for (i = PAT_LEN; i < PAT_LEN + CHUNK_MAX; i++) {
		pat[i] = pat[i - PAT_LEN];
		want[i] = want[i - PAT_LEN];
	}
	if (o.same)
		memcpy(want, pat, PAT_LEN + CHUNK_MAX);
}

/*
 * The pattern offset a stream starting with its n-th byte uses: with
 * --text=mixed moved on to the first byte of a character, as a client's
 * stream starts (the period ends with ASCII, so this stays inside it).
 */
static uint32_t
pattern_base(uint64_t n)
{
	uint32_t b = (uint32_t)(n % PAT_LEN);

	while ((pat[b] & 0xc0) == 0x80)
		b++;
	return b;
}

/*
 * n reply bytes at stream position pos of c; unit is the message size.
 * A message with any wrong byte counts once, however it was cut.
 */
static void
verify(struct conn *c, const uint8_t *got, size_t n, size_t unit)
{
	const uint8_t *w = want + (c->base + c->rcvd) % PAT_LEN;
	uint64_t m;
	size_t i;

	if (memcmp(got, w, n) == 0)
		return;
	for (i = 0; i < n; i++) {
		if (got[i] == w[i])
			continue;
		st.mismatched_bytes++;
		m = (c->rcvd + i) / unit + 1;
		if (m != c->lastbad) {
			st.mismatches++;
			c->lastbad = m;
		}
	}
}

/* --- TCP -------------------------------------------------------------- */

static void
conn_watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev;

	if (events == c->events)
		return;
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl");
	c->events = events;
}

static void
conn_fail(struct conn *c)
{
	if (c->state == CS_CONNECTING) {
		st.connect_failed++;
		nconnecting--;
	} else if (c->state == CS_OPEN)
		nopen--;
	st.errors++;
	close(c->fd);
	c->fd = -1;
	c->state = CS_CLOSED;
}

static void
put_be(uint8_t *p, uint32_t v, unsigned n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/*
 * The PROXY protocol v2 header of connection n (haproxy's
 * doc/proxy-protocol.txt, section 2.2): the 12-byte signature, version 2
 * and command PROXY (0x21), TCP over IPv4 (0x11), 12 bytes of addresses:
 * a made-up client in 198.18.0.0/15 and port, then the server's own
 * address and port.  Consecutive connections name consecutive clients,
 * so no client opens more than one connection in 131,072.
 */
static void
pp2_build(uint8_t *h, uint64_t n)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	const struct sockaddr_in *sin = (const void *)peer->ai_addr;

	memcpy(h, sig, sizeof(sig));
	h[12] = 0x21;
	h[13] = 0x11;
	put_be(h + 14, 12, 2);
	put_be(h + 16, PP2_NET + (uint32_t)(n % PP2_NADDR), 4);
	memcpy(h + 20, &sin->sin_addr, 4);
	put_be(h + 24, 1024u + (uint32_t)(n % 64512u), 2);
	memcpy(h + 26, &sin->sin_port, 2);
}

/* --sources: connection n leaves from 127.0.0.(1 + n % sources). */
static int
conn_bind_source(int fd, uint64_t n)
{
	struct sockaddr_in sin;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(n % o.sources));
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one)) == -1)
		return -1;
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static void
conn_start(struct conn *c)
{
	struct epoll_event ev;
	uint64_t n = st.started++;
	int one = 1;

	c->kind = K_TCP;
	c->sent = c->rcvd = c->lastbad = 0;
	c->base = pattern_base(n * 7919u);
	c->t0 = now_ns();
	c->pp_sent = 0;
	if (o.proxy_v2)
		pp2_build(c->pp, n);
	c->fd = socket(peer->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		st.connect_failed++;
		st.errors++;
		c->state = CS_CLOSED;
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = CS_CONNECTING;
	nconnecting++;
	if (o.sources > 0 && conn_bind_source(c->fd, n) == -1) {
		if (errno == EADDRNOTAVAIL || errno == EADDRINUSE)
			st.addrnotavail++;
		conn_fail(c);
		return;
	}
	if (connect(c->fd, peer->ai_addr, peer->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		if (errno == EADDRNOTAVAIL)
			st.addrnotavail++;
		conn_fail(c);
		return;
	}
	c->events = EPOLLOUT;
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
}

/* Start connects while fewer than a wave are in progress. */
static void
conns_open_more(void)
{
	while (nnext < nconns && nconnecting < CONNECT_WAVE)
		conn_start(&conns[nnext++]);
}

/*
 * Bytes c may have sent by now.  Message shapes keep depth messages in
 * flight; once sending stops, only a message already begun is finished.
 */
static uint64_t
conn_quota(const struct conn *c)
{
	uint64_t done;

	if (c->beside)		/* streams once the gate is open */
		return sending && !gate ? UINT64_MAX / 2 : c->sent;
	if (o.shape == SH_BULK)
		return sending ? o.bulk_warm + o.bulk : c->sent;
	if (o.shape == SH_IDLE)
		return c->quota;
	if (o.shape == SH_CHURN)	/* begun: its one message */
		return o.size;
	if (!sending)
		return (c->sent + o.size - 1) / o.size * o.size;
	if (gate)		/* one message each until all answered */
		return o.size;
	done = c->rcvd / o.size;
	return (done + o.depth) * o.size;
}

/*
 * The rest of c's PROXY header and then up to len payload bytes, in one
 * sendmsg() (one segment, as a balancer sends it); returns the payload
 * bytes sent, or -1.
 */
static ssize_t
conn_send_pp2(struct conn *c, size_t len)
{
	struct iovec iov[2];
	struct msghdr mh;
	size_t left = pp_len - c->pp_sent;
	ssize_t n;

	iov[0].iov_base = c->pp + c->pp_sent;
	iov[0].iov_len = left;
	iov[1].iov_base = pat + (c->base + c->sent) % PAT_LEN;
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1)
		return -1;
	if ((size_t)n < left) {
		c->pp_sent += (uint8_t)n;
		return 0;
	}
	c->pp_sent = (uint8_t)pp_len;
	return n - (ssize_t)left;
}

static void
conn_write(struct conn *c)
{
	uint64_t quota = conn_quota(c), t, k, k1;
	size_t len;
	ssize_t n;

	while (c->sent < quota) {
		len = quota - c->sent > CHUNK_MAX ? CHUNK_MAX :
		    (size_t)(quota - c->sent);
		t = now_ns();
		if (c->pp_sent < pp_len)
			n = conn_send_pp2(c, len);
		else
			n = send(c->fd, pat + (c->base + c->sent) % PAT_LEN,
			    len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			conn_fail(c);
			return;
		}
		if (n == 0)		/* part of the header only */
			break;
		if (o.shape != SH_BULK && !c->beside) {
			k = c->sent / o.size;
			k1 = (c->sent + (uint64_t)n) / o.size;
			st.sent_msgs += k1 - k;
			for (; k < k1; k++)
				c->ts[k % QMAX] = t;
		}
		c->sent += (uint64_t)n;
		if ((size_t)n < len)
			break;
	}
	conn_watch(c, c->sent < quota ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* churn: may another connection begin? */
static bool
churn_more(void)
{
	return sending && st.started < o.max_conns;
}

/* churn: c has its whole reply at t: count it, close, begin anew. */
static void
churn_next(struct conn *c, uint64_t t)
{
	st.completed++;
	if (measuring) {
		hist_add(t - c->t0);
		st.msgs++;
		st.bytes += o.size;
	}
	close(c->fd);
	c->fd = -1;
	c->state = CS_CLOSED;
	nopen--;
	if (churn_more())
		conn_start(c);
}

/* churn: begin again on slots whose connection failed (once per turn). */
static void
churn_refill(void)
{
	unsigned i;

	for (i = 0; i < nnext && churn_more(); i++)
		if (conns[i].state == CS_CLOSED)
			conn_start(&conns[i]);
}

static void
conn_read(struct conn *c)
{
	uint64_t t, k, k1, room;
	size_t len;
	ssize_t n;

	room = c->sent - c->rcvd;
	len = CHUNK_MAX;
	n = recv(c->fd, rbuf, len, MSG_DONTWAIT);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_fail(c);
		return;
	}
	if (n == 0) {		/* the server closed: never expected */
		conn_fail(c);
		return;
	}
	if ((uint64_t)n > room) {	/* more than we sent */
		st.excess_bytes += (uint64_t)n - room;
		st.errors++;
		n = (ssize_t)room;
	}
	verify(c, rbuf, (size_t)n, o.shape == SH_BULK || c->beside ? 65536 :
	    o.size);
	if (c->beside) {
		c->rcvd += (uint64_t)n;
		if (measuring)
			st.beside_bytes += (uint64_t)n;
		return;
	}
	if (o.shape == SH_BULK) {
		c->rcvd += (uint64_t)n;
		bulk_rcvd += (uint64_t)n;
		if (measuring)
			st.bytes += (uint64_t)n;
		else if (bulk_rcvd >= o.conns * o.bulk_warm && t_win0 == 0) {
			window_open();	/* warmed up: the rest is measured */
			st.bytes = bulk_rcvd - o.conns * o.bulk_warm;
		}
		return;
	}
	t = now_ns();
	if (o.shape == SH_CHURN) {
		c->rcvd += (uint64_t)n;
		if (c->rcvd >= o.size)
			churn_next(c, t);
		return;
	}
	k = c->rcvd / o.size;
	c->rcvd += (uint64_t)n;
	k1 = c->rcvd / o.size;
	for (; k < k1; k++) {
		if (o.shape == SH_IDLE && c->rcvd == o.size)
			st.used++;
		if (!measuring)
			continue;
		hist_add(t - c->ts[k % QMAX]);
		st.msgs++;
		st.bytes += o.size;
	}
	if (c->sent < conn_quota(c))
		conn_write(c);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (c->state == CS_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			conn_fail(c);
			return;
		}
		c->state = CS_OPEN;
		nconnecting--;
		nopen++;
		st.opened++;
		conn_write(c);
		return;
	}
	if (c->state != CS_OPEN)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		conn_read(c);
		if (c->state != CS_OPEN)
			return;
	}
	if ((events & EPOLLOUT) && c->sent < conn_quota(c))
		conn_write(c);
}

/* --- UDP -------------------------------------------------------------- */

/* Fill slot k of u with a new datagram, sent at t. */
static void
usock_fill(struct usock *u, unsigned k, uint64_t t)
{
	uint64_t seq = u->next_seq++, v = seq;
	unsigned i;

	for (i = 0; i < HDR_LEN; i++) {
		u->hdr[k][i] = (uint8_t)('a' + v % 26u);
		v /= 26u;
	}
	u->siov[k][0].iov_base = u->hdr[k];
	u->siov[k][0].iov_len = HDR_LEN;
	u->siov[k][1].iov_base = pat + (seq * 7919u + u->idx * 1009u) %
	    PAT_LEN;
	u->siov[k][1].iov_len = o.size - HDR_LEN;
	u->slot[k].seq = seq;
	u->slot[k].t = t;
	u->busy++;
}

/* Send the datagrams of slots ks[0..n) in one sendmmsg(). */
static void
usock_send(struct usock *u, const unsigned *ks, unsigned n)
{
	struct mmsghdr *m = u->smsg;
	unsigned i, done = 0;
	int r;

	for (i = 0; i < n; i++) {
		memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
		m[i].msg_hdr.msg_iov = u->siov[ks[i]];
		m[i].msg_hdr.msg_iovlen = 2;
	}
	while (done < n) {
		r = sendmmsg(u->fd, m + done, n - done, MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			/* Not sent: it times out and counts as lost. */
			st.errors++;
			break;
		}
		done += (unsigned)r;
	}
	st.sent_msgs += done;
}

static void
usock_top_up(struct usock *u, uint64_t t)
{
	unsigned ks[QMAX], n = 0, k;

	if (!sending)
		return;
	for (k = 0; k < o.depth && u->busy < o.depth; k++) {
		if (u->slot[k].t != 0)
			continue;
		usock_fill(u, k, t);
		ks[n++] = k;
	}
	if (n > 0)
		usock_send(u, ks, n);
}

/* Check one reply; returns its slot, or -1 if it answers none. */
static int
usock_check(struct usock *u, const uint8_t *d, size_t len)
{
	const uint8_t base = o.same ? 'a' : 'A';
	const uint8_t *w;
	uint64_t seq = 0;
	unsigned i, k, digit;

	if (len < HDR_LEN) {
		st.mismatches++;		/* its slot times out */
		return -1;
	}
	for (i = HDR_LEN; i-- > 0;) {
		digit = (unsigned)(d[i] - base);
		if (digit >= 26u) {
			st.mismatches++;	/* its slot times out */
			return -1;
		}
		seq = seq * 26u + digit;
	}
	for (k = 0; k < o.depth; k++)
		if (u->slot[k].t != 0 && u->slot[k].seq == seq)
			break;
	if (k == o.depth) {
		st.late++;		/* answered after it was declared lost */
		return -1;
	}
	w = want + (seq * 7919u + u->idx * 1009u) % PAT_LEN;
	if (len != o.size || memcmp(d + HDR_LEN, w, len - HDR_LEN) != 0) {
		st.mismatches++;
		for (i = HDR_LEN; i < len && i < o.size; i++)
			if (d[i] != w[i - HDR_LEN])
				st.mismatched_bytes++;
	}
	return (int)k;
}

static void
usock_event(struct usock *u)
{
	struct mmsghdr m[QMAX];
	struct iovec iov[QMAX];
	uint64_t t;
	int n, i, k;
	size_t slot = o.size + 64;

	for (i = 0; i < (int)o.depth; i++) {
		iov[i].iov_base = rbuf + (size_t)i * slot;
		iov[i].iov_len = slot;
		memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(u->fd, m, o.depth, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			st.errors++;	/* ECONNREFUSED: nobody listens */
		return;
	}
	t = now_ns();
	for (i = 0; i < n; i++) {
		if ((k = usock_check(u, iov[i].iov_base, m[i].msg_len)) < 0)
			continue;
		if (measuring) {
			hist_add(t - u->slot[k].t);
			st.msgs++;
			st.bytes += o.size;
		}
		u->slot[k].t = 0;
		u->busy--;
	}
	usock_top_up(u, t);
}

/* Datagrams unanswered for loss_ms are lost; their slots start anew. */
static void
udp_expire(uint64_t t)
{
	uint64_t limit = (uint64_t)(o.loss_ms * 1e6);
	unsigned i, k;

	for (i = 0; i < o.conns; i++) {
		struct usock *u = &usocks[i];

		for (k = 0; k < o.depth; k++) {
			if (u->slot[k].t != 0 && t - u->slot[k].t > limit) {
				st.lost++;
				u->slot[k].t = 0;
				u->busy--;
			}
		}
		usock_top_up(u, t);
	}
}

static void
udp_open_all(void)
{
	struct epoll_event ev;
	unsigned i;

	if ((usocks = calloc(o.conns, sizeof(*usocks))) == NULL)
		die("calloc");
	for (i = 0; i < o.conns; i++) {
		struct usock *u = &usocks[i];

		u->kind = K_UDP;
		u->idx = i;
		u->fd = socket(peer->ai_family, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		/* connect() picks an ephemeral source port (>= 1024). */
		if (u->fd == -1 ||
		    connect(u->fd, peer->ai_addr, peer->ai_addrlen) == -1)
			die("udp socket");
		ev.events = EPOLLIN;
		ev.data.ptr = u;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, u->fd, &ev) == -1)
			die("epoll_ctl");
	}
}

static uint64_t
udp_busy(void)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < o.conns; i++)
		n += usocks[i].busy;
	return n;
}

/* --- the loop --------------------------------------------------------- */

/*
 * Serve events until done() says so, the deadline passes (0: none), a
 * signal asks to stop, or the hard cap passes.  Returns true if done().
 */
static bool
loop(bool (*done)(void), uint64_t deadline)
{
	struct epoll_event evs[EVENTS_MAX];
	uint64_t t, last_tick = 0;
	int n, i, timeout;
	struct conn *c;

	for (;;) {
		t = now_ns();
		if (done != NULL && done())
			return true;
		if (stop_flag || (deadline != 0 && t >= deadline))
			return false;
		if (t >= t_cap) {
			st.timeout = true;
			stop_flag = 1;
			return false;
		}
		if (o.shape == SH_UDP && t - last_tick >= TICK_MS * 1000000ull) {
			udp_expire(t);
			last_tick = t;
		}
		if (conns != NULL && (o.shape != SH_CHURN || churn_more())) {
			conns_open_more();
			if (o.shape == SH_CHURN)
				churn_refill();
		}
		timeout = TICK_MS;
		if (deadline != 0 && deadline - t < (uint64_t)timeout * 1000000u)
			timeout = (int)((deadline - t + 999999u) / 1000000u);
		n = epoll_wait(ep, evs, EVENTS_MAX, timeout);
		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			if (*(uint8_t *)evs[i].data.ptr == K_UDP) {
				usock_event(evs[i].data.ptr);
				continue;
			}
			c = evs[i].data.ptr;
			conn_event(c, evs[i].events);
		}
	}
}

static bool
all_connected(void)
{
	return nnext == nconns && nconnecting == 0;
}

static bool
all_answered(void)
{
	unsigned i;

	if (o.shape == SH_UDP)
		return udp_busy() == 0;
	for (i = 0; i < nconns; i++)
		if (conns[i].state == CS_OPEN &&
		    conns[i].rcvd < conns[i].sent)
			return false;
	return true;
}

static bool
all_replied_once(void)
{
	unsigned i;

	for (i = 0; i < o.conns; i++)	/* not the stream beside them */
		if (conns[i].state == CS_OPEN && conns[i].rcvd < o.size)
			return false;
	return true;
}

static bool
all_sent_and_answered(void)
{
	unsigned i;

	for (i = 0; i < o.conns; i++)
		if (conns[i].state == CS_OPEN &&
		    (conns[i].sent < conn_quota(&conns[i]) ||
		    conns[i].rcvd < conns[i].sent))
			return false;
	return true;
}

static bool
churn_drained(void)
{
	return nopen == 0 && nconnecting == 0;
}

static bool
hold_done(void)
{
	return hold_over != 0;
}

/* Count what is still unanswered, then close everything. */
static void
finish(void)
{
	unsigned i;

	if (conns != NULL) {
		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			if (c->state == CS_OPEN && c->rcvd < c->sent)
				st.unanswered += o.shape == SH_BULK ||
				    c->beside ? 1 :
				    (c->sent - c->rcvd + o.size - 1) / o.size;
			if (c->fd != -1 && c->state != CS_NEW)
				close(c->fd);
		}
	}
	if (usocks != NULL) {
		st.lost += udp_busy();
		for (i = 0; i < o.conns; i++)
			close(usocks[i].fd);
	}
}

/* pingpong, pipeline, bulk: connect, warm up, measure, drain. */
static void
run_tcp(void)
{
	uint64_t t0;
	unsigned i;

	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		die("calloc");
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].base = pattern_base((uint64_t)i * 7919u);
	}
	if (o.beside)
		conns[o.conns].beside = 1;
	(void)loop(all_connected, 0);
	sending = true;
	if (o.shape == SH_BULK) {
		/* The first bulk_warm bytes ramp TCP up; the window opens in
		 * conn_read() once they are back. */
		if (o.bulk_warm == 0)
			window_open();
		for (i = 0; i < o.conns; i++)
			if (conns[i].state == CS_OPEN)
				conn_write(&conns[i]);
		(void)loop(all_sent_and_answered, 0);
		window_close();
		return;
	}
	/*
	 * A server that forks per connection may take a while to answer
	 * them all, and must not be starved by the connections it already
	 * serves: each sends one message, and warm-up starts once every
	 * connection has been answered.
	 */
	gate = true;
	t0 = now_ns();
	for (i = 0; i < o.conns; i++)
		if (conns[i].state == CS_OPEN)
			conn_write(&conns[i]);
	(void)loop(all_replied_once, 0);
	st.first_ns = now_ns() - t0;
	gate = false;
	for (i = 0; i < nconns; i++)
		if (conns[i].state == CS_OPEN)
			conn_write(&conns[i]);
	(void)loop(NULL, now_ns() + (uint64_t)(o.warmup * 1e9));
	window_open();
	(void)loop(NULL, now_ns() + (uint64_t)(o.duration * 1e9));
	window_close();
	sending = false;
	(void)loop(all_answered, now_ns() + (uint64_t)(o.grace * 1e9));
}

static void
run_udp(void)
{
	unsigned i;
	uint64_t t;

	udp_open_all();
	sending = true;
	t = now_ns();
	for (i = 0; i < o.conns; i++)
		usock_top_up(&usocks[i], t);
	(void)loop(NULL, now_ns() + (uint64_t)(o.warmup * 1e9));
	window_open();
	(void)loop(NULL, now_ns() + (uint64_t)(o.duration * 1e9));
	window_close();
	sending = false;
	(void)loop(all_answered, now_ns() + (uint64_t)(o.grace * 1e9));
}

/*
 * idle: open and use every connection once, say so, hold them, then
 * serve every one of them at once, rounds times.
 */
static void
run_idle(void)
{
	uint64_t t0;
	unsigned i, r;
	int fd;

	if ((conns = calloc(o.conns, sizeof(*conns))) == NULL)
		die("calloc");
	for (i = 0; i < o.conns; i++) {
		conns[i].fd = -1;
		conns[i].base = pattern_base((uint64_t)i * 7919u);
		conns[i].quota = o.size;
	}
	t0 = now_ns();
	(void)loop(all_connected, 0);
	(void)loop(all_sent_and_answered, 0);
	st.open_ns = now_ns() - t0;
	if (stop_flag)
		return;
	if (o.ready_file != NULL) {
		fd = open(o.ready_file, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);
		if (fd == -1)
			die(o.ready_file);
		dprintf(fd, "%u\n", nopen);
		close(fd);
	}
	/* Anything the server does now (closing one) is an error. */
	(void)loop(hold_done, now_ns() + (uint64_t)(o.hold * 1e9));
	st.held = nopen;
	window_open();
	for (r = 0; r < o.rounds && !stop_flag; r++) {
		for (i = 0; i < o.conns; i++) {
			if (conns[i].state != CS_OPEN)
				continue;
			conns[i].quota += o.size;
			conn_write(&conns[i]);
		}
		(void)loop(all_sent_and_answered, 0);
	}
	window_close();
	st.served = st.msgs / (o.rounds > 0 ? o.rounds : 1);
}

/*
 * churn: o.conns clients, each connecting, sending one message, reading
 * the whole reply and closing, again and again; warm-up, measure, then
 * no new connections and up to -g seconds for those under way.
 */
static void
run_churn(void)
{
	if ((conns = calloc(o.conns, sizeof(*conns))) == NULL)
		die("calloc");
	sending = true;
	(void)loop(NULL, now_ns() + (uint64_t)(o.warmup * 1e9));
	window_open();
	(void)loop(NULL, now_ns() + (uint64_t)(o.duration * 1e9));
	window_close();
	sending = false;
	(void)loop(churn_drained, now_ns() + (uint64_t)(o.grace * 1e9));
}

/* --- report ----------------------------------------------------------- */

static void
report(void)
{
	double secs = (double)(t_win1 - t_win0) / 1e9, cu, cs;
	double p50 = hist_quantile(0.50), p99 = hist_quantile(0.99);
	bool msgs = o.shape != SH_BULK;

	if (t_win1 <= t_win0 + 1000000u)
		secs = 0;
	cu = tv_diff(&ru0.ru_utime, &ru1.ru_utime);
	cs = tv_diff(&ru0.ru_stime, &ru1.ru_stime);
	printf("{\"label\":\"%s\",\"shape\":\"%s\",\"proto\":\"%s\","
	    "\"conns\":%u,\"size\":%zu,\"depth\":%u,\"expect\":\"%s\","
	    "\"text\":\"%s\"",
	    o.label, shape_names[o.shape], o.shape == SH_UDP ? "udp" : "tcp",
	    o.conns, o.shape == SH_BULK ? (size_t)0 : o.size,
	    o.shape == SH_BULK ? 0 : o.depth, o.same ? "same" : "upper",
	    o.mixed ? "mixed" : "letters");
	printf(",\"seconds\":%.4f", secs);
	if (msgs && secs > 0)
		printf(",\"messages\":%llu,\"msgs_per_s\":%.1f",
		    (unsigned long long)st.msgs, (double)st.msgs / secs);
	else
		printf(",\"messages\":null,\"msgs_per_s\":null");
	printf(",\"bytes\":%llu,\"mb_per_s\":%.2f",
	    (unsigned long long)st.bytes,
	    secs > 0 ? (double)st.bytes / secs / 1e6 : 0.0);
	if (msgs && p50 >= 0)
		printf(",\"p50_us\":%.1f,\"p99_us\":%.1f", p50, p99);
	else
		printf(",\"p50_us\":null,\"p99_us\":null");
	printf(",\"errors\":%llu,\"connect_failed\":%llu,\"unanswered\":%llu,"
	    "\"excess_bytes\":%llu,\"mismatches\":%llu,"
	    "\"mismatched_bytes\":%llu,\"lost\":%llu,\"late\":%llu,"
	    "\"sent\":%llu",
	    (unsigned long long)st.errors,
	    (unsigned long long)st.connect_failed,
	    (unsigned long long)st.unanswered,
	    (unsigned long long)st.excess_bytes,
	    (unsigned long long)st.mismatches,
	    (unsigned long long)st.mismatched_bytes,
	    (unsigned long long)st.lost, (unsigned long long)st.late,
	    (unsigned long long)st.sent_msgs);
	if (o.shape == SH_PINGPONG || o.shape == SH_PIPELINE)
		printf(",\"first_reply_s\":%.3f", (double)st.first_ns / 1e9);
	if (o.shape == SH_CHURN) {
		if (secs > 0)
			printf(",\"conns_per_s\":%.1f", (double)st.msgs / secs);
		else
			printf(",\"conns_per_s\":null");
		printf(",\"started\":%llu,\"completed\":%llu",
		    (unsigned long long)st.started,
		    (unsigned long long)st.completed);
	}
	if (o.shape != SH_UDP)
		printf(",\"sources\":%u,\"proxy_v2\":%s,"
		    "\"addrnotavail\":%llu", o.sources,
		    o.proxy_v2 ? "true" : "false",
		    (unsigned long long)st.addrnotavail);
	if (o.beside)
		printf(",\"beside_bytes\":%llu,\"beside_mb_per_s\":%.2f",
		    (unsigned long long)st.beside_bytes,
		    secs > 0 ? (double)st.beside_bytes / secs / 1e6 : 0.0);
	if (srv0 >= 0 && srv1 >= 0 && secs > 0)
		printf(",\"server_cpu_s\":%.6f,\"server_cpu_pct\":%.1f",
		    srv1 - srv0, (srv1 - srv0) / secs * 100.0);
	else
		printf(",\"server_cpu_s\":null,\"server_cpu_pct\":null");
	if (o.shape == SH_IDLE)
		printf(",\"opened\":%llu,\"used\":%llu,\"held\":%llu,"
		    "\"served\":%llu,\"open_s\":%.3f",
		    (unsigned long long)st.opened,
		    (unsigned long long)st.used,
		    (unsigned long long)st.held,
		    (unsigned long long)st.served, (double)st.open_ns / 1e9);
	printf(",\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_pct\":%.1f,"
	    "\"timeout\":%s}\n", cu, cs,
	    secs > 0 ? (cu + cs) / secs * 100.0 : 0.0,
	    st.timeout ? "true" : "false");
	fflush(stdout);
}

/* --- command line ----------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
"usage: upcase-bench -p PORT [-h HOST] [-m SHAPE] [-c N] [-s SIZE] [-q DEPTH]\n"
"         [-d SECONDS] [-w SECONDS] [-g SECONDS] [-T SECONDS] [-B BYTES]\n"
"         [-W BYTES]\n"
"         [-L LOSS_MS] [-r ROUNDS] [--hold=SECONDS] [--ready-file=PATH]\n"
"         [--expect=upper|same] [--label=TEXT] [--server-pid=PID]\n"
"         [-N MAX_CONNS] [--sources=K] [--proxy-v2]\n"
"         [--bulk-beside] [--text=letters|mixed]\n"
"  SHAPE: pingpong (default), pipeline, bulk, udp, idle, churn\n");
	exit(64);
}

static double
arg_num(const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		usage();
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static void
options(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "expect", required_argument, NULL, 'E' },
		{ "label", required_argument, NULL, 'l' },
		{ "hold", required_argument, NULL, 'H' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "shape", required_argument, NULL, 'm' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "sources", required_argument, NULL, 'S' },
		{ "proxy-v2", no_argument, NULL, 'X' },
		{ "bulk-beside", no_argument, NULL, 'Y' },
		{ "max-conns", required_argument, NULL, 'N' },
		{ "text", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned i;
	int ch;

	while ((ch = getopt_long(argc, argv, "p:h:m:c:s:q:d:w:g:T:B:W:L:r:N:",
	    lopts, NULL)) != -1) {
		switch (ch) {
		case 'p': o.port = optarg; break;
		case 'h': o.host = optarg; break;
		case 'm':
			for (i = 0; i < NSHAPES; i++)
				if (strcmp(optarg, shape_names[i]) == 0)
					break;
			if (i == NSHAPES)
				usage();
			o.shape = (enum shape)i;
			break;
		case 'c': o.conns = (unsigned)arg_num(optarg, 1, 1e6); break;
		case 's': o.size = (size_t)arg_num(optarg, 1, 65536); break;
		case 'q': o.depth = (unsigned)arg_num(optarg, 1, QMAX); break;
		case 'd': o.duration = arg_num(optarg, 0.01, 3600); break;
		case 'w': o.warmup = arg_num(optarg, 0, 3600); break;
		case 'g': o.grace = arg_num(optarg, 0, 60); break;
		case 'T': o.cap = arg_num(optarg, 0.1, 86400); break;
		case 'B': o.bulk = (uint64_t)arg_num(optarg, 1, 1e15); break;
		case 'W': o.bulk_warm = (uint64_t)arg_num(optarg, 0, 1e15); break;
		case 'L': o.loss_ms = arg_num(optarg, 1, 60000); break;
		case 'r': o.rounds = (unsigned)arg_num(optarg, 0, 1e6); break;
		case 'H': o.hold = arg_num(optarg, 0, 86400); break;
		case 'R': o.ready_file = optarg; break;
		case 'P': o.server_pid = (long)arg_num(optarg, 1, 1e9); break;
		case 'l': o.label = optarg; break;
		case 'N': o.max_conns = (uint64_t)arg_num(optarg, 1, 1e12); break;
		case 'S': o.sources = (unsigned)arg_num(optarg, 1, 254); break;
		case 'X': o.proxy_v2 = true; break;
		case 'Y': o.beside = true; break;
		case 't':
			if (strcmp(optarg, "letters") == 0)
				o.mixed = false;
			else if (strcmp(optarg, "mixed") == 0)
				o.mixed = true;
			else
				usage();
			break;
		case 'E':
			if (strcmp(optarg, "upper") == 0)
				o.same = false;
			else if (strcmp(optarg, "same") == 0)
				o.same = true;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (o.port == NULL || optind != argc || strchr(o.label, '"') ||
	    strchr(o.label, '\\'))
		usage();
	if (o.conns == 0)
		o.conns = o.shape == SH_BULK ? 1 : o.shape == SH_UDP ? 8 :
		    o.shape == SH_IDLE ? 10000 : 50;
	if (o.depth == 0)
		o.depth = o.shape == SH_PIPELINE ? 16 : o.shape == SH_UDP ?
		    8 : 1;
	if (o.shape == SH_PINGPONG || o.shape == SH_IDLE ||
	    o.shape == SH_CHURN)
		o.depth = 1;
	if ((o.proxy_v2 || o.sources > 0) && o.shape == SH_UDP)
		usage();
	if (o.beside && o.shape != SH_PINGPONG && o.shape != SH_PIPELINE)
		usage();
	/* A message cut inside a character waits for the next one. */
	if (o.mixed && o.shape != SH_BULK)
		usage();
	nconns = o.conns + (o.beside ? 1u : 0u);
	pp_len = o.proxy_v2 ? PP2_LEN : 0;
	if (o.shape == SH_UDP && (o.size < HDR_LEN + 1 || o.size > 65507))
		usage();
	if (o.cap == 0)		/* generous, but never unbounded */
		o.cap = o.warmup + o.duration + o.grace + o.hold + 60;
}

int
main(int argc, char *argv[])
{
	struct addrinfo hints;
	struct sigaction sa;
	struct rlimit rl;
	int rc;

	options(argc, argv);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = o.shape == SH_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(o.host, o.port, &hints, &peer)) != 0) {
		fprintf(stderr, "upcase-bench: %s: %s\n", o.host,
		    gai_strerror(rc));
		return 64;
	}
	if ((o.proxy_v2 || o.sources > 0) && peer->ai_family != AF_INET) {
		fprintf(stderr, "upcase-bench: --proxy-v2 and --sources need "
		    "an IPv4 server address\n");
		return 64;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	pattern_init();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	t_cap = now_ns() + (uint64_t)(o.cap * 1e9);

	switch (o.shape) {
	case SH_UDP:
		run_udp();
		break;
	case SH_IDLE:
		run_idle();
		break;
	case SH_CHURN:
		run_churn();
		break;
	default:
		run_tcp();
		break;
	}
	window_close();
	finish();
	report();
	return (st.errors + st.mismatches + st.unanswered + st.lost +
	    st.excess_bytes > 0 || st.timeout) ? 1 : 0;
}
