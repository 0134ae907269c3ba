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

/*
 * Returns 0 and fills *cf, or -1 with a "FILE:LINE: ..." message in err.
 * Blocks until the child exits (it parses a small file: milliseconds).
 * Called from the main thread only.
 */
int	confchild_load(const char *path, struct config *cf,
	    char *err, size_t errlen);

#endif
