/*
 * confchild.h - parse a config file where it cannot hurt us.
 *
 * Debian's libconfig 1.5 calls exit() from inside the parser on some
 * inputs (an @include of a directory) and leaks memory on parse errors.
 * The serving daemon therefore never runs libconfig itself: it forks a
 * short-lived child that parses and validates, and reads the resulting
 * flat struct config (or the error text) back through a pipe.
 */
#ifndef UPCASED_CONFCHILD_H
#define UPCASED_CONFCHILD_H

#include <stddef.h>

struct config;
struct confchild;

/*
 * Parse in a child and wait for it: returns 0 and fills *cf, or -1 with
 * a "FILE:LINE: ..." message in err (and defaults in *cf).  At start-up.
 */
int	confchild_load(const char *path, struct config *cf,
	    char *err, size_t errlen);

/*
 * The same without blocking, for reloads, so the main thread goes on
 * feeding the watchdog and taking signals while a parse is under way.
 * confchild_start() returns NULL with a message in err.  Poll
 * confchild_fd() for input, for at most confchild_timeout() ms, then call
 * confchild_step(): 1 means not done yet; 0 (*cf filled) or -1 (message
 * in err) means done, and cc is freed.  confchild_abort() kills and reaps
 * the child and frees cc.  Main thread only.
 */
struct confchild *confchild_start(const char *path, char *err,
	    size_t errlen);
int	confchild_fd(const struct confchild *cc);
int	confchild_timeout(const struct confchild *cc);
int	confchild_step(struct confchild *cc, struct config *cf, char *err,
	    size_t errlen);
void	confchild_abort(struct confchild *cc);

#endif
