/*
 * check_tcp_handover.c - a connection handed to another process's engine
 * (the upgrade, doc/handover.md) goes on exactly as if it had stayed.
 *
 * Each case is a script of the client's sends; it runs twice, once
 * straight through and once with a "trip" at its mark: the engine's
 * connections are detached, exported, encoded, sent with their
 * descriptors over a socketpair (fdpass.c), decoded and imported into a
 * second engine, which carries on.  The client must read the same bytes,
 * and the expected ones, both times.  At the trip the state is checked
 * to be the one the case is about (output queued, a line held, ...), and
 * the imported connection exports the same state again.
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
#include "fdpass.h"
#include "handover.h"
#include "stats.h"
#include "tcp.h"
#include "unit.h"
#include "unit_handover.h"
#include "unit_acl.h"

#define BALANCER	"10.0.0.5"	/* trusted: in from */
#define STRANGER	"10.9.9.9"
#define OUTMAX		(1 << 20)

static const char v1[] = "PROXY TCP4 192.0.2.7 198.51.100.1 5000 7\r\n";

struct side {
	int		 epfd;
	struct admit	 adm;
	struct admit_rules rules;
	struct stats	 st;
	struct tcp_engine *e;
};

enum op { SEND, BIG, SHUT, PUMP, TRIP, END };

struct step {
	enum op		 op;
	const char	*data;		/* SEND */
	size_t		 len;		/* SEND: bytes; BIG: how many */
};

struct tcase {
	const char	*name;
	bool		 proxied;	/* from the balancer */
	uint8_t		 flags;		/* HANDOVER_C_* set at the trip */
	bool		 queued;	/* output queued at the trip */
	int16_t		 xs;		/* matcher state at the trip */
	uint8_t		 carry;		/* carried bytes at the trip */
	uint16_t	 hdr;		/* PROXY header bytes held */
	const char	*expect;	/* NULL: the uppercase of what was
					   sent (BIG) */
	struct step	 s[8];
};

#define S(str)	{ SEND, str, sizeof(str) - 1 }

static const struct tcase cases[] = {
	{ "output queued, reading stopped", false, 0, true, -1, 0, 0, NULL,
	  { { BIG, NULL, 300000 }, { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    { END, NULL, 0 } } },
	{ "half an exit line held, then the rest", false, 0, false, 2, 0, 0,
	  "ABC\n",
	  { S("abc\nex"), { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    S("it\nmore\n"), { END, NULL, 0 } } },
	{ "half an exit line held, then not", false, 0, false, 2, 0, 0,
	  "ABC\nEXTRA\n",
	  { S("abc\nex"), { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    S("tra\n"), { END, NULL, 0 } } },
	{ "a UTF-8 character cut", false, 0, false, -1, 1, 0,
	  "CAF\xc3\x89!\n",
	  { S("caf\xc3"), { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    S("\xa9!\n"), { END, NULL, 0 } } },
	{ "half-closed by the client, output queued", false,
	  HANDOVER_C_EOF, true, -1, 0, 0, NULL,
	  { { BIG, NULL, 20000 }, { SHUT, NULL, 0 }, { PUMP, NULL, 0 },
	    { TRIP, NULL, 0 }, { END, NULL, 0 } } },
	{ "lingering after the exit line", false,
	  HANDOVER_C_EXIT | HANDOVER_C_LINGER, false, 0, 0, 0, "HI\n",
	  { S("hi\nexit\n"), { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    S("thrown away\n"), { END, NULL, 0 } } },
	{ "inside its PROXY header", true,
	  HANDOVER_C_HEADER | HANDOVER_C_PROXIED, false, 0, 0, 10,
	  "HELLO \xc3\x89\n",
	  { { SEND, v1, 10 }, { PUMP, NULL, 0 }, { TRIP, NULL, 0 },
	    { SEND, v1 + 10, sizeof(v1) - 11 }, S("hello \xc3\xa9\n"),
	    { END, NULL, 0 } } },
	{ "through a balancer, a line held", true, HANDOVER_C_PROXIED, false,
	  1, 0, 0, "A\nEB\n",
	  { { SEND, v1, sizeof(v1) - 1 }, S("a\ne"), { PUMP, NULL, 0 },
	    { TRIP, NULL, 0 }, S("b\n"), { END, NULL, 0 } } },
};
#define NCASES	(int)(sizeof(cases) / sizeof(cases[0]))

static void
side_open(struct side *d)
{
	struct config cf;

	memset(d, 0, sizeof(*d));
	d->epfd = epoll_create1(0);
	ck_assert_int_ge(d->epfd, 0);
	atomic_store(&d->adm.max, 100);
	d->rules.proxy_from = unit_acl("10.0.0.0/24", NULL);
	d->e = tcp_engine_new(d->epfd, &d->adm, &d->st);
	ck_assert_ptr_nonnull(d->e);
	memset(&cf, 0, sizeof(cf));
	cf.transform = CONFIG_TRANSFORM_UNICODE;
	snprintf(cf.exit_command, sizeof(cf.exit_command), "exit");
	cf.max_pending_output = 65536;
	cf.max_connections = 100;
	cf.proxy_timeout = 5;
	tcp_engine_configure(d->e, &cf);
	tcp_engine_rules(d->e, &d->rules);
	tcp_engine_clock_ms(d->e, 1000000);
}

static void
side_close(struct side *d)
{
	tcp_engine_free(d->e);
	ck_assert_uint_eq(atomic_load(&d->adm.open), 0);
	ck_assert_uint_eq(stats_get(&d->st.pending_out), 0);
	acl_free(d->rules.proxy_from);
	close(d->epfd);
}

static void
pump(struct side *d)
{
	struct epoll_event ev[16];
	int n, i;

	while ((n = epoll_wait(d->epfd, ev, 16, 10)) > 0)
		for (i = 0; i < n; i++)
			(void)tcp_conn_event(d->e, ev[i].data.ptr,
			    ev[i].events);
}

/* What the client has now, appended at out[*got]; true at EOF. */
static bool
take(int fd, char *out, size_t *got)
{
	ssize_t n;

	for (;;) {
		n = read(fd, out + *got, OUTMAX - *got);
		if (n > 0) {
			*got += (size_t)n;
			ck_assert_uint_lt(*got, OUTMAX);
			continue;
		}
		ck_assert_msg(n == 0 || errno == EAGAIN, "read: %s",
		    strerror(errno));
		return n == 0;
	}
}

/*
 * The hand-over of old's one connection to a fresh side, as two
 * processes would do it; the clocks of the new side are 5 s ahead
 * (another process's engine clock), so ages must be re-based.
 */
static void
trip(const struct tcase *tc, struct side *old, struct side *nu)
{
	static uint8_t buf[2 * 65536 + 4096], rbuf[sizeof(buf)];
	struct handover_header hh, dh;
	struct handover_conn hc, dc, again;
	struct stats_snapshot snap;
	struct tcp_conn *c, *ic;
	const char *why = "";
	size_t n = 0, off = 0, used;
	int sv[2], fd, rfd;

	c = tcp_detach_all(old->e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(tcp_conn_next_detached(c));
	ck_assert_uint_eq(stats_get(&old->st.pending_out), 0);
	memset(&hh, 0, sizeof(hh));
	memset(&snap, 0, sizeof(snap));
	tcp_engine_export(old->e, &hh);
	hh.nconns = 1;
	tcp_conn_export(old->e, c, &hc);
	/* the state is the one this case is about */
	ck_assert_uint_eq(hc.flags & (HANDOVER_C_ALL ^ (HANDOVER_C_FRESH | HANDOVER_C_COUNTED)),
	    tc->flags);
	ck_assert_msg((hc.out_len > 0) == tc->queued, "queued %u",
	    (unsigned)hc.out_len);
	ck_assert_int_eq(hc.xs, tc->xs);
	ck_assert_uint_eq(hc.carry_len, tc->carry);
	ck_assert_uint_eq(hc.hdr_len, tc->hdr);
	n += handover_encode_header(buf + n, sizeof(buf) - n, &hh);
	n += handover_encode_counters(buf + n, sizeof(buf) - n, &snap);
	n += handover_encode_conn(buf + n, sizeof(buf) - n, &hc);
	n += handover_encode_end(buf + n, sizeof(buf) - n);
	ck_assert_uint_le(n, sizeof(buf));

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = tcp_conn_fd(c);
	ck_assert_int_eq(fdpass_send(sv[0], buf, n, &fd, 1, 1000), 0);
	ck_assert_int_eq(fdpass_recv(sv[1], rbuf, n, &rfd, 1, 1000), 0);
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(handover_decode_header(rbuf, n, &dh, &used, &why),
	    HANDOVER_OK);
	off += used;
	ck_assert_int_eq(handover_decode_counters(rbuf + off, n - off, &snap,
	    &used, &why), HANDOVER_OK);
	off += used;
	ck_assert_int_eq(handover_decode_conn(rbuf + off, n - off, &dh, &dc,
	    &used, &why), HANDOVER_OK);
	off += used;
	ck_assert_int_eq(handover_decode_end(rbuf + off, n - off, &used,
	    &why), HANDOVER_OK);
	ck_assert_uint_eq(off + used, n);
	unit_conn_eq(&hc, &dc);
	tcp_conn_forget(old->e, c);	/* "go": the old one lets go, silently */

	tcp_engine_clock_ms(nu->e, 1005000);
	ic = tcp_conn_import(nu->e, rfd, &dc);
	ck_assert_ptr_nonnull(ic);
	ck_assert_uint_eq(tcp_count(nu->e), 1);
	ck_assert_uint_eq(atomic_load(&nu->adm.open), 1);
	ck_assert_uint_eq(stats_get(&nu->st.pending_out), dc.out_len);
	tcp_conn_export(nu->e, ic, &again);
	unit_conn_eq(&dc, &again);
}

/* Run case tc, with or without the trip; the client's bytes in out. */
static size_t
run(const struct tcase *tc, bool with_trip, char *out, char *sent,
    size_t *nsent)
{
	struct side a, b, *cur = &a;
	struct sockaddr_in sin;
	const struct step *s;
	size_t got = 0, k;
	bool eof = false, shut = false;
	int sv[2], sz = 4096, i;
	ssize_t w;

	side_open(&a);
	side_open(&b);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	inet_pton(AF_INET, tc->proxied ? BALANCER : STRANGER, &sin.sin_addr);
	ck_assert_ptr_nonnull(tcp_conn_accepted(a.e, sv[1],
	    (struct sockaddr *)&sin));
	*nsent = 0;
	for (s = tc->s; s->op != END; s++) {
		switch (s->op) {
		case SEND:
			ck_assert_int_eq(write(sv[0], s->data, s->len),
			    (ssize_t)s->len);
			memcpy(sent + *nsent, s->data, s->len);
			*nsent += s->len;
			break;
		case BIG:
			/* lines of letters, as much as goes in */
			for (k = 0; k < s->len; k++)
				sent[*nsent + k] = (k % 61 == 60) ? '\n' :
				    (char)('a' + k % 26);
			for (i = 0; i < 50 && *nsent < s->len; i++) {
				w = write(sv[0], sent + *nsent,
				    s->len - *nsent);
				if (w > 0)
					*nsent += (size_t)w;
				pump(cur);
			}
			break;
		case SHUT:
			ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
			shut = true;
			break;
		case PUMP:
			pump(cur);
			break;
		case TRIP:
			if (with_trip) {
				trip(tc, &a, &b);
				cur = &b;
			}
			break;
		default:
			break;
		}
	}
	if (!shut)
		ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
	for (i = 0; i < 2000 && !eof; i++) {
		pump(cur);
		eof = take(sv[0], out, &got);
	}
	ck_assert_msg(eof, "no EOF");
	ck_assert_uint_eq(tcp_count(cur->e), 0);
	close(sv[0]);
	side_close(&a);
	side_close(&b);
	return got;
}

START_TEST(test_trip)
{
	static char plain[OUTMAX], tripped[OUTMAX], sent[OUTMAX], want[OUTMAX];
	const struct tcase *tc = &cases[_i];
	size_t np, nt, ns, ns2, i;

	np = run(tc, false, plain, sent, &ns);
	nt = run(tc, true, tripped, sent, &ns2);
	ck_assert_uint_eq(ns, ns2);
	if (tc->expect != NULL) {
		ck_assert_uint_eq(np, strlen(tc->expect));
		ck_assert_mem_eq(plain, tc->expect, np);
	} else {		/* BIG: lowercase letters, every one */
		for (i = 0; i < ns; i++)
			want[i] = sent[i] == '\n' ? '\n' :
			    (char)(sent[i] - 'a' + 'A');
		ck_assert_uint_eq(np, ns);
		ck_assert_mem_eq(plain, want, np);
	}
	ck_assert_msg(nt == np, "%s: %zu bytes after the trip, %zu without",
	    tc->name, nt, np);
	ck_assert_mem_eq(tripped, plain, np);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tcp_handover");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_trip, 0, NCASES);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
