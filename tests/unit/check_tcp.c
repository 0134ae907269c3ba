/*
 * check_tcp.c - the TCP connection state machine, driven over an AF_UNIX
 * socketpair with a real epoll set but no network: echo, exit line,
 * half-close, partial writes and backpressure, idle timeout, lingering
 * close, drain, and handing a connection to another engine.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admit.h"
#include "config.h"
#include "listen.h"
#include "stats.h"
#include "tcp.h"
#include "unit.h"

struct rig {
	int		 epfd;
	int		 client;
	struct admit	 lim;
	struct stats	 st;
	struct tcp_engine *e;
	struct tcp_conn	*c;
};

static enum config_transform transform = CONFIG_TRANSFORM_UNICODE;

static void
settings(struct config *cf, const char *exitcmd, size_t pending,
    unsigned idle)
{
	memset(cf, 0, sizeof(*cf));
	cf->transform = transform;
	snprintf(cf->exit_command, sizeof(cf->exit_command), "%s", exitcmd);
	cf->max_pending_output = pending;
	cf->idle_timeout = idle;
	cf->max_connections = 100;
}

static void
rig_open(struct rig *r, const char *exitcmd, size_t pending, unsigned idle)
{
	struct config cf;
	int sv[2];

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	r->client = sv[0];
	r->epfd = epoll_create1(0);
	ck_assert_int_ge(r->epfd, 0);
	atomic_store(&r->lim.max, 100);
	r->e = tcp_engine_new(r->epfd, &r->lim, &r->st);
	ck_assert_ptr_nonnull(r->e);
	settings(&cf, exitcmd, pending, idle);
	tcp_engine_configure(r->e, &cf);
	tcp_engine_clock(r->e, 1000);
	r->c = tcp_conn_add(r->e, sv[1]);
	ck_assert_ptr_nonnull(r->c);
	ck_assert_uint_eq(atomic_load(&r->lim.open), 1);
}

static void
rig_close(struct rig *r)
{
	tcp_engine_free(r->e);
	ck_assert_uint_eq(atomic_load(&r->lim.open), 0);
	close(r->client);
	close(r->epfd);
}

/* Run the engine's events until nothing happens for a short while. */
static void
pump(struct tcp_engine *e, int epfd)
{
	struct epoll_event ev[16];
	int n, i;

	while ((n = epoll_wait(epfd, ev, 16, 20)) > 0)
		for (i = 0; i < n; i++)
			(void)tcp_conn_event(e, ev[i].data.ptr, ev[i].events);
}

/* Read what the client has; returns bytes read, and *eof on EOF. */
static size_t
drain_client(int fd, char *buf, size_t cap, bool *eof)
{
	size_t got = 0;
	ssize_t n;

	*eof = false;
	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			*eof = true;
		break;
	}
	return got;
}

/* The client sends the n bytes of data in one write. */
static void
say(int fd, const void *data, size_t n)
{
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
}

/* Once e ran, the client fd has exactly the n bytes of want; returns
 * whether EOF followed them. */
static bool
hear(struct tcp_engine *e, int epfd, int fd, const char *want, size_t n)
{
	char buf[64];
	bool eof;

	ck_assert_uint_le(n, sizeof(buf));
	pump(e, epfd);
	ck_assert_uint_eq(drain_client(fd, buf, sizeof(buf), &eof), n);
	ck_assert_mem_eq(buf, want, n);
	return eof;
}

START_TEST(test_echo)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "Hello, world 123\n", 17);
	ck_assert(!hear(r.e, r.epfd, r.client, "HELLO, WORLD 123\n", 17));
	ck_assert_uint_eq(tcp_count(r.e), 1);
	ck_assert_uint_eq(stats_get(&r.st.tcp_bytes_in), 17);
	ck_assert_uint_eq(stats_get(&r.st.tcp_bytes_out), 17);
	ck_assert_uint_eq(stats_get(&r.st.conns_total), 1);
	ck_assert_uint_eq(stats_get(&r.st.conns_closed), 0);
	/* 250 ms later it closes: one in the (100 ms, 1 s] bucket. */
	tcp_engine_clock_ms(r.e, 1000 * 1000 + 250);
	tcp_close_all(r.e);
	ck_assert_uint_eq(stats_get(&r.st.conns_closed), 1);
	ck_assert_uint_eq(stats_get(&r.st.duration_ms), 250);
	ck_assert_uint_eq(stats_duration_bound(2), 100);
	ck_assert_uint_eq(stats_duration_bound(3), 1000);
	ck_assert_uint_eq(stats_get(&r.st.duration[2]), 0);
	ck_assert_uint_eq(stats_get(&r.st.duration[3]), 1);
	rig_close(&r);
}
END_TEST

/* The lame duck is a state the PROXY code asks about; it survives a
 * reconfiguration and changes nothing for an ordinary connection. */
START_TEST(test_lame_duck_serves)
{
	struct rig r;
	struct config cf;

	rig_open(&r, "exit", 65536, 0);
	ck_assert(!tcp_lame_duck(r.e));
	tcp_set_lame_duck(r.e, true);
	settings(&cf, "exit", 65536, 0);
	tcp_engine_configure(r.e, &cf);
	ck_assert(tcp_lame_duck(r.e));
	say(r.client, "still\n", 6);
	ck_assert(!hear(r.e, r.epfd, r.client, "STILL\n", 6));
	tcp_set_lame_duck(r.e, false);
	ck_assert(!tcp_lame_duck(r.e));
	rig_close(&r);
}
END_TEST

START_TEST(test_exit_line_lingering_close)
{
	struct rig r;
	char buf[64];
	bool eof;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "one\nex", 6);
	hear(r.e, r.epfd, r.client, "ONE\n", 4);
	say(r.client, "it\r\nlost\n", 9);
	pump(r.e, r.epfd);
	/* Our FIN came, nothing after "ONE\n"; we linger for theirs. */
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
	ck_assert_uint_eq(tcp_count(r.e), 1);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	pump(r.e, r.epfd);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_linger_times_out)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "exit\n", 5);
	pump(r.e, r.epfd);
	ck_assert_uint_eq(tcp_count(r.e), 1);
	tcp_engine_clock(r.e, 1000 + TCP_LINGER);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);
	tcp_engine_clock(r.e, 1000 + TCP_LINGER + 1);
	ck_assert_uint_eq(tcp_sweep(r.e), 1);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_half_close_answers_all)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	/* The last line is unfinished and could still become "exit". */
	say(r.client, "abc\nexi", 7);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert(hear(r.e, r.epfd, r.client, "ABC\nEXI", 7));
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_backpressure_and_partial_writes)
{
	enum { TOTAL = 1 << 20, MAXP = 8192 };
	struct rig r;
	char *in = malloc(TOTAL), *out = malloc(TOTAL + 1);
	size_t sent = 0, got = 0, i;
	int small = 4096;
	bool eof, stalled = false;
	ssize_t n;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < TOTAL; i++)
		in[i] = "abcXYZ\n\x80"[i % 8];
	rig_open(&r, "", MAXP, 0);
	/* Small kernel buffers force partial writes on the server side. */
	setsockopt(r.client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(r.client, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	/* Phase 1: send without reading until the engine stops reading. */
	for (i = 0; i < 2000 && sent < TOTAL; i++) {
		n = write(r.client, in + sent, TOTAL - sent < 4096 ?
		    TOTAL - sent : 4096);
		if (n > 0)
			sent += (size_t)n;
		pump(r.e, r.epfd);
		if (n < 0 && !tcp_conn_reading(r.c)) {
			stalled = true;
			break;
		}
	}
	ck_assert(stalled);
	ck_assert_uint_ge(tcp_conn_pending(r.c), 1);
	ck_assert_uint_eq(stats_get(&r.st.pending_out), tcp_conn_pending(r.c));
	ck_assert_uint_le(tcp_conn_pending(r.c), MAXP + 128);
	/* Phase 2: read and send until everything came back. */
	for (i = 0; i < 200000 && got < TOTAL; i++) {
		if (sent < TOTAL) {
			n = write(r.client, in + sent, TOTAL - sent);
			if (n > 0)
				sent += (size_t)n;
		}
		pump(r.e, r.epfd);
		ck_assert_uint_le(tcp_conn_pending(r.c), MAXP + 128);
		ck_assert_uint_eq(stats_get(&r.st.pending_out),
		    tcp_conn_pending(r.c));
		got += drain_client(r.client, out + got, TOTAL - got, &eof);
	}
	ck_assert_uint_eq(got, TOTAL);
	for (i = 0; i < TOTAL; i++)
		ck_assert_int_eq(out[i], "ABCXYZ\n\x80"[i % 8]);
	ck_assert_uint_eq(tcp_conn_pending(r.c), 0);
	rig_close(&r);
	free(in);
	free(out);
}
END_TEST

/*
 * max_pending_output bounds the queue from the first read on: a client
 * that sends a burst and reads nothing gets no more than the limit
 * queued, even when "unicode" output is longer than its input (U+0250
 * is 2 bytes, its uppercase U+2C6F 3).
 */
START_TEST(test_first_read_capped)
{
	enum { MAXP = 4096, TOTAL = 2 << 20 };
	struct rig r;
	char *in = malloc(TOTAL);
	size_t i, sent = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(in);
	for (i = 0; i + 1 < TOTAL; i += 2)
		memcpy(in + i, "\xc9\x90", 2);
	rig_open(&r, "", MAXP, 0);
	/* Until the socket back to the client is full, nothing queues. */
	for (i = 0; i < 2000 && sent < TOTAL; i++) {
		n = write(r.client, in + sent, TOTAL - sent);
		if (n > 0)
			sent += (size_t)n;
		pump(r.e, r.epfd);
		ck_assert_uint_le(tcp_conn_pending(r.c), MAXP + 128);
		if (n < 0 && !tcp_conn_reading(r.c))
			break;
	}
	ck_assert(!tcp_conn_reading(r.c));
	ck_assert_uint_ge(tcp_conn_pending(r.c), MAXP / 2);
	rig_close(&r);
	free(in);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct rig r;
	char buf[8];
	bool eof;

	rig_open(&r, "exit", 65536, 5);
	tcp_engine_clock(r.e, 1004);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);
	/* Traffic resets the clock of the connection. */
	say(r.client, "x", 1);
	pump(r.e, r.epfd);
	tcp_engine_clock(r.e, 1009);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);
	tcp_engine_clock(r.e, 1010);
	ck_assert_uint_eq(tcp_sweep(r.e), 1);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 1);
	ck_assert(eof);
	rig_close(&r);
}
END_TEST

START_TEST(test_crowded_evicts_idle_first)
{
	struct rig r;
	struct config cf;
	char buf[8];
	bool eof;

	rig_open(&r, "exit", 65536, 300);
	settings(&cf, "exit", 65536, 300);
	cf.crowded_idle_timeout = 3;
	tcp_engine_configure(r.e, &cf);
	/* Not crowded: idle 5 s is fine under idle_timeout = 300. */
	tcp_engine_clock(r.e, 1005);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);
	/* 90 of 100 open: crowded, the 3 s grace applies. */
	atomic_store(&r.lim.open, 90);
	ck_assert(admit_crowded(&r.lim));
	ck_assert_uint_eq(tcp_sweep(r.e), 1);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
	atomic_store(&r.lim.open, 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_crowded_spares_the_active)
{
	struct rig r;
	struct config cf;

	rig_open(&r, "exit", 65536, 300);
	settings(&cf, "exit", 65536, 300);
	cf.crowded_idle_timeout = 3;
	tcp_engine_configure(r.e, &cf);
	atomic_store(&r.lim.open, 95);
	tcp_engine_clock(r.e, 1003);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);	/* idle 3 s: not more */
	say(r.client, "x", 1);
	pump(r.e, r.epfd);
	tcp_engine_clock(r.e, 1006);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);	/* active at 1003 */
	ck_assert(!admit_crowded(&(struct admit){ .open = 89,
	    .max = 100 }));
	atomic_store(&r.lim.open, 1);
	rig_close(&r);
}
END_TEST

START_TEST(test_drain_answers_pending)
{
	struct rig r;
	char buf[64];
	bool eof;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "abc\nde", 6);
	tcp_drain(r.e, 1005);
	/* It just talked: not let go before a drain tick without input. */
	ck_assert(!hear(r.e, r.epfd, r.client, "ABC\nDE", 6));
	tcp_drain_tick(r.e);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(!eof);
	tcp_drain_tick(r.e);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	pump(r.e, r.epfd);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

/* Idle for a second or more when the stop comes: our FIN at once. */
START_TEST(test_drain_idle_let_go_at_once)
{
	struct rig r;
	char buf[8];
	bool eof;

	rig_open(&r, "exit", 65536, 0);
	tcp_engine_clock(r.e, 1002);
	tcp_drain(r.e, 1010);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
	rig_close(&r);
}
END_TEST

/* A client still sending gets every byte before its FIN answered. */
START_TEST(test_drain_streaming_client_answered)
{
	struct rig r;
	char buf[4096], line[32];
	size_t got = 0, sent = 0;
	bool eof = false;
	int i, n;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "go\n", 3);
	pump(r.e, r.epfd);
	sent += 3;
	tcp_drain(r.e, 1010);
	for (i = 0; i < 10; i++) {	/* input between every two ticks */
		n = snprintf(line, sizeof(line), "line %d\n", i);
		ck_assert_int_eq(write(r.client, line, (size_t)n), n);
		sent += (size_t)n;
		pump(r.e, r.epfd);
		tcp_drain_tick(r.e);
		got += drain_client(r.client, buf, sizeof(buf), &eof);
		ck_assert(!eof);
	}
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	pump(r.e, r.epfd);
	got += drain_client(r.client, buf, sizeof(buf), &eof);
	ck_assert_uint_eq(got, sent);
	ck_assert(eof);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_drain_deadline)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	tcp_drain(r.e, 1003);
	pump(r.e, r.epfd);
	ck_assert_uint_eq(tcp_count(r.e), 1);	/* lingering */
	tcp_engine_clock(r.e, 1003);
	ck_assert_uint_eq(tcp_sweep(r.e), 1);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	rig_close(&r);
}
END_TEST

/* A non-blocking listening AF_UNIX socket (abstract name) and n
 * clients connected to it, waiting in its accept queue. */
static int
queue_open(int *clients, int n)
{
	struct sockaddr_un sa;
	socklen_t len;
	int lfd, i;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(lfd, 0);
	/* An autobound abstract address: bind with just the family. */
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa,
	    sizeof(sa_family_t)), 0);
	ck_assert_int_eq(listen(lfd, 128), 0);
	len = sizeof(sa);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	for (i = 0; i < n; i++) {
		clients[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(clients[i], 0);
		ck_assert_int_eq(connect(clients[i], (struct sockaddr *)&sa,
		    len), 0);
	}
	return lfd;
}

/* A full batch says "more"; only an empty queue says OK. */
START_TEST(test_accept_until_empty)
{
	struct admit lim;
	struct stats st;
	struct tcp_engine *e;
	int clients[70], lfd, epfd, i;

	memset(&lim, 0, sizeof(lim));
	memset(&st, 0, sizeof(st));
	atomic_store(&lim.max, 100);
	epfd = epoll_create1(0);
	e = tcp_engine_new(epfd, &lim, &st);
	ck_assert_ptr_nonnull(e);
	lfd = queue_open(clients, 70);
	ck_assert_int_eq(tcp_accept(e, lfd), TCP_ACCEPT_MORE);
	ck_assert_uint_eq(tcp_count(e), 64);
	ck_assert_int_eq(tcp_accept(e, lfd), TCP_ACCEPT_OK);
	ck_assert_uint_eq(tcp_count(e), 70);
	ck_assert_int_eq(tcp_accept(e, lfd), TCP_ACCEPT_OK);
	ck_assert_uint_eq(tcp_count(e), 70);
	tcp_engine_free(e);
	for (i = 0; i < 70; i++)
		close(clients[i]);
	close(lfd);
	close(epfd);
}
END_TEST

/*
 * Accepted while stopping (the accept queue emptied at the stop), before
 * its client said anything: a whole drain tick to speak, then answered.
 */
/* accept(2)'s errors: drained, skip that one, or back off. */
START_TEST(test_accept_errors)
{
	static const int skip[] = { EINTR, ECONNABORTED, EPROTO, EPERM,
	    ENETDOWN, ENETUNREACH, EHOSTDOWN, EHOSTUNREACH, ETIMEDOUT };
	static const int backoff[] = { EMFILE, ENFILE, ENOBUFS, ENOMEM,
	    EBADF, EINVAL };
	size_t i;

	ck_assert_int_eq(listen_accept_error(EAGAIN), LISTEN_ACCEPT_DRAINED);
	ck_assert_int_eq(listen_accept_error(EWOULDBLOCK),
	    LISTEN_ACCEPT_DRAINED);
	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		ck_assert_msg(listen_accept_error(skip[i]) ==
		    LISTEN_ACCEPT_SKIP, "errno %d", skip[i]);
	for (i = 0; i < sizeof(backoff) / sizeof(backoff[0]); i++)
		ck_assert_msg(listen_accept_error(backoff[i]) ==
		    LISTEN_ACCEPT_BACKOFF, "errno %d", backoff[i]);
}
END_TEST

START_TEST(test_accept_while_draining_gets_a_tick)
{
	struct admit lim;
	struct stats st;
	struct tcp_engine *e;
	struct config cf;
	char buf[16];
	bool eof;
	int client, lfd, epfd;

	memset(&lim, 0, sizeof(lim));
	memset(&st, 0, sizeof(st));
	atomic_store(&lim.max, 100);
	epfd = epoll_create1(0);
	e = tcp_engine_new(epfd, &lim, &st);
	ck_assert_ptr_nonnull(e);
	settings(&cf, "exit", 65536, 0);
	tcp_engine_configure(e, &cf);
	tcp_engine_clock(e, 1000);
	lfd = queue_open(&client, 1);
	tcp_drain(e, 1010);
	ck_assert_int_eq(tcp_accept(e, lfd), TCP_ACCEPT_OK);
	ck_assert_uint_eq(tcp_count(e), 1);
	tcp_drain_tick(e);
	ck_assert_uint_eq(drain_client(client, buf, sizeof(buf), &eof), 0);
	ck_assert(!eof);
	say(client, "late\n", 5);
	ck_assert(!hear(e, epfd, client, "LATE\n", 5));
	tcp_engine_free(e);
	close(client);
	close(lfd);
	close(epfd);
}
END_TEST

START_TEST(test_hand_over)
{
	struct rig r;
	struct tcp_engine *e2;
	struct tcp_conn *list, *next;
	struct stats st2;
	struct config cf;
	int ep2 = epoll_create1(0);

	memset(&st2, 0, sizeof(st2));
	rig_open(&r, "exit", 65536, 0);
	say(r.client, "ex", 2);	/* held */
	pump(r.e, r.epfd);
	e2 = tcp_engine_new(ep2, &r.lim, &st2);
	settings(&cf, "exit", 65536, 0);
	tcp_engine_configure(e2, &cf);
	list = tcp_detach_all(r.e);
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	for (; list != NULL; list = next) {
		next = tcp_conn_next_detached(list);
		ck_assert(tcp_adopt(e2, list));
	}
	ck_assert_uint_eq(tcp_count(e2), 1);
	say(r.client, "tx\n", 3);
	hear(e2, ep2, r.client, "EXTX\n", 5);
	ck_assert_uint_eq(atomic_load(&r.lim.open), 1);
	tcp_engine_free(e2);
	close(ep2);
	rig_close(&r);
}
END_TEST

/* A reset engine is a new one: its connections closed (counted where
 * they were), its settings the defaults, its counts in the new stats. */
START_TEST(test_engine_reset)
{
	struct rig r;
	struct admit lim2;
	struct stats st2;
	char buf[64];
	bool eof;
	int ep2 = epoll_create1(0), sv[2];

	ck_assert_int_ge(ep2, 0);
	memset(&lim2, 0, sizeof(lim2));
	memset(&st2, 0, sizeof(st2));
	atomic_store(&lim2.max, 100);
	rig_open(&r, "quit", 65536, 0);
	say(r.client, "qu", 2);			/* held */
	pump(r.e, r.epfd);
	tcp_set_lame_duck(r.e, true);
	tcp_engine_reset(r.e, ep2, &lim2, &st2);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(atomic_load(&r.lim.open), 0);
	ck_assert_uint_eq(stats_get(&r.st.conns_closed), 1);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
	ck_assert(!tcp_lame_duck(r.e));
	/* A new connection: "exit" (the default) ends it, "quit" not. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	tcp_engine_clock(r.e, 1000);
	ck_assert_ptr_nonnull(tcp_conn_add(r.e, sv[1]));
	ck_assert_uint_eq(atomic_load(&lim2.open), 1);
	ck_assert_uint_eq(stats_get(&st2.conns_total), 1);
	say(sv[0], "quit\nexit\nlost\n", 15);
	ck_assert(hear(r.e, ep2, sv[0], "QUIT\n", 5));
	ck_assert_uint_eq(stats_get(&st2.tcp_bytes_out), 5);
	tcp_engine_free(r.e);
	ck_assert_uint_eq(atomic_load(&lim2.open), 0);
	close(sv[0]);
	close(r.client);
	close(r.epfd);
	close(ep2);
}
END_TEST

START_TEST(test_reset_by_peer)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	close(r.client);
	r.client = -1;
	pump(r.e, r.epfd);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	tcp_engine_free(r.e);
	ck_assert_uint_eq(atomic_load(&r.lim.open), 0);
	close(r.epfd);
}
END_TEST

START_TEST(test_unicode_split_character)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	/* e-acute cut after its first byte: nothing can be sent yet */
	say(r.client, "caf\xc3", 4);
	hear(r.e, r.epfd, r.client, "CAF", 3);
	say(r.client, "\xa9 \xc3\x9f\n", 5);
	/* The sharp s stays. */
	hear(r.e, r.epfd, r.client, "\xc3\x89 \xc3\x9f\n", 6);
	rig_close(&r);
}
END_TEST

START_TEST(test_unicode_grows_on_tcp)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	/* U+0250 (2 bytes) -> U+2C6F (3 bytes); U+0131 -> 'I' (1 byte) */
	say(r.client, "\xc9\x90\xc4\xb1", 4);
	hear(r.e, r.epfd, r.client, "\xe2\xb1\xafI", 4);
	rig_close(&r);
}
END_TEST

START_TEST(test_unicode_cut_at_eof_and_exit)
{
	struct rig r;

	rig_open(&r, "exit", 65536, 0);
	/* A character cut by the client's FIN goes back as it is. */
	say(r.client, "a\xe2\x82", 3);
	ck_assert_int_eq(shutdown(r.client, SHUT_WR), 0);
	ck_assert(hear(r.e, r.epfd, r.client, "A\xe2\x82", 3));
	rig_close(&r);
	/* ... and by the exit line: "\xc3\nexit\n" */
	rig_open(&r, "exit", 65536, 0);
	say(r.client, "\xc3\nexit\n", 7);
	ck_assert(hear(r.e, r.epfd, r.client, "\xc3\n", 2));
	rig_close(&r);
}
END_TEST

START_TEST(test_ascii_transform_leaves_utf8)
{
	struct rig r;

	transform = CONFIG_TRANSFORM_ASCII;
	rig_open(&r, "exit", 65536, 0);
	say(r.client, "caf\xc3\xa9", 5);
	hear(r.e, r.epfd, r.client, "CAF\xc3\xa9", 5);
	rig_close(&r);
	transform = CONFIG_TRANSFORM_UNICODE;
}
END_TEST

START_TEST(test_switch_to_ascii_flushes_carry)
{
	struct rig r;
	struct config cf;
	char buf[64];
	bool eof;

	rig_open(&r, "exit", 65536, 0);
	say(r.client, "x\xc3", 2);
	pump(r.e, r.epfd);
	ck_assert_uint_eq(drain_client(r.client, buf, sizeof(buf), &eof), 1);
	transform = CONFIG_TRANSFORM_ASCII;
	settings(&cf, "exit", 65536, 0);
	transform = CONFIG_TRANSFORM_UNICODE;
	tcp_engine_configure(r.e, &cf);
	say(r.client, "\xa9", 1);
	hear(r.e, r.epfd, r.client, "\xc3\xa9", 2);	/* no byte lost */
	rig_close(&r);
}
END_TEST

/*
 * Another descriptor of a connection's socket (the configuration parser,
 * forked during a reload, holds a copy of every descriptor for a moment)
 * keeps the socket open past our close(), and with it its registration
 * in epoll: that must not outlive the connection, or epoll hands back
 * the freed connection (its socket, at EOF, stays readable).
 */
START_TEST(test_closed_conn_leaves_epoll)
{
	struct rig r;
	struct epoll_event ev[4];
	struct tcp_conn *c;
	int sv[2], copy;

	rig_open(&r, "exit", 65536, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	copy = dup(sv[1]);
	ck_assert_int_ge(copy, 0);
	c = tcp_conn_add(r.e, sv[1]);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
	ck_assert_int_eq(epoll_wait(r.epfd, ev, 4, 1000), 1);
	ck_assert_ptr_eq(ev[0].data.ptr, c);
	ck_assert(!tcp_conn_event(r.e, c, ev[0].events));	/* closed */
	ck_assert_uint_eq(tcp_count(r.e), 1);
	/* Nothing more may come for c (not handed on: it is freed). */
	ck_assert_int_eq(epoll_wait(r.epfd, ev, 4, 0), 0);
	close(copy);
	close(sv[0]);
	rig_close(&r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tcp");
	TCase *tc = tcase_create("tcp");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_lame_duck_serves);
	tcase_add_test(tc, test_exit_line_lingering_close);
	tcase_add_test(tc, test_linger_times_out);
	tcase_add_test(tc, test_half_close_answers_all);
	tcase_add_test(tc, test_backpressure_and_partial_writes);
	tcase_add_test(tc, test_first_read_capped);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_crowded_evicts_idle_first);
	tcase_add_test(tc, test_crowded_spares_the_active);
	tcase_add_test(tc, test_drain_answers_pending);
	tcase_add_test(tc, test_drain_idle_let_go_at_once);
	tcase_add_test(tc, test_drain_streaming_client_answered);
	tcase_add_test(tc, test_drain_deadline);
	tcase_add_test(tc, test_accept_until_empty);
	tcase_add_test(tc, test_accept_while_draining_gets_a_tick);
	tcase_add_test(tc, test_accept_errors);
	tcase_add_test(tc, test_hand_over);
	tcase_add_test(tc, test_engine_reset);
	tcase_add_test(tc, test_reset_by_peer);
	tcase_add_test(tc, test_closed_conn_leaves_epoll);
	tcase_add_test(tc, test_unicode_split_character);
	tcase_add_test(tc, test_unicode_grows_on_tcp);
	tcase_add_test(tc, test_unicode_cut_at_eof_and_exit);
	tcase_add_test(tc, test_ascii_transform_leaves_utf8);
	tcase_add_test(tc, test_switch_to_ascii_flushes_carry);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
