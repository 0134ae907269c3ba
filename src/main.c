/*
 * main.c - the command line of upcased.
 *
 * Parses options, reads the configuration (in a child process: see
 * confchild.c), and either prints it (--check-config) or hands it to the
 * server.  upcased never forks into the background: systemd or the
 * terminal owns it.  It never calls setlocale() either, so every number
 * it parses or prints is in the C locale whatever LC_* say.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "confchild.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "upgrade.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/upcased/upcased.conf"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: upcased [-c FILE] [-t|--check-config [-q]] "
	    "[--log-target=auto|journal|stderr]\n"
	    "               [-V|--version] [-h|--help]\n"
	    "\n"
	    "Uppercase echo over TCP and UDP.\n"
	    "\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -t, --check-config    check the configuration, print the "
	    "effective settings\n"
	    "  -q, --quiet           with --check-config: print errors only\n"
	    "      --log-target=T    auto (journal under systemd, else stderr),"
	    " journal, stderr\n"
	    "      --take-over=FD    internal: take over from the running "
	    "upcased (SIGUSR2)\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\n"
	    "Exit status: 0 stopped normally, 64 usage error, 71 system error "
	    "(e.g. a port\nthat cannot be bound), 78 configuration error.\n",
	    DEFAULT_CONFIG);
}

/*
 * The binary SIGUSR2 starts: argv[0] made absolute now (the working
 * directory or PATH may change; /proc/self/exe would name the old,
 * replaced file), and our arguments with --take-over=3 instead of any
 * earlier one.  NULL exe if it cannot be resolved: SIGUSR2 says so.
 */
static void
main_exec(int argc, char *argv[], struct server_opts *o)
{
	static char exe[PATH_MAX], cand[PATH_MAX];
	static char takeover[] = "--take-over=3";
	const char *path, *end;
	char **av;
	int i, n = 0;

	o->exe = "(unknown: argv[0] not found)";
	if (strchr(argv[0], '/') != NULL) {
		if (realpath(argv[0], exe) != NULL)
			o->exe = exe;
	} else if ((path = getenv("PATH")) != NULL) {
		for (; *path != '\0'; path = *end ? end + 1 : end) {
			end = strchrnul(path, ':');
			snprintf(cand, sizeof(cand), "%.*s/%s",
			    (int)(end - path), path, argv[0]);
			if (access(cand, X_OK) == 0 &&
			    realpath(cand, exe) != NULL) {
				o->exe = exe;
				break;
			}
		}
	}
	if ((av = calloc((size_t)argc + 2, sizeof(*av))) == NULL)
		return;
	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "--take-over", 11) != 0)
			av[n++] = argv[i];
	av[n++] = takeover;
	av[n] = NULL;
	o->argv = av;
}

/* --take-over=FD: a stream socket, the socketpair of the old process. */
static int
main_take_over_fd(const char *arg)
{
	char *end;
	long fd;
	int type = 0;
	socklen_t len = sizeof(type);

	errno = 0;
	fd = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 0 || fd > INT_MAX ||
	    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return -1;
	return (int)fd;
}

/*
 * systemd names the old process in WATCHDOG_PID: a successor (our
 * parent is the old one) takes the watchdog over with the rest.
 */
static void
main_watchdog_pid(void)
{
	const char *v = getenv("WATCHDOG_PID");
	char buf[24];

	if (v == NULL || atol(v) != (long)getppid())
		return;
	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	(void)setenv("WATCHDOG_PID", buf, 1);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check-config",	no_argument,		NULL, 't' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "log-target",		required_argument,	NULL, 'L' },
		{ "take-over",		required_argument,	NULL, 'T' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	const char *path = DEFAULT_CONFIG;
	char err[CONFIG_ERRLEN], f1[1100], *line, *next;
	const char *fields[] = { f1, NULL };
	static struct config cf;	/* large: not on the stack */
	static struct server_opts o = { NULL, NULL, -1 };	/* argv: reachable */
	int ch, target = LOG_TARGET_AUTO;
	bool check = false, quiet = false;

	while ((ch = getopt_long(argc, argv, "c:tqVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'L':
			if ((target = log_target_parse(optarg)) == -1) {
				fprintf(stderr, "upcased: unknown log target "
				    "'%s'\n", optarg);
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'T':
			if ((o.take_over = main_take_over_fd(optarg)) == -1) {
				fprintf(stderr, "upcased: --take-over=%s: not "
				    "a stream socket\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'V':
			printf("upcased %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "upcased: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	if (check) {
		/* Every error of the file, one a line. */
		if (confchild_load(path, &cf, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			return EX_CONFIG;
		}
		if (!quiet)
			config_dump(&cf, stdout);
		return fflush(stdout) == 0 ? 0 : EX_IOERR;
	}

	log_init((enum log_target)target, LOG_INFO);
	main_exec(argc, argv, &o);
	if (o.take_over != -1) {
		/* The configuration is judged as on a reload: a bad file
		 * ends the hand-over here, and the old process serves on. */
		main_watchdog_pid();
		if (confchild_load(path, &cf, err, sizeof(err)) == -1) {
			(void)server_hello(o.take_over, err);
			return EX_CONFIG;
		}
		if (server_hello(o.take_over, "") == -1)
			return EX_OSERR;
		log_set_level(cf.log_level);
		return server_run(&cf, &o);
	}
	if (confchild_load(path, &cf, err, sizeof(err)) == -1) {
		/* One event per error: each names its own file and line. */
		snprintf(f1, sizeof(f1), "UPCASED_CONFIG=%s", path);
		for (line = err; line != NULL; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			log_event(LOG_ERR, MSGID_CONFIG_ERROR, fields, "%s",
			    line);
		}
		return EX_CONFIG;
	}
	log_set_level(cf.log_level);
	return server_run(&cf, &o);
}
