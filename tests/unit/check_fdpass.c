/*
 * check_fdpass.c - descriptors with a message over a socketpair: they
 * arrive and work, close-on-exec, in one batch or several, through
 * short reads and writes; a receiver that gets fewer or more than it
 * was told, or an end of stream, fails and closes what it got.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "unit.h"

static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* n pipes: their read ends in r, write ends in w. */
static void
pipes(int *r, int *w, size_t n)
{
	int p[2];
	size_t i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pipe(p), 0);
		r[i] = p[0];
		w[i] = p[1];
	}
}

static void
close_n(int *fds, size_t n)
{
	while (n-- > 0)
		ck_assert_int_eq(close(fds[n]), 0);
}

/* A descriptor is open. */
static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Received write end j carries a byte to the original read end. */
static void
works(int received_w, int orig_r, char b)
{
	char got;

	ck_assert_int_eq(write(received_w, &b, 1), 1);
	ck_assert_int_eq(read(orig_r, &got, 1), 1);
	ck_assert_int_eq(got, b);
	ck_assert_int_eq(fcntl(received_w, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

START_TEST(test_batch)
{
	int sv[2], r[FDPASS_MAX], w[FDPASS_MAX], in[FDPASS_MAX];
	char msg[100], got[100];
	size_t i;

	pair(sv);
	pipes(r, w, FDPASS_MAX);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (char)i;
	ck_assert_int_eq(fdpass_send(sv[0], msg, sizeof(msg), w, FDPASS_MAX,
	    1000), 0);
	close_n(w, FDPASS_MAX);
	ck_assert_int_eq(fdpass_recv(sv[1], got, sizeof(got), in, FDPASS_MAX,
	    1000), 0);
	ck_assert_mem_eq(got, msg, sizeof(msg));
	for (i = 0; i < FDPASS_MAX; i++)
		works(in[i], r[i], (char)('a' + i % 26));
	close_n(in, FDPASS_MAX);
	close_n(r, FDPASS_MAX);
	close_n(sv, 2);
}
END_TEST

/* Two batches back to back: each read takes its own descriptors. */
START_TEST(test_two_batches)
{
	int sv[2], r[3], w[3], in[3];
	char got[4];

	pair(sv);
	pipes(r, w, 3);
	ck_assert_int_eq(fdpass_send(sv[0], "ab", 2, w, 1, 1000), 0);
	ck_assert_int_eq(fdpass_send(sv[0], "cd", 2, w + 1, 2, 1000), 0);
	ck_assert_int_eq(fdpass_recv(sv[1], got, 2, in, 1, 1000), 0);
	ck_assert_mem_eq(got, "ab", 2);
	ck_assert_int_eq(fdpass_recv(sv[1], got, 2, in + 1, 2, 1000), 0);
	ck_assert_mem_eq(got, "cd", 2);
	works(in[0], r[0], 'x');
	works(in[1], r[1], 'y');
	works(in[2], r[2], 'z');
	close_n(in, 3);
	close_n(w, 3);
	close_n(r, 3);
	close_n(sv, 2);
}
END_TEST

/* More bytes than the socket holds: short writes, short reads. */
START_TEST(test_large)
{
	enum { N = 4 << 20 };
	static char msg[N], got[N];
	int sv[2], r[1], w[1], in[1], sz = 4096, status;
	size_t i;
	pid_t pid;

	pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	pipes(r, w, 1);
	for (i = 0; i < N; i++)
		msg[i] = (char)(i * 7 + i / 251);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fdpass_send(sv[0], msg, N, w, 1, 5000) == 0 ? 0 : 1);
	ck_assert_int_eq(fdpass_recv(sv[1], got, N, in, 1, 5000), 0);
	ck_assert_mem_eq(got, msg, N);
	works(in[0], r[0], 'q');
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close_n(in, 1);
	close_n(w, 1);
	close_n(r, 1);
	close_n(sv, 2);
}
END_TEST

/* Fewer descriptors than announced: EPROTO, and the one that came is
 * closed (the next descriptor number is its). */
START_TEST(test_fewer)
{
	int sv[2], r[2], w[2], in[3] = { -1, -1, -1 }, probe;
	char got[2];

	pair(sv);
	pipes(r, w, 2);
	ck_assert_int_eq(fdpass_send(sv[0], "ab", 2, w, 2, 1000), 0);
	errno = 0;
	ck_assert_int_eq(fdpass_recv(sv[1], got, 2, in, 3, 1000), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert(!is_open(in[0]));
	ck_assert(!is_open(in[1]));
	probe = dup(0);
	ck_assert_int_eq(probe, in[0] < in[1] ? in[0] : in[1]);
	close_n(&probe, 1);
	close_n(w, 2);
	close_n(r, 2);
	close_n(sv, 2);
}
END_TEST

/* More than announced: EPROTO too, none kept. */
START_TEST(test_more)
{
	int sv[2], r[2], w[2], in[1] = { -1 };
	char got[2];

	pair(sv);
	pipes(r, w, 2);
	ck_assert_int_eq(fdpass_send(sv[0], "ab", 2, w, 2, 1000), 0);
	errno = 0;
	ck_assert_int_eq(fdpass_recv(sv[1], got, 2, in, 1, 1000), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert(!is_open(in[0]));
	close_n(w, 2);
	close_n(r, 2);
	close_n(sv, 2);
}
END_TEST

/* The sender goes away half-way: ECONNRESET, what came is closed. */
START_TEST(test_eof)
{
	int sv[2], r[1], w[1], in[1] = { -1 };
	char got[4];

	pair(sv);
	pipes(r, w, 1);
	ck_assert_int_eq(fdpass_send(sv[0], "ab", 2, w, 1, 1000), 0);
	close_n(sv, 1);
	errno = 0;
	ck_assert_int_eq(fdpass_recv(sv[1], got, 4, in, 1, 1000), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	ck_assert(!is_open(in[0]));
	close_n(w, 1);
	close_n(r, 1);
	close_n(sv + 1, 1);
}
END_TEST

START_TEST(test_timeout_and_sizes)
{
	int sv[2], in[1];
	char got[1];

	pair(sv);
	errno = 0;
	ck_assert_int_eq(fdpass_recv(sv[1], got, 1, in, 0, 10), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	errno = 0;
	ck_assert_int_eq(fdpass_send(sv[0], "", 0, NULL, 0, 10), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(fdpass_send(sv[0], "a", 1, in, FDPASS_MAX + 1, 10),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	close_n(sv, 2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fdpass");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_two_batches);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_fewer);
	tcase_add_test(tc, test_more);
	tcase_add_test(tc, test_eof);
	tcase_add_test(tc, test_timeout_and_sizes);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
