/*
 * server.h - the main thread: start-up, signals, reload, status, stop.
 */
#ifndef UPCASED_SERVER_H
#define UPCASED_SERVER_H

struct config;

/* Run until stopped; returns the exit status (0, or EX_OSERR ...). */
int	server_run(const struct config *cf);

#endif
