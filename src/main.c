/*
 * main.c - the command line of upcased.
 *
 * Parses options, reads the configuration (in a child process: see
 * confchild.c), and either prints it (--check-config) or hands it to the
 * server.  upcased never forks into the background: systemd or the
 * terminal owns it.  It never calls setlocale() either, so every number
 * it parses or prints is in the C locale whatever LC_* say.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "confchild.h"
#include "config.h"
#include "log.h"
#include "server.h"

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
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\n"
	    "Exit status: 0 stopped normally, 64 usage error, 71 system error "
	    "(e.g. a port\nthat cannot be bound), 78 configuration error.\n",
	    DEFAULT_CONFIG);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check-config",	no_argument,		NULL, 't' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "log-target",		required_argument,	NULL, 'L' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	const char *path = DEFAULT_CONFIG;
	char err[CONFIG_ERRLEN], f1[1100], *line, *next;
	const char *fields[] = { f1, NULL };
	static struct config cf;	/* large: not on the stack */
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
	return server_run(&cf);
}
