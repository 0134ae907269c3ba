/*
 * upgrade.h - the conversation of an upgrade's hand-over (SIGUSR2,
 * doc/handover.md) on the socketpair between the old process and its
 * successor: starting the successor, the control records, and the state
 * sent and received in batches of records and descriptors.
 *
 * Main thread only, on both sides.  Nothing here knows a worker, a
 * listener or a connection: server.c gives the records and descriptors
 * and takes them back through callbacks.  Every wait is bounded by a
 * deadline and calls a tick function at least every tick_ms, so the
 * caller goes on feeding the watchdog.
 */
#ifndef UPCASED_UPGRADE_H
#define UPCASED_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "handover.h"

/* The descriptor the successor finds its end of the socketpair on. */
#define UPGRADE_FD	3

struct upgrade_io {
	int		 sock;
	uint64_t	 deadline;	/* worker_now_ms() */
	unsigned	 tick_ms;
	void		(*tick)(void *);
	void		*arg;
};

/*
 * Old side: socketpair, fork, and execv(exe, argv) with the child's end
 * on UPGRADE_FD.  If execv() fails the child sends a REFUSE (EXEC,
 * errno) and exits 127.  Returns the child's pid and *sock (non-blocking,
 * close-on-exec), or -1 with errno.
 */
pid_t	upgrade_spawn(const char *exe, char *const argv[], int *sock);

/* Send one encoded record (no descriptors).  0, or -1 with errno. */
int	upgrade_send(struct upgrade_io *io, const uint8_t *rec, size_t len);

/*
 * Read the next record into buf (cap bytes): 0 and its length in *len,
 * or -1 with errno: ECONNRESET at end of stream, ETIMEDOUT past the
 * deadline, EMSGSIZE if it does not fit.
 */
int	upgrade_recv(struct upgrade_io *io, uint8_t *buf, size_t cap,
	    size_t *len);

/*
 * Send the state: recs[0..len) are its records in order (HEADER,
 * COUNTERS, SOURCES, LISTENERs, CONNs, END); fd_at[i] is the offset in recs of
 * the i-th record that carries fds[i].  It goes in batches of at most
 * FDPASS_MAX descriptors, each after a BATCH record.
 */
int	upgrade_send_state(struct upgrade_io *io, const uint8_t *recs,
	    size_t len, const size_t *fd_at, const int *fds, size_t nfds);

/*
 * New side: receive and decode the state.  Each record is handed to the
 * callbacks as it is decoded (a CONN's out and hdr point into a batch
 * freed after its last callback); a LISTENER's or CONN's descriptor is
 * the callback's from then on (close it on refusal).  A callback
 * returns NULL to go on, or why it refuses.  Returns NULL once END came,
 * or why not (a refusal, a decoder's reason, or an I/O error's text);
 * descriptors not yet given to a callback are closed.
 */
struct upgrade_sink {
	const char	*(*header)(void *, const struct handover_header *);
	const char	*(*counters)(void *, const struct stats_snapshot *);
	const char	*(*sources)(void *, const struct handover_source *,
			    size_t n);
	const char	*(*listener)(void *, const struct handover_listener *,
			    int fd);
	const char	*(*conn)(void *, const struct handover_conn *, int fd);
	void		*arg;
};
const char *upgrade_recv_state(struct upgrade_io *io,
	    const struct upgrade_sink *sink, char *buf, size_t buflen);

#endif
