/*
 * check_tcp_proxy.c - the TCP engine behind a balancer: the PROXY header
 * phase, and the access rules judging the real client (also when a
 * reload brings new rules), driven over an AF_UNIX socketpair with a real epoll set, the
 * socket's peer address given as if accept() had returned it.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl.h"
#include "admit.h"
#include "config.h"
#include "srclimit.h"
#include "stats.h"
#include "tcp.h"
#include "unit.h"
#include "unit_acl.h"

#define BALANCER	"10.0.0.5"	/* trusted: in from */
#define STRANGER	"10.9.9.9"	/* not in from */

/* A v1 header naming client 192.0.2.7 port 5000. */
static const char v1[] = "PROXY TCP4 192.0.2.7 198.51.100.1 5000 7\r\n";

/* v2: signature, PROXY over TCP4, 12 address bytes: 192.0.2.8:4000. */
static const uint8_t v2[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c,
	192, 0, 2, 8,  198, 51, 100, 1,  0x0f, 0xa0,  0x00, 0x07
};

/* v2 LOCAL (a health check): no address. */
static const uint8_t v2_local[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x20, 0x00, 0x00, 0x00
};

struct rig {
	int		 epfd;
	struct admit	 adm;
	struct admit_rules rules;
	struct stats	 st;
	struct tcp_engine *e;
};

static void
sin_of(const char *ip, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void
rig_open(struct rig *r, unsigned per_source, unsigned timeout)
{
	struct config cf;

	memset(r, 0, sizeof(*r));
	r->epfd = epoll_create1(0);
	ck_assert_int_ge(r->epfd, 0);
	atomic_store(&r->adm.max, 100);
	r->adm.per_source = srclimit_new();
	ck_assert_ptr_nonnull(r->adm.per_source);
	srclimit_set_max(r->adm.per_source, per_source);
	r->rules.proxy_from = unit_acl("10.0.0.0/24", NULL);
	r->e = tcp_engine_new(r->epfd, &r->adm, &r->st);
	ck_assert_ptr_nonnull(r->e);
	memset(&cf, 0, sizeof(cf));
	cf.transform = CONFIG_TRANSFORM_ASCII;
	snprintf(cf.exit_command, sizeof(cf.exit_command), "exit");
	cf.max_pending_output = 65536;
	cf.max_connections = 100;
	cf.proxy_timeout = timeout;
	tcp_engine_configure(r->e, &cf);
	tcp_engine_rules(r->e, &r->rules);
	tcp_engine_clock(r->e, 1000);
}

/* A connection from ip; returns the client's end, *c the engine's. */
static int
rig_connect(struct rig *r, const char *ip, struct tcp_conn **c)
{
	struct sockaddr_in sin;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	sin_of(ip, &sin);
	*c = tcp_conn_accepted(r->e, sv[1], (struct sockaddr *)&sin);
	return sv[0];
}

static void
rig_close(struct rig *r)
{
	tcp_engine_free(r->e);
	ck_assert_uint_eq(atomic_load(&r->adm.open), 0);
	srclimit_free(r->adm.per_source);
	acl_free(r->rules.proxy_from);
	close(r->epfd);
}

static void
pump(struct rig *r)
{
	struct epoll_event ev[16];
	int n, i;

	while ((n = epoll_wait(r->epfd, ev, 16, 20)) > 0)
		for (i = 0; i < n; i++)
			(void)tcp_conn_event(r->e, ev[i].data.ptr,
			    ev[i].events);
}

/* What the client has now: bytes read; *eof on EOF. */
static size_t
take(int fd, char *buf, size_t cap, bool *eof)
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
		if (n == 0 || errno == ECONNRESET)
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

/* The client sends data[from..to) a byte at a time, the engine running
 * after each: no answer and no EOF meanwhile. */
static void
dribble(struct rig *r, int fd, const char *data, size_t from, size_t to)
{
	char buf[64];
	bool eof;
	size_t i;

	for (i = from; i < to; i++) {
		ck_assert_int_eq(write(fd, data + i, 1), 1);
		pump(r);
		ck_assert_uint_eq(take(fd, buf, sizeof(buf), &eof), 0);
		ck_assert(!eof);
	}
}

/* Once the engine ran, the client has exactly the n bytes of want;
 * returns whether EOF followed them. */
static bool
hear(struct rig *r, int fd, const char *want, size_t n)
{
	char buf[64];
	bool eof;

	ck_assert_uint_le(n, sizeof(buf));
	pump(r);
	ck_assert_uint_eq(take(fd, buf, sizeof(buf), &eof), n);
	ck_assert_mem_eq(buf, want, n);
	return eof;
}

/* The client's connection was closed without a byte. */
static void
closed_unanswered(int fd)
{
	char buf[64];
	bool eof;

	ck_assert_uint_eq(take(fd, buf, sizeof(buf), &eof), 0);
	ck_assert(eof);
}

static bool
peer_is(const struct tcp_conn *c, const char *ip)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)(const void *)tcp_conn_peer(c);
	struct sockaddr_in want;

	sin_of(ip, &want);
	return sin->sin_family == AF_INET &&
	    sin->sin_addr.s_addr == want.sin_addr.s_addr;
}

static unsigned
count_of(struct rig *r, const char *ip)
{
	struct sockaddr_in sin;

	sin_of(ip, &sin);
	return srclimit_count(r->adm.per_source, (struct sockaddr *)&sin);
}

START_TEST(test_header_byte_by_byte)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	ck_assert_ptr_nonnull(c);
	dribble(&r, fd, v1, 0, sizeof(v1) - 1);
	ck_assert(peer_is(c, "192.0.2.7"));
	say(fd, "hi\n", 3);
	hear(&r, fd, "HI\n", 3);
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 0);
	ck_assert_uint_eq(stats_get(&r.st.conns_total), 1);	/* once whole */
	/* payload only: the header is not counted as received */
	ck_assert_uint_eq(stats_get(&r.st.tcp_bytes_in), 3);
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_v2_header_and_payload_in_one_write)
{
	struct rig r;
	struct tcp_conn *c;
	uint8_t msg[sizeof(v2) + 6];
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	memcpy(msg, v2, sizeof(v2));
	memcpy(msg + sizeof(v2), "hello\n", 6);
	say(fd, msg, sizeof(msg));
	hear(&r, fd, "HELLO\n", 6);
	ck_assert(peer_is(c, "192.0.2.8"));
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_v2_local_keeps_the_balancer)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, v2_local, sizeof(v2_local));
	say(fd, "ping\n", 5);
	hear(&r, fd, "PING\n", 5);
	ck_assert(peer_is(c, BALANCER));
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_bad_header_closed_unanswered)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, "PROXY TCP9 x\r\nhello\n", 20);
	pump(&r);
	closed_unanswered(fd);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 1);
	/* refused, not served: in no other count */
	ck_assert_uint_eq(stats_get(&r.st.conns_total), 0);
	ck_assert_uint_eq(stats_get(&r.st.conns_closed), 0);
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_no_header_is_an_error)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, "hello\n", 6);	/* not a header */
	pump(&r);
	closed_unanswered(fd);
	close(fd);
	/* And a trusted connection closed before any byte. */
	fd = rig_connect(&r, BALANCER, &c);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	pump(&r);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 2);
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_header_timeout)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 3);
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, v1, 10);	/* a part only */
	pump(&r);
	tcp_engine_clock(r.e, 1003);
	ck_assert_uint_eq(tcp_sweep(r.e), 0);		/* 3 s: not more */
	tcp_engine_clock(r.e, 1004);
	ck_assert_uint_eq(tcp_sweep(r.e), 1);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	closed_unanswered(fd);
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 1);
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_untrusted_header_is_data)
{
	struct rig r;
	struct tcp_conn *c;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, STRANGER, &c);
	say(fd, v1, sizeof(v1) - 1);
	hear(&r, fd, "PROXY TCP4 192.0.2.7 198.51.100.1 5000 7\r\n",
	    sizeof(v1) - 1);	/* no lowercase in it: the same back */
	say(fd, "proxy tcp4\n", 11);
	hear(&r, fd, "PROXY TCP4\n", 11);
	ck_assert(peer_is(c, STRANGER));
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 0);
	close(fd);
	rig_close(&r);
}
END_TEST

START_TEST(test_per_source_moves_to_the_client)
{
	struct rig r;
	struct tcp_conn *c1, *c2;
	int fd1, fd2;

	rig_open(&r, 1, 5);		/* one connection per source */
	/*
	 * The balancer's connections wait for their headers under the
	 * global cap only: two of them are in, neither counted for it.
	 */
	fd1 = rig_connect(&r, BALANCER, &c1);
	fd2 = rig_connect(&r, BALANCER, &c2);
	ck_assert_ptr_nonnull(c1);
	ck_assert_ptr_nonnull(c2);
	ck_assert_uint_eq(count_of(&r, BALANCER), 0);
	say(fd1, v1, sizeof(v1) - 1);
	pump(&r);
	ck_assert_uint_eq(count_of(&r, BALANCER), 0);
	ck_assert_uint_eq(count_of(&r, "192.0.2.7"), 1);
	/* The same client again is over its cap. */
	say(fd2, v1, sizeof(v1) - 1);
	say(fd2, "x\n", 2);
	pump(&r);
	closed_unanswered(fd2);
	ck_assert_uint_eq(stats_get(&r.st.refused_source), 1);
	ck_assert_uint_eq(count_of(&r, BALANCER), 0);
	ck_assert_uint_eq(count_of(&r, "192.0.2.7"), 1);
	ck_assert_uint_eq(tcp_count(r.e), 1);
	close(fd2);
	/* The first one is served. */
	say(fd1, "ok\n", 3);
	hear(&r, fd1, "OK\n", 3);
	close(fd1);
	pump(&r);
	ck_assert_uint_eq(count_of(&r, "192.0.2.7"), 0);
	rig_close(&r);
}
END_TEST

START_TEST(test_header_phase_handed_over)
{
	struct rig r;
	struct tcp_engine *e2;
	struct tcp_conn *c, *d;
	int fd;

	rig_open(&r, 0, 5);
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, v1, 12);
	pump(&r);
	e2 = tcp_engine_new(r.epfd, &r.adm, &r.st);
	ck_assert_ptr_nonnull(e2);
	tcp_engine_rules(e2, &r.rules);
	tcp_engine_clock(e2, 1000);
	d = tcp_detach_all(r.e);
	ck_assert_ptr_eq(d, c);
	ck_assert(tcp_adopt(e2, d));
	tcp_engine_free(r.e);
	r.e = e2;
	say(fd, v1 + 12, sizeof(v1) - 13);
	say(fd, "abc\n", 4);
	hear(&r, fd, "ABC\n", 4);
	ck_assert(peer_is(c, "192.0.2.7"));
	close(fd);
	rig_close(&r);
}
END_TEST

/*
 * The stop comes while a balancer's connection is within its header:
 * the drain leaves it be (it is on the header list, not the active one,
 * and has said nothing yet), and once the header is whole it gets a
 * drain tick to speak, like a connection accepted while stopping.
 */
START_TEST(test_header_phase_through_the_drain)
{
	struct rig r;
	struct tcp_conn *c, *a;
	char buf[64];
	bool eof;
	int fd, fa;

	rig_open(&r, 0, 5);
	fa = rig_connect(&r, STRANGER, &a);	/* an ordinary client */
	ck_assert_ptr_nonnull(a);
	fd = rig_connect(&r, BALANCER, &c);
	ck_assert_ptr_nonnull(c);
	say(fd, v1, 5);
	pump(&r);
	tcp_engine_clock(r.e, 1005);		/* a is idle: let go at once */
	tcp_drain(r.e, 1030);
	ck_assert_uint_eq(tcp_count(r.e), 2);
	dribble(&r, fd, v1, 5, sizeof(v1) - 1);
	ck_assert(peer_is(c, "192.0.2.7"));
	tcp_drain_tick(r.e);			/* its tick to speak */
	say(fd, "hi\n", 3);
	ck_assert(!hear(&r, fd, "HI\n", 3));
	tcp_drain_tick(r.e);
	tcp_drain_tick(r.e);			/* quiet for a tick: our FIN */
	(void)take(fd, buf, sizeof(buf), &eof);
	ck_assert(eof);
	/* Both clients' FINs close what is left, off the right lists. */
	ck_assert_int_eq(shutdown(fa, SHUT_WR), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	pump(&r);
	ck_assert_uint_eq(tcp_count(r.e), 0);
	ck_assert_uint_eq(stats_get(&r.st.refused_proxy), 0);
	close(fd);
	close(fa);
	rig_close(&r);
}
END_TEST

START_TEST(test_new_rules_close_denied)
{
	struct rig r;
	struct admit_rules next;
	struct tcp_conn *c1, *c2, *c3;
	char buf[64];
	bool eof;
	int fd1, fd2, fd3;

	rig_open(&r, 0, 5);
	fd1 = rig_connect(&r, STRANGER, &c1);
	fd2 = rig_connect(&r, "10.9.8.7", &c2);
	fd3 = rig_connect(&r, BALANCER, &c3);	/* client 192.0.2.7 */
	say(fd3, v1, sizeof(v1) - 1);
	pump(&r);
	ck_assert_uint_eq(tcp_count(r.e), 3);
	next = r.rules;
	next.access = unit_acl(NULL, "10.9.9.0/24");	/* STRANGER's */
	tcp_engine_rules(r.e, &next);
	ck_assert_uint_eq(tcp_count(r.e), 2);
	closed_unanswered(fd1);
	/* served, so a close, not a refusal */
	ck_assert_uint_eq(stats_get(&r.st.closed_denied), 1);
	ck_assert_uint_eq(stats_get(&r.st.refused_denied), 0);
	/* Deny the client behind the balancer: its connection goes too. */
	acl_free(next.access);
	next.access = unit_acl(NULL, "192.0.2.0/24");
	tcp_engine_rules(r.e, &r.rules);
	tcp_engine_rules(r.e, &next);
	ck_assert_uint_eq(tcp_count(r.e), 1);
	closed_unanswered(fd3);
	say(fd2, "ok\n", 3);
	pump(&r);
	ck_assert_uint_eq(take(fd2, buf, sizeof(buf), &eof), 3);
	ck_assert_uint_eq(stats_get(&r.st.closed_denied), 2);
	ck_assert_uint_eq(stats_get(&r.st.refused_denied), 0);
	close(fd1);
	close(fd2);
	close(fd3);
	rig_close(&r);
	acl_free(next.access);
}
END_TEST

START_TEST(test_access_judges_the_client_not_the_balancer)
{
	struct rig r;
	struct tcp_conn *c;
	uint8_t msg[sizeof(v2) + 3];
	int fd;

	rig_open(&r, 0, 5);
	/* Only 192.0.2.0/24 may in: not the balancer itself. */
	r.rules.access = unit_acl("192.0.2.0/24", NULL);
	fd = rig_connect(&r, BALANCER, &c);
	ck_assert_ptr_nonnull(c);
	memcpy(msg, v2, sizeof(v2));
	memcpy(msg + sizeof(v2), "ab\n", 3);
	say(fd, msg, sizeof(msg));
	hear(&r, fd, "AB\n", 3);
	close(fd);
	/* A LOCAL header is judged on the balancer: denied. */
	fd = rig_connect(&r, BALANCER, &c);
	say(fd, v2_local, sizeof(v2_local));
	say(fd, "x\n", 2);
	pump(&r);
	closed_unanswered(fd);
	close(fd);
	/* An untrusted peer outside the list: refused at accept. */
	fd = rig_connect(&r, STRANGER, &c);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(stats_get(&r.st.refused_denied), 2);
	close(fd);
	pump(&r);
	acl_free(r.rules.access);
	r.rules.access = NULL;
	rig_close(&r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tcp_proxy");
	TCase *tc = tcase_create("tcp_proxy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_header_byte_by_byte);
	tcase_add_test(tc, test_v2_header_and_payload_in_one_write);
	tcase_add_test(tc, test_v2_local_keeps_the_balancer);
	tcase_add_test(tc, test_bad_header_closed_unanswered);
	tcase_add_test(tc, test_no_header_is_an_error);
	tcase_add_test(tc, test_header_timeout);
	tcase_add_test(tc, test_untrusted_header_is_data);
	tcase_add_test(tc, test_per_source_moves_to_the_client);
	tcase_add_test(tc, test_header_phase_handed_over);
	tcase_add_test(tc, test_header_phase_through_the_drain);
	tcase_add_test(tc, test_new_rules_close_denied);
	tcase_add_test(tc, test_access_judges_the_client_not_the_balancer);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
