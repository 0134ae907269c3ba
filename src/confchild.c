/*
 * confchild.c - parse a config file in a short-lived child process.
 *
 * libconfig 1.5 calls exit() from inside its scanner on some inputs (an
 * @include of a directory: "input in flex scanner failed", status 2).
 * In the daemon that would end the service on a reload.  So the parse
 * runs in a forked child, which writes back through a pipe either the
 * whole flat struct config and exits 0, or the error text and exits
 * EX_CONFIG.  Anything else - another status, a signal, a short or
 * overlong reply, no answer within CHILD_TIMEOUT_MS (an @include of a
 * FIFO blocks forever) - is reported as the parser failing, and a child
 * that overstays is killed.  The parent always reaps its child.
 *
 * The child leaves with _exit(): it must not run the daemon's atexit
 * handlers or flush a copy of its stdio buffers.  libconfig's own exit()
 * does run them, so stdio is flushed before the fork and the daemon
 * should keep side effects out of atexit handlers.
 *
 * The daemon has threads when it reloads.  The child of a threaded
 * process may in theory only call async-signal-safe functions; glibc
 * keeps malloc and stdio usable across fork(), which is all config.c
 * and libconfig need, and the child touches nothing else of the daemon.
 * It inherits the signal mask, so the signals the daemon takes through
 * its signalfd stay blocked in the child.  waitpid() needs SIGCHLD not
 * to be ignored and no one else reaping children.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confchild.h"
#include "config.h"

#define CHILD_EX_OK		0
#define CHILD_EX_CONFIG		78	/* EX_CONFIG: the reply is a message */
#define CHILD_EX_OSERR		71	/* EX_OSERR: cannot write the reply */
#define CHILD_TIMEOUT_MS	10000	/* a parse takes milliseconds */

/* What the child sends: one or the other, told apart by exit status. */
union reply {
	struct config	cf;
	char		msg[CONFIG_ERRLEN];
};

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A signal handler of the daemon must not run in the child: it could
 * write to a descriptor the daemon still uses.  Ignored signals stay
 * ignored (SIGPIPE: a failed write is reported by its status instead).
 */
static void
child_signals(void)
{
	struct sigaction sa;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sigaction(sig, NULL, &sa) == -1)
			continue;	/* not a valid signal number */
		if (sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL)
			continue;
		sa.sa_handler = SIG_DFL;
		sa.sa_flags = 0;
		(void)sigaction(sig, &sa, NULL);
	}
}

/* The child: parse, answer, _exit.  Never returns. */
static void __attribute__((__noreturn__))
child(int fd, const char *path)
{
	struct config cf;
	char err[CONFIG_ERRLEN];

	child_signals();
	if (config_parse_file(path, &cf, err, sizeof(err)) == 0)
		_exit(write_all(fd, &cf, sizeof(cf)) == 0 ?
		    CHILD_EX_OK : CHILD_EX_OSERR);
	_exit(write_all(fd, err, strlen(err)) == 0 ?
	    CHILD_EX_CONFIG : CHILD_EX_OSERR);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Read the reply until the child closes its end or buf is full (a reply
 * that fills buf is too long: the caller gives buf one spare byte).
 * Returns the number of bytes, or -1 on a read error or when the child
 * has not finished in time (errno ETIMEDOUT).
 */
static ssize_t
read_reply(int fd, char *buf, size_t len)
{
	struct timespec t0;
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < len) {
		if ((left = CHILD_TIMEOUT_MS - ms_since(&t0)) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			continue;	/* the deadline check ends it */
		n = read(fd, buf + got, len - got);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int
wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* The message for a child that did not answer as agreed. */
static void
child_failed(const char *path, int status, size_t got, char *err,
    size_t errlen)
{
	const char *name;

	if (WIFSIGNALED(status)) {
		name = sigabbrev_np(WTERMSIG(status));
		snprintf(err, errlen, "%s: the configuration parser was killed "
		    "by signal %d (SIG%s)", path, WTERMSIG(status),
		    name != NULL ? name : "?");
	} else if (WEXITSTATUS(status) == CHILD_EX_OK ||
	    WEXITSTATUS(status) == CHILD_EX_CONFIG)
		snprintf(err, errlen, "%s: the configuration parser failed "
		    "(a reply of %zu bytes)", path, got);
	else
		snprintf(err, errlen, "%s: the configuration parser failed "
		    "(exit status %d)", path, WEXITSTATUS(status));
}

/* Judge the child's exit status and reply; fill *cf or err. */
static int
decode(const char *path, int status, const char *buf, size_t got,
    struct config *cf, char *err, size_t errlen)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EX_OK &&
	    got == sizeof(*cf)) {
		memcpy(cf, buf, sizeof(*cf));
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EX_CONFIG &&
	    got > 0 && got < CONFIG_ERRLEN) {
		snprintf(err, errlen, "%.*s", (int)got, buf);
		return -1;
	}
	child_failed(path, status, got, err, errlen);
	return -1;
}

/* Start the child; returns its pid and the read end of its pipe. */
static pid_t
spawn(const char *path, int *rfd, char *err, size_t errlen)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s: cannot start the configuration "
		    "parser: pipe: %s", path, strerror(errno));
		return -1;
	}
	/* Else buffered output would be written twice if libconfig exit()s. */
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "%s: cannot start the configuration "
		    "parser: fork: %s", path, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], path);
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

int
confchild_load(const char *path, struct config *cf, char *err,
    size_t errlen)
{
	char buf[sizeof(union reply) + 1];	/* + 1: see read_reply */
	int fd, status, rerrno;
	ssize_t got;
	pid_t pid;

	if ((pid = spawn(path, &fd, err, errlen)) == -1)
		goto fail;
	got = read_reply(fd, buf, sizeof(buf));
	rerrno = errno;
	/* Closed first: a child still writing gets EPIPE, not stuck. */
	close(fd);
	if (got == -1)
		(void)kill(pid, SIGKILL);
	if (wait_child(pid, &status) == -1) {
		snprintf(err, errlen, "%s: cannot wait for the configuration "
		    "parser: %s", path, strerror(errno));
		goto fail;
	}
	if (got == -1 && rerrno == ETIMEDOUT)
		snprintf(err, errlen, "%s: the configuration parser did not "
		    "finish within %d seconds", path, CHILD_TIMEOUT_MS / 1000);
	else if (got == -1)
		snprintf(err, errlen, "%s: cannot read from the configuration "
		    "parser: %s", path, strerror(rerrno));
	else if (decode(path, status, buf, (size_t)got, cf, err, errlen) == 0)
		return 0;
fail:
	config_defaults(cf);
	snprintf(cf->path, sizeof(cf->path), "%s", path);
	return -1;
}
