/*
 * failmalloc.c - make allocations fail on demand, for the fault tests.
 *
 * Loaded with LD_PRELOAD into the daemon by tests/integration/
 * test_faults.py.  While the file named by FAILMALLOC_FILE exists, the
 * functions listed in FAILMALLOC_WHAT (any of "malloc", "calloc",
 * "realloc"; default "calloc,realloc") return NULL with errno ENOMEM for
 * requests of at least FAILMALLOC_MIN bytes (default 0).  Otherwise they
 * are glibc's own.  The tests judge by what the daemon does: the
 * connection that needed the memory goes, the others go on.
 *
 * The check is one access(2) per allocation, which is fine for a test
 * and keeps the shim free of state shared between threads.  glibc's
 * __libc_* entry points are used rather than dlsym(RTLD_NEXT), which may
 * itself allocate.  Not for sanitizer builds: they bring their own
 * allocator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

enum { F_MALLOC = 1, F_CALLOC = 2, F_REALLOC = 4 };

static bool
failing(int which, size_t size)
{
	const char *file = getenv("FAILMALLOC_FILE");
	const char *what = getenv("FAILMALLOC_WHAT");
	const char *min = getenv("FAILMALLOC_MIN");
	int mask = F_CALLOC | F_REALLOC;

	if (file == NULL || access(file, F_OK) == -1)
		return false;
	if (what != NULL)
		mask = (strstr(what, "malloc") != NULL ? F_MALLOC : 0) |
		    (strstr(what, "calloc") != NULL ? F_CALLOC : 0) |
		    (strstr(what, "realloc") != NULL ? F_REALLOC : 0);
	if (!(mask & which))
		return false;
	if (min != NULL && size < strtoul(min, NULL, 10))
		return false;
	errno = ENOMEM;
	return true;
}

void *
malloc(size_t size)
{
	return failing(F_MALLOC, size) ? NULL : __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
	/* n * size may overflow: glibc's calloc judges that, not us. */
	return failing(F_CALLOC, n * size) ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
	return failing(F_REALLOC, size) ? NULL : __libc_realloc(p, size);
}
