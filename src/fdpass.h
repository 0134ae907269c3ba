/*
 * fdpass.h - descriptors and a message over an AF_UNIX stream socket
 * (SCM_RIGHTS), for the hand-over of an upgrade (doc/handover.md).
 *
 * Called by the main thread of the old process (send) and of the new
 * one (receive), on a socketpair the old one made.  A batch is len
 * bytes with up to FDPASS_MAX descriptors riding on its first byte;
 * both sides know len and the count (the state's records say them), so
 * a stream socket's short reads and writes are absorbed here.
 */
#ifndef UPCASED_FDPASS_H
#define UPCASED_FDPASS_H

#include <stddef.h>

/* The kernel's SCM_MAX_FD is 253 descriptors per message. */
#define FDPASS_MAX	253

/*
 * Send buf[0..len) (len >= 1) with nfds descriptors (at most
 * FDPASS_MAX), retrying after EINTR and short writes, waiting at most
 * timeout_ms for room each time the socket is full.  0, or -1 with
 * errno (ETIMEDOUT, EINVAL for bad sizes, or sendmsg's).  The
 * descriptors stay open here: the kernel passed copies.
 */
int	fdpass_send(int sock, const void *buf, size_t len, const int *fds,
	    size_t nfds, int timeout_ms);

/*
 * Receive exactly len bytes and exactly nfds descriptors into fds
 * (close-on-exec), waiting at most timeout_ms for each read.  0, or -1
 * with errno: EPROTO if the descriptors that came are not nfds (or were
 * cut short by the kernel), ECONNRESET at end of stream, ETIMEDOUT, or
 * recvmsg's.  On error every descriptor received is closed.
 */
int	fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t nfds,
	    int timeout_ms);

#endif
