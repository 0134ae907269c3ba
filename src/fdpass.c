/*
 * fdpass.c - descriptors and a message over an AF_UNIX stream socket
 * (fdpass.h).  The main thread of either process of a hand-over calls
 * it; it keeps no state.
 *
 * On a stream socket the descriptors of one sendmsg() ride on its
 * first byte, and a recvmsg() never reads past a batch that carried
 * descriptors, so reading exactly len bytes takes exactly this batch's.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

/* Wait for ev on sock: 0, or -1 (ETIMEDOUT, or poll's errno). */
static int
fdpass_wait(int sock, short ev, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = ev };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return n == 1 ? 0 : -1;
}

int
fdpass_send(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds, int timeout_ms)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cm;
	const char *p = buf;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *h;
	ssize_t n;

	if (len == 0 || nfds > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (len > 0) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = (void *)(uintptr_t)p;
		iov.iov_len = len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (nfds > 0) {		/* only with the first byte */
			memset(&cm, 0, sizeof(cm));
			msg.msg_control = cm.b;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			h = CMSG_FIRSTHDR(&msg);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(h), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    fdpass_wait(sock, POLLOUT, timeout_ms) == 0)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		nfds = 0;
	}
	return 0;
}

static void
close_all(int *fds, size_t n)
{
	while (n-- > 0)
		(void)close(fds[n]);
}

/* Take the descriptors of one control message; false if too many. */
static bool
take_fds(struct cmsghdr *h, int *fds, size_t nfds, size_t *got)
{
	size_t k, i;
	int fd;

	k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	for (i = 0; i < k; i++) {
		memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
		if (*got < nfds)
			fds[(*got)++] = fd;
		else {
			(void)close(fd);
			return false;
		}
	}
	return true;
}

int
fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t nfds,
    int timeout_ms)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cm;
	char *p = buf;
	size_t got = 0;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *h;
	bool ok = true;
	ssize_t n;
	int err;

	if (len == 0 || nfds > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (len > 0) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = p;
		iov.iov_len = len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    fdpass_wait(sock, POLLIN, timeout_ms) == 0)
				continue;
			goto fail;
		}
		for (h = CMSG_FIRSTHDR(&msg); h != NULL;
		    h = CMSG_NXTHDR(&msg, h))
			if (h->cmsg_level == SOL_SOCKET &&
			    h->cmsg_type == SCM_RIGHTS &&
			    !take_fds(h, fds, nfds, &got))
				ok = false;
		if (msg.msg_flags & MSG_CTRUNC)
			ok = false;
		if (n == 0) {
			errno = ECONNRESET;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (ok && got == nfds)
		return 0;
	errno = EPROTO;
fail:
	err = errno;
	close_all(fds, got);
	errno = err;
	return -1;
}
