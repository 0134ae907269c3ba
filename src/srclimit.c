/*
 * srclimit.c - open TCP connections per source.
 *
 * Chained hash table: an entry exists only while its source has a
 * connection open, so its size follows the number of distinct sources
 * connected, which max_connections bounds.
 */
#include <pthread.h>
#include <stdlib.h>

#include "addr.h"
#include "srclimit.h"

#define BUCKETS		4096

struct entry {
	struct entry	*next;
	uint64_t	 key;
	unsigned	 count;
	uint8_t		 family;
};

struct srclimit {
	pthread_mutex_t	 mu;
	unsigned	 max;
	struct entry	*b[BUCKETS];
};

struct srclimit *
srclimit_new(void)
{
	struct srclimit *sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	pthread_mutex_init(&sl->mu, NULL);
	return sl;
}

void
srclimit_free(struct srclimit *sl)
{
	struct entry *e, *next;
	size_t i;

	if (sl == NULL)
		return;
	for (i = 0; i < BUCKETS; i++)
		for (e = sl->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&sl->mu);
	free(sl);
}

void
srclimit_set_max(struct srclimit *sl, unsigned max)
{
	pthread_mutex_lock(&sl->mu);
	sl->max = max;
	pthread_mutex_unlock(&sl->mu);
}

static struct entry **
find(struct srclimit *sl, const struct addr_source *src)
{
	uint64_t h = (src->key ^ src->family) * 0x9e3779b97f4a7c15ULL;
	struct entry **ep = &sl->b[(h >> 40) % BUCKETS];

	while (*ep != NULL && ((*ep)->key != src->key ||
	    (*ep)->family != src->family))
		ep = &(*ep)->next;
	return ep;
}

bool
srclimit_acquire(struct srclimit *sl, const struct sockaddr *sa,
    bool *counted)
{
	struct addr_source src;
	struct entry **ep, *e;
	bool ok = true;

	*counted = false;
	if (!addr_source_of(sa, &src))
		return true;
	pthread_mutex_lock(&sl->mu);
	ep = find(sl, &src);
	/*
	 * Out of memory for a new entry: let the connection in uncounted
	 * rather than refuse it as if its source were over the limit.
	 */
	if ((e = *ep) == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		e->key = src.key;
		e->family = src.family;
		*ep = e;
	}
	if (e != NULL && sl->max != 0 && e->count >= sl->max)
		ok = false;
	else if (e != NULL) {
		e->count++;
		*counted = true;
	}
	pthread_mutex_unlock(&sl->mu);
	return ok;
}

void
srclimit_release(struct srclimit *sl, const struct sockaddr *sa)
{
	struct addr_source src;
	struct entry **ep, *e;

	if (!addr_source_of(sa, &src))
		return;
	pthread_mutex_lock(&sl->mu);
	ep = find(sl, &src);
	if ((e = *ep) != NULL && --e->count == 0) {
		*ep = e->next;
		free(e);
	}
	pthread_mutex_unlock(&sl->mu);
}

unsigned
srclimit_count(struct srclimit *sl, const struct sockaddr *sa)
{
	struct addr_source src;
	struct entry *e;
	unsigned n = 0;

	if (!addr_source_of(sa, &src))
		return 0;
	pthread_mutex_lock(&sl->mu);
	if ((e = *find(sl, &src)) != NULL)
		n = e->count;
	pthread_mutex_unlock(&sl->mu);
	return n;
}
