/*
 * event.h - what an epoll event points at.
 *
 * Every object a worker registers with epoll starts with a struct evsrc,
 * so the loop can tell a listening socket from a connection from its own
 * wake-up descriptor with one load.
 */
#ifndef UPCASED_EVENT_H
#define UPCASED_EVENT_H

#include <stdint.h>

enum evkind {
	EV_WAKE = 1,		/* the worker's mailbox eventfd */
	EV_TCP_LISTEN,		/* a listening TCP socket (shared) */
	EV_UDP,			/* a UDP socket (shared) */
	EV_TCP_CONN,		/* a connection (owned by one worker) */
	EV_HTTP_LISTEN		/* the metrics endpoint's: main thread only */
};

struct evsrc {
	uint8_t		 kind;
};

#endif
