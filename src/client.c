/*
 * client.c - upcase, the command-line client of upcased: the command
 * line, the input and output files, and the connection.
 *
 * Everything that can fail before the first byte moves is done here, in
 * an order chosen so that a failure costs nothing: the input is opened
 * first (a typo in -f should not cost a connection), the output file is
 * created only once the server is there (a refused connection must not
 * truncate it), and the conversation itself is left to client_tcp.c or
 * client_udp.c.  Each failure has its own exit status (client.h), and
 * every message names what failed and why.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define CONNECT_TIMEOUT_MS	10000	/* TCP connect, unless -w */
#define UDP_WAIT_MS		2000	/* UDP replies after the last send */
#define MAX_WAIT_S		86400.0
#define MAX_EXIT_CMD		63	/* as upcased's exit_command */
#define MAX_TRIES		16	/* addresses whose errors we keep */

/* Why one address of the host could not be used. */
struct conn_err {
	char	 addr[INET6_ADDRSTRLEN];
	int	 err;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: upcase [-u] [-4|-6] [-w SECONDS] [-f FILE] [-o FILE] [-q]"
	    " [-s SIZE]\n"
	    "              [-e COMMAND] [--length=auto|exact|any] "
	    "[HOST [PORT]]\n"
	    "       upcase -h | -V\n"
	    "\n"
	    "Talk to the uppercase echo service (upcased) on HOST (default "
	    "localhost),\nPORT (default 8008), over TCP unless -u.  From a "
	    "terminal, what you type is\nsent and the answers are printed as "
	    "they arrive (Ctrl-D finishes); from a\nfile or a pipe, the input "
	    "is streamed through the service to the output.\n"
	    "\n"
	    "  -u, --udp            UDP: each line, or each -s SIZE bytes, is "
	    "one datagram\n"
	    "  -4, --ipv4           IPv4 only\n"
	    "  -6, --ipv6           IPv6 only\n"
	    "  -w, --wait SECONDS   UDP: wait this long for replies after the "
	    "last send\n"
	    "                       (default 2); TCP: connect timeout "
	    "(default 10), and\n"
	    "                       give up when the server stalls this long "
	    "(default never)\n"
	    "  -f, --file FILE      read FILE, not standard input\n"
	    "  -o, --output FILE    write the answer to FILE, not standard "
	    "output\n"
	    "  -q, --quiet          no progress and no notes on stderr; errors "
	    "only\n"
	    "  -s, --size SIZE      UDP: cut the input into datagrams of SIZE "
	    "bytes (1-65507)\n"
	    "  -e, --exit-command COMMAND\n"
	    "                       the server's exit command (default "
	    "\"exit\"; \"\" for none)\n"
	    "      --length=MODE    TCP: must the answer be as long as the "
	    "input?  auto\n"
	    "                       (default: yes for ASCII input), exact, "
	    "any\n"
	    "  -h, --help           print this help and exit\n"
	    "  -V, --version        print the version and exit\n"
	    "\n"
	    "Exit status:\n"
	    "   0  done: every byte (TCP) or every reply (UDP) came back\n"
	    "   1  short transfer: the server ended the session early\n"
	    "  64  usage error\n"
	    "  65  an input line too long for a datagram (-u)\n"
	    "  66  cannot open the input\n"
	    "  68  cannot resolve HOST\n"
	    "  69  connection refused or unreachable; UDP: port unreachable\n"
	    "  71  system error: out of memory or descriptors\n"
	    "  73  cannot create the output\n"
	    "  74  I/O error: connection reset, read or write error\n"
	    "  75  timeout: connect, stalled server (-w), UDP replies "
	    "missing\n");
}

/* --- messages and small helpers -------------------------------------- */

static void __attribute__((format(printf, 2, 0)))
vwarn(int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err != 0)
		fprintf(stderr, "upcase: %s: %s\n", msg, strerror(err));
	else
		fprintf(stderr, "upcase: %s\n", msg);
}

void
cl_warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vwarn(err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
cl_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(0, fmt, ap);
	va_end(ap);
}

int64_t
cl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *
cl_xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n)) == NULL) {
		cl_warn("cannot allocate %zu bytes", n);
		exit(CL_EX_OSERR);
	}
	return p;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(0, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'upcase --help' for more information.\n");
	exit(CL_EX_USAGE);
}

/* --- the command line ------------------------------------------------ */

/* -w: seconds, fractions allowed, more than 0 and at most a day. */
static int
parse_wait(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0) ||
	    v > MAX_WAIT_S)
		usage_error("-w %s: not a number of seconds in (0, %.0f]", s,
		    MAX_WAIT_S);
	if (v < 0.001)
		v = 0.001;
	return (int)(v * 1000.0 + 0.5);
}

static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < 1 ||
	    v > CL_UDP_MAX)
		usage_error("-s %s: not a datagram size in 1..%d", s,
		    CL_UDP_MAX);
	return (size_t)v;
}

/* A numeric port must be 1..65535; a name is left to getaddrinfo. */
static void
check_port(const char *s)
{
	char *end;
	unsigned long v;

	if (*s == '\0')
		usage_error("empty port");
	if (strspn(s, "0123456789") != strlen(s))
		return;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || v < 1 || v > 65535)
		usage_error("port %s: not in 1..65535", s);
}

/* The same rule as upcased's exit_command: short, no control bytes. */
static void
check_exit_cmd(const char *s)
{
	const unsigned char *p;

	if (strlen(s) > MAX_EXIT_CMD)
		usage_error("-e: an exit command has at most %d bytes",
		    MAX_EXIT_CMD);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			usage_error("-e: no control characters in the exit "
			    "command");
}

static enum cl_length
parse_length(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return CL_LENGTH_AUTO;
	if (strcmp(s, "exact") == 0)
		return CL_LENGTH_EXACT;
	if (strcmp(s, "any") == 0)
		return CL_LENGTH_ANY;
	usage_error("--length=%s: auto, exact or any", s);
}

/* Options that only make sense for one protocol are refused for the
 * other rather than silently ignored. */
static void
check_combination(const struct cl_opts *o, bool tcp_only)
{
	if (o->chunk != 0 && !o->udp)
		usage_error("-s is for UDP: add -u");
	if (tcp_only && o->udp)
		usage_error("-e and --length are for TCP, not -u");
}

static void
parse_args(int argc, char *argv[], struct cl_opts *o)
{
	static const struct option longopts[] = {
		{ "udp",		no_argument,		NULL, 'u' },
		{ "ipv4",		no_argument,		NULL, '4' },
		{ "ipv6",		no_argument,		NULL, '6' },
		{ "wait",		required_argument,	NULL, 'w' },
		{ "file",		required_argument,	NULL, 'f' },
		{ "output",		required_argument,	NULL, 'o' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "size",		required_argument,	NULL, 's' },
		{ "exit-command",	required_argument,	NULL, 'e' },
		{ "length",		required_argument,	NULL, 'L' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	bool tcp_only = false;
	int ch;

	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->exit_cmd = "exit";
	opterr = 0;	/* our own messages, with our exit status */
	while ((ch = getopt_long(argc, argv, ":u46w:f:o:qs:e:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->udp = true;
			break;
		case '4':
		case '6':
			if (o->family != AF_UNSPEC)
				usage_error("-4 and -6 exclude each other");
			o->family = ch == '4' ? AF_INET : AF_INET6;
			break;
		case 'w':
			o->wait_ms = parse_wait(optarg);
			o->wait_given = true;
			break;
		case 'f':
			o->in_path = optarg;
			break;
		case 'o':
			o->out_path = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 's':
			o->chunk = parse_size(optarg);
			break;
		case 'e':
			check_exit_cmd(optarg);
			o->exit_cmd = optarg;
			tcp_only = true;
			break;
		case 'L':
			o->length = parse_length(optarg);
			tcp_only = true;
			break;
		case 'h':
			usage(stdout);
			exit(CL_EX_OK);
		case 'V':
			printf("upcase %s\n", PACKAGE_VERSION);
			exit(CL_EX_OK);
		case ':':
			usage_error("option %s needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				usage_error("unknown option -%c", optopt);
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind > 2)
		usage_error("too many arguments: at most HOST and PORT");
	o->host = optind < argc ? argv[optind] : CL_DEFAULT_HOST;
	o->port = optind + 1 < argc ? argv[optind + 1] : CL_DEFAULT_PORT;
	if (*o->host == '\0')
		usage_error("empty host name");
	check_port(o->port);
	check_combination(o, tcp_only);
	if (!o->wait_given)
		o->wait_ms = o->udp ? UDP_WAIT_MS : CONNECT_TIMEOUT_MS;
	if (o->in_path != NULL && strcmp(o->in_path, "-") == 0)
		o->in_path = NULL;
	if (o->out_path != NULL && strcmp(o->out_path, "-") == 0)
		o->out_path = NULL;
}

/* --- files ----------------------------------------------------------- */

static int
open_input(const struct cl_opts *o, struct cl_io *io)
{
	struct stat st;

	io->in = STDIN_FILENO;
	if (o->in_path != NULL &&
	    (io->in = open(o->in_path, O_RDONLY | O_CLOEXEC)) == -1) {
		cl_warn("cannot open %s", o->in_path);
		return CL_EX_NOINPUT;
	}
	io->in_size = -1;
	if (fstat(io->in, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			cl_warnx("cannot read %s: it is a directory",
			    o->in_path ? o->in_path : "standard input");
			return CL_EX_NOINPUT;
		}
		if (S_ISREG(st.st_mode))
			io->in_size = st.st_size;
	}
	/* Interactive only when a person types: -f FILE never is. */
	io->interactive = o->in_path == NULL && isatty(io->in);
	io->err_tty = isatty(STDERR_FILENO);
	return 0;
}

/* Writing into the file we read would never end (or eat the input). */
static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode) &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Created only now that the server is there, and truncated only after
 * the same-file check, so that neither a refused connection nor
 * "-f x -o x" destroys anything.
 */
static int
open_output(const struct cl_opts *o, struct cl_io *io)
{
	const char *name = o->out_path ? o->out_path : "standard output";
	struct stat st;

	io->out = STDOUT_FILENO;
	if (o->out_path != NULL && (io->out = open(o->out_path,
	    O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) == -1) {
		cl_warn("cannot create %s", o->out_path);
		return CL_EX_CANTCREAT;
	}
	if (same_file(io->in, io->out)) {
		cl_warnx("%s is the input file too", name);
		return CL_EX_USAGE;
	}
	if (o->out_path != NULL && fstat(io->out, &st) == 0 &&
	    S_ISREG(st.st_mode) && ftruncate(io->out, 0) == -1) {
		cl_warn("cannot truncate %s", o->out_path);
		return CL_EX_CANTCREAT;
	}
	return 0;
}

/* --- the connection -------------------------------------------------- */

static int
resolve(const struct cl_opts *o, struct addrinfo **res)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->family;
	hints.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_protocol = o->udp ? IPPROTO_UDP : IPPROTO_TCP;
	rc = getaddrinfo(o->host, o->port, &hints, res);
	if (rc == 0)
		return 0;
	if (rc == EAI_SERVICE) {
		cl_warnx("unknown %s port %s", o->udp ? "UDP" : "TCP",
		    o->port);
		return CL_EX_USAGE;
	}
	if (rc == EAI_MEMORY) {
		cl_warnx("cannot resolve %s: out of memory", o->host);
		return CL_EX_OSERR;
	}
	cl_warnx("cannot resolve %s%s: %s", o->host,
	    o->family == AF_INET ? " (IPv4)" : o->family == AF_INET6 ?
	    " (IPv6)" : "", rc == EAI_SYSTEM ? strerror(errno) :
	    gai_strerror(rc));
	return CL_EX_NOHOST;
}

/* Wait for a non-blocking connect; 0, or -1 with errno (ETIMEDOUT). */
static int
connect_wait(int fd, int timeout_ms)
{
	int64_t deadline = cl_now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int n, err = 0;

	for (;;) {
		int64_t left = deadline - cl_now_ms();

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			break;
		if (n == -1 && errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* One address: a connected non-blocking socket, or -1 with errno. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd, err;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    (errno == EINPROGRESS && connect_wait(fd, timeout_ms) == 0))
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static void
numeric_host(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len,
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
}

/*
 * Every address failed: say why for each, once, and pick the status.
 * A refusal or an unreachable network is a definite no (69); if every
 * address only timed out, trying later may work (75).  Descriptors or
 * memory running out is our problem, not the server's (71).
 */
static int
connect_failed(const struct cl_io *io, const struct conn_err *e, size_t n)
{
	bool all_timeouts = true;
	size_t i;

	for (i = 0; i < n; i++) {
		cl_warnx("cannot connect to %s: %s: %s", io->peer, e[i].addr,
		    strerror(e[i].err));
		if (e[i].err == EMFILE || e[i].err == ENFILE ||
		    e[i].err == ENOBUFS || e[i].err == ENOMEM)
			return CL_EX_OSERR;
		if (e[i].err != ETIMEDOUT)
			all_timeouts = false;
	}
	return all_timeouts && n > 0 ? CL_EX_TEMPFAIL : CL_EX_UNAVAIL;
}

/* A person at a terminal is told where they are and how to leave. */
static void
greet(const struct cl_opts *o, const struct cl_io *io,
    const struct addrinfo *ai)
{
	char addr[INET6_ADDRSTRLEN];
	bool numeric;

	numeric_host(ai, addr, sizeof(addr));
	numeric = strcmp(addr, o->host) == 0;
	fprintf(stderr, "upcase: %s %s%s%s%s%s; Ctrl-D to finish\n",
	    o->udp ? "sending to" : "connected to", io->peer,
	    numeric ? "" : " (", numeric ? "" : addr, numeric ? "" : ")",
	    o->udp ? " over UDP" : "");
}

/*
 * Try each address in getaddrinfo's order (RFC 6724: usually IPv6
 * first) until one connects.  For UDP a connect() only fixes the peer,
 * so the first address that takes it is used; connecting still matters,
 * as it is what makes the kernel report an ICMP port unreachable to us
 * (ECONNREFUSED) instead of dropping it.
 */
static int
connect_peer(const struct cl_opts *o, struct cl_io *io)
{
	struct addrinfo *res, *ai;
	struct conn_err errs[MAX_TRIES];
	size_t n = 0;
	int rc, one = 1;

	snprintf(io->peer, sizeof(io->peer), "%s port %s", o->host,
	    o->port);
	if ((rc = resolve(o, &res)) != 0)
		return rc;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((io->sock = connect_one(ai, o->wait_ms)) != -1)
			break;
		if (n < MAX_TRIES) {
			errs[n].err = errno;
			numeric_host(ai, errs[n].addr, sizeof(errs[n].addr));
			n++;
		}
	}
	if (ai == NULL) {
		freeaddrinfo(res);
		return connect_failed(io, errs, n);
	}
	/* A person waits for each line's answer: no Nagle delay. */
	if (!o->udp && io->interactive)
		setsockopt(io->sock, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (io->interactive && io->err_tty && !o->quiet)
		greet(o, io, ai);
	freeaddrinfo(res);
	return 0;
}

/*
 * Descriptors 0, 1 and 2 must be open, or the socket could become
 * "standard output" and the answer would be sent back to the server.
 */
static void
sane_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			exit(CL_EX_OSERR);
}

int
main(int argc, char *argv[])
{
	struct cl_opts o;
	struct cl_io io;
	int rc;

	/* A peer or a reader that goes away is an error to report with
	 * its errno (EPIPE), not a silent death by signal. */
	signal(SIGPIPE, SIG_IGN);
	sane_stdio();
	parse_args(argc, argv, &o);
	memset(&io, 0, sizeof(io));
	io.sock = -1;
	if ((rc = open_input(&o, &io)) != 0)
		return rc;
	if ((rc = connect_peer(&o, &io)) != 0)
		return rc;
	if ((rc = open_output(&o, &io)) != 0)
		return rc;
	rc = o.udp ? cl_udp_run(&o, &io) : cl_tcp_run(&o, &io);
	if (io.out != STDOUT_FILENO && close(io.out) == -1 &&
	    rc == CL_EX_OK) {
		cl_warn("cannot write %s", o.out_path);
		rc = CL_EX_IOERR;
	}
	return rc;
}
