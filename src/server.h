/*
 * server.h - the main thread: start-up, signals, reload, status, stop.
 */
#ifndef UPCASED_SERVER_H
#define UPCASED_SERVER_H

struct config;

struct server_opts {
	const char	*exe;		/* SIGUSR2's binary, resolved at start */
	char		**argv;		/* its arguments, with --take-over=3 */
	int		 take_over;	/* -1, or the socket of a take-over */
};

/* Run until stopped; returns the exit status (0, or EX_OSERR ...).
 * With o->take_over, the state comes from the old process
 * (doc/handover.md) instead of the configuration's ports. */
int	server_run(const struct config *cf, const struct server_opts *o);

/* A successor's first word on its socket (doc/handover.md): its state
 * format, its release, and config_error ("" if the file is valid).
 * 0, or -1 with errno. */
int	server_hello(int sock, const char *config_error);

#endif
