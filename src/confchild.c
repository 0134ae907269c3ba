/*
 * confchild.c - parse a config file in a short-lived child process.
 *
 * libconfig 1.5 calls exit() from inside its scanner on some inputs (an
 * @include of a directory: "input in flex scanner failed", status 2).
 * In the daemon that would end the service on a reload.  So the parse
 * runs in a forked child, which writes back through a pipe either the
 * flat struct config (its used part, config_used_size(): the access
 * rules it holds, not the whole 900 KB array) and exits 0, or the error
 * text (every error of the file, one a line, at most CONFIG_ERRLEN
 * bytes) and exits EX_CONFIG.  The parent reads as the child writes, so
 * a reply larger than the pipe's buffer does not stall the child.  Anything else - another status, a signal, a short
 * or overlong reply, no answer within CHILD_TIMEOUT_MS (an @include of
 * a FIFO blocks forever) - is reported as the parser failing, and a
 * child that overstays is killed.  The parent always reaps its child.
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
#include <stdlib.h>
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

/* A parse under way, seen from the parent. */
struct confchild {
	pid_t		 pid;
	int		 fd;		/* read end of the reply pipe */
	struct timespec	 t0;		/* started */
	size_t		 got;
	char		 path[sizeof(((struct config *)0)->path)];
	char		 buf[sizeof(union reply) + 1];	/* see step */
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
	/*
	 * Large (the access rules): not on the stack.  Static storage is
	 * only ever touched here, in the child, and cannot fail.
	 */
	static struct config cf;
	char err[CONFIG_ERRLEN];

	child_signals();
	/*
	 * Hold none of the daemon's descriptors: a connection the daemon
	 * closes, or a listener it closes at stop, must really close now,
	 * not when a slow parse ends (up to CHILD_TIMEOUT_MS).  Keep only
	 * stdio and the pipe, moved to descriptor 3.
	 */
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(CHILD_EX_OSERR);
		fd = 3;
	}
	(void)close_range(4, ~0U, 0);
	if (config_parse_file(path, &cf, err, sizeof(err)) == 0)
		_exit(write_all(fd, &cf, config_used_size(&cf)) == 0 ?
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
	const size_t head = offsetof(struct config, access);

	/* The child sends the used part of its config (config_copy()). */
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EX_OK &&
	    got >= head) {
		memcpy(cf, buf, head);
		if (got == config_used_size(cf)) {
			memcpy(cf->access, buf + head, got - head);
			return 0;
		}
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

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "%s: cannot start the configuration "
		    "parser: pipe: %s", path, strerror(errno));
		return -1;
	}
	/* The child writes blocking; only our end is non-blocking. */
	(void)fcntl(fds[1], F_SETFL, 0);
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

struct confchild *
confchild_start(const char *path, char *err, size_t errlen)
{
	struct confchild *cc;

	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		snprintf(err, errlen, "%s: cannot start the configuration "
		    "parser: out of memory", path);
		return NULL;
	}
	snprintf(cc->path, sizeof(cc->path), "%s", path);
	clock_gettime(CLOCK_MONOTONIC, &cc->t0);
	if ((cc->pid = spawn(path, &cc->fd, err, errlen)) == -1) {
		free(cc);
		return NULL;
	}
	return cc;
}

int
confchild_fd(const struct confchild *cc)
{
	return cc->fd;
}

int
confchild_timeout(const struct confchild *cc)
{
	long left = CHILD_TIMEOUT_MS - ms_since(&cc->t0);

	return left > 0 ? (int)left : 0;
}

/*
 * The child is done (EOF, a reply too long, or rerrno: a read error or
 * ETIMEDOUT): close our end first, so a child still writing gets EPIPE
 * rather than stuck, kill it if it is not done, reap it, judge.  cf is
 * NULL when the parse is abandoned.
 */
static int
finish(struct confchild *cc, int rerrno, struct config *cf, char *err,
    size_t errlen)
{
	int status, rc = -1;

	close(cc->fd);
	if (rerrno != 0)
		(void)kill(cc->pid, SIGKILL);
	if (wait_child(cc->pid, &status) == -1)
		snprintf(err, errlen, "%s: cannot wait for the configuration "
		    "parser: %s", cc->path, strerror(errno));
	else if (rerrno == ETIMEDOUT)
		snprintf(err, errlen, "%s: the configuration parser did not "
		    "finish within %d seconds", cc->path,
		    CHILD_TIMEOUT_MS / 1000);
	else if (rerrno != 0)
		snprintf(err, errlen, "%s: cannot read from the configuration "
		    "parser: %s", cc->path, strerror(rerrno));
	else
		rc = decode(cc->path, status, cc->buf, cc->got, cf, err,
		    errlen);
	if (rc == -1 && cf != NULL) {
		config_defaults(cf);
		snprintf(cf->path, sizeof(cf->path), "%s", cc->path);
	}
	free(cc);
	return rc;
}

int
confchild_step(struct confchild *cc, struct config *cf, char *err,
    size_t errlen)
{
	ssize_t n;

	/* A reply that fills buf is too long: buf has one spare byte. */
	while (cc->got < sizeof(cc->buf)) {
		n = read(cc->fd, cc->buf + cc->got, sizeof(cc->buf) - cc->got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (confchild_timeout(cc) == 0)
				return finish(cc, ETIMEDOUT, cf, err, errlen);
			return 1;
		}
		if (n == -1)
			return finish(cc, errno, cf, err, errlen);
		if (n == 0)
			break;
		cc->got += (size_t)n;
	}
	return finish(cc, 0, cf, err, errlen);
}

void
confchild_abort(struct confchild *cc)
{
	char err[8];

	(void)finish(cc, ECANCELED, NULL, err, sizeof(err));
}

int
confchild_load(const char *path, struct config *cf, char *err,
    size_t errlen)
{
	struct confchild *cc;
	struct pollfd pfd;
	int rc;

	if ((cc = confchild_start(path, err, errlen)) == NULL) {
		config_defaults(cf);
		snprintf(cf->path, sizeof(cf->path), "%s", path);
		return -1;
	}
	pfd.fd = cc->fd;
	pfd.events = POLLIN;
	while ((rc = confchild_step(cc, cf, err, errlen)) == 1)
		(void)poll(&pfd, 1, confchild_timeout(cc));
	return rc;
}
