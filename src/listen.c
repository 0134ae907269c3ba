/*
 * listen.c - opening, adopting and retiring the listening sockets.
 *
 * Sockets we bind ourselves get SO_REUSEADDR (a restart must not wait
 * out TIME_WAIT), IPV6_V6ONLY off for "::" so one socket serves IPv4 and
 * IPv6, and TCP_NODELAY, which accepted connections inherit: an echo
 * must not wait for Nagle; and tcp.send_buffer and tcp.receive_buffer,
 * if set, which they inherit as well (applied again on a reload, to the
 * sockets kept too).  Sockets passed by systemd are checked, not
 * trusted (type, family, listening state), and only made non-blocking
 * and given TCP_NODELAY: their addresses, IPV6_V6ONLY and buffer sizes
 * (SendBuffer=, ReceiveBuffer=) are the socket unit's business.  A passed socket is an echo listener unless it is
 * named "metrics": that one is the metrics endpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "addr.h"
#include "config.h"
#include "listen.h"
#include "log.h"

static void
listen_name(struct listener *l)
{
	char a[ADDR_STRLEN];

	addr_format((struct sockaddr *)&l->addr, a, sizeof(a));
	snprintf(l->name, sizeof(l->name), "%s %s",
	    l->ev.kind == EV_UDP ? "udp" :
	    l->ev.kind == EV_HTTP_LISTEN ? "metrics" : "tcp", a);
}

/* Ask for the destination address of each datagram (wildcard binds). */
static int
listen_pktinfo(struct listener *l)
{
	int on = 1;

	if (l->ev.kind != EV_UDP || !addr_is_any((struct sockaddr *)&l->addr))
		return 0;
	if (l->addr.ss_family == AF_INET6) {
		if (setsockopt(l->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		    sizeof(on)) == -1)
			return -1;
	} else if (setsockopt(l->fd, IPPROTO_IP, IP_PKTINFO, &on,
	    sizeof(on)) == -1)
		return -1;
	l->pktinfo = true;
	return 0;
}

static struct listener *
listen_new(int kind)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->ev.kind = (uint8_t)kind;
	l->fd = -1;
	return l;
}

void
listen_close(struct listener *l)
{
	if (l->fd != -1)
		close(l->fd);
	free(l);
}

/* --- socket activation ----------------------------------------------- */

static int
listen_adopt(int fd, const char *name, struct listener_set *set, char *err,
    size_t len)
{
	struct listener *l;
	int kind, flags;
	bool metrics = strcmp(name, "metrics") == 0;

	if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0)
		kind = metrics ? EV_HTTP_LISTEN : EV_TCP_LISTEN;
	else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_DGRAM, -1, 0) > 0)
		kind = EV_UDP;
	else {
		snprintf(err, len, "socket activation: fd %d (%s) is not an "
		    "AF_INET/AF_INET6 listening stream socket or datagram "
		    "socket", fd, name);
		return -1;
	}
	if ((strcmp(name, "tcp") == 0 && kind != EV_TCP_LISTEN) ||
	    (strcmp(name, "udp") == 0 && kind != EV_UDP) ||
	    (metrics && kind != EV_HTTP_LISTEN)) {
		snprintf(err, len, "socket activation: fd %d is named '%s' "
		    "but is a %s socket", fd, name,
		    kind == EV_UDP ? "datagram" : "stream");
		return -1;
	}
	if (set->n == LISTEN_MAX) {
		snprintf(err, len, "socket activation: more than %d sockets",
		    LISTEN_MAX);
		return -1;
	}
	if ((l = listen_new(kind)) == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	l->fd = fd;
	l->activated = true;
	l->addrlen = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) == -1 ||
	    (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    listen_pktinfo(l) == -1) {
		snprintf(err, len, "socket activation: fd %d: %s", fd,
		    strerror(errno));
		l->fd = -1;
		free(l);
		return -1;
	}
	/*
	 * As for our own sockets: accepted connections inherit it.  (The
	 * socket unit's NoDelay= would also hit its datagram sockets.)
	 */
	if (kind != EV_UDP && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
	    &(int){ 1 }, sizeof(int)) == -1)
		log_warn("socket activation: fd %d: TCP_NODELAY", fd);
	l->port = addr_port((struct sockaddr *)&l->addr);
	listen_name(l);
	set->l[set->n++] = l;
	return 0;
}

static bool
listen_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

int
listen_takeover(int fd, int kind, bool activated,
    const struct sockaddr_storage *want, struct listener_set *set,
    char *err, size_t len)
{
	struct listener *l;
	int type = 0, acc = 0;
	socklen_t tl = sizeof(type), al = sizeof(acc);

	if (set->n == LISTEN_MAX || (l = listen_new(kind)) == NULL) {
		snprintf(err, len, "too many sockets, or out of memory");
		close(fd);
		return -1;
	}
	l->fd = fd;
	l->activated = activated;
	l->addrlen = sizeof(l->addr);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == -1 ||
	    getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) == -1) {
		snprintf(err, len, "a socket handed over: %s", strerror(errno));
		listen_close(l);
		return -1;
	}
	l->port = addr_port((struct sockaddr *)&l->addr);
	listen_name(l);
	if (type != (kind == EV_UDP ? SOCK_DGRAM : SOCK_STREAM) ||
	    (kind != EV_UDP) != (acc != 0) ||
	    l->addr.ss_family != want->ss_family ||
	    addr_port((const struct sockaddr *)want) != l->port ||
	    !listen_same_addr(want, &l->addr)) {
		snprintf(err, len, "the socket handed over as %s is not that",
		    l->name);
		listen_close(l);
		return -1;
	}
	if (kind == EV_UDP && addr_is_any((struct sockaddr *)&l->addr))
		l->pktinfo = true;	/* set by the old process */
	set->l[set->n++] = l;
	if (activated)
		set->activated = true;
	return 0;
}

int
listen_from_systemd(struct listener_set *set, struct listener_set *metrics,
    char *err, size_t len)
{
	char **names = NULL;
	const char *name;
	int n, i, rc = 0;

	memset(set, 0, sizeof(*set));
	memset(metrics, 0, sizeof(*metrics));
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(err, len, "socket activation: %s", strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++) {
		name = names != NULL && names[i] != NULL ? names[i] :
		    "unnamed";
		if (rc == 0 && listen_adopt(SD_LISTEN_FDS_START + i, name,
		    strcmp(name, "metrics") == 0 ? metrics : set, err,
		    len) == -1)
			rc = -1;
		if (names != NULL)
			free(names[i]);
	}
	free(names);
	if (rc == -1) {
		listen_release(set, NULL);
		listen_release(metrics, NULL);
		return -1;
	}
	/* Either set may be empty: the file's ports are unused all the same. */
	set->activated = metrics->activated = n > 0;
	return n;
}

/* --- binding ---------------------------------------------------------- */

static int
listen_bind(struct listener *l, char *err, size_t len)
{
	int on = 1, off = 0;
	int type = l->ev.kind == EV_UDP ? SOCK_DGRAM : SOCK_STREAM;
	const struct sockaddr *sa = (struct sockaddr *)&l->addr;

	l->fd = socket(l->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (l->fd == -1)
		goto fail;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1)
		goto fail;
	/* "::" means both families, whatever net.ipv6.bindv6only says. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    addr_is_any(sa) ? &off : &on, sizeof(int)) == -1)
		goto fail;
	if (type == SOCK_STREAM && setsockopt(l->fd, IPPROTO_TCP,
	    TCP_NODELAY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(l->fd, sa, l->addrlen) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(l->fd, 4096) == -1)
		goto fail;
	if (listen_pktinfo(l) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, len, "%s: %s", l->name, strerror(errno));
	return -1;
}

/* The socket of old that serves exactly this, if any. */
static struct listener *
listen_find(const struct listener_set *old, int kind,
    const struct sockaddr_storage *ss, socklen_t sslen)
{
	size_t i;

	for (i = 0; old != NULL && i < old->n; i++) {
		struct listener *l = old->l[i];

		if (l->ev.kind == kind && !l->activated &&
		    l->addrlen == sslen && memcmp(&l->addr, ss, sslen) == 0)
			return l;
	}
	return NULL;
}

static int
listen_proto(const struct config_proto *p, int kind,
    const struct listener_set *old, struct listener_set *set, char *err,
    size_t len)
{
	struct sockaddr_storage ss;
	struct listener *l;
	unsigned b, i;

	for (b = 0; b < p->nbinds; b++) {
		for (i = 0; i < p->nports; i++) {
			ss = p->binds[b].addr;
			addr_set_port((struct sockaddr *)&ss, p->ports[i]);
			if (set->n == LISTEN_MAX) {
				snprintf(err, len, "more than %d sockets",
				    LISTEN_MAX);
				return -1;
			}
			l = listen_find(old, kind, &ss, p->binds[b].addrlen);
			if (l != NULL) {
				set->l[set->n++] = l;
				continue;
			}
			if ((l = listen_new(kind)) == NULL) {
				snprintf(err, len, "out of memory");
				return -1;
			}
			l->addr = ss;
			l->addrlen = p->binds[b].addrlen;
			l->port = p->ports[i];
			listen_name(l);
			set->l[set->n++] = l;
			if (listen_bind(l, err, len) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * One socket buffer size of a TCP listener (tcp.send_buffer or
 * tcp.receive_buffer; 0 leaves the kernel's autotuning on), which every
 * connection accepted from it inherits.  The kernel doubles the value for
 * its bookkeeping and caps it at net.core.wmem_max or rmem_max: said once
 * if it did.
 */
static void
listen_sockbuf(const struct listener *l, int opt, const char *name,
    unsigned bytes)
{
	static _Atomic bool capped_told;
	int v = (int)bytes, got = 0;
	socklen_t glen = sizeof(got);

	if (bytes == 0)
		return;
	if (setsockopt(l->fd, SOL_SOCKET, opt, &v, sizeof(v)) == -1) {
		log_warn("%s: %s", l->name, name);
		return;
	}
	if (getsockopt(l->fd, SOL_SOCKET, opt, &got, &glen) == 0 &&
	    got / 2 < v && !atomic_exchange(&capped_told, true))
		log_notice("%s = %u: the kernel allows %d (net.core.%s)", name,
		    bytes, got / 2, opt == SO_SNDBUF ? "wmem_max" : "rmem_max");
}

int
listen_open(const struct config *cf, const struct listener_set *old,
    struct listener_set *set, char *err, size_t len)
{
	size_t i;

	memset(set, 0, sizeof(*set));
	if (listen_proto(&cf->tcp, EV_TCP_LISTEN, old, set, err, len) == -1 ||
	    listen_proto(&cf->udp, EV_UDP, old, set, err, len) == -1) {
		/* Close what this call opened; old keeps its own. */
		listen_release(set, old);
		return -1;
	}
	/* Kept sockets too: a reload applies to connections it accepts. */
	for (i = 0; i < set->n; i++) {
		if (set->l[i]->ev.kind != EV_TCP_LISTEN)
			continue;
		listen_sockbuf(set->l[i], SO_SNDBUF, "tcp.send_buffer",
		    cf->tcp_send_buffer);
		listen_sockbuf(set->l[i], SO_RCVBUF, "tcp.receive_buffer",
		    cf->tcp_receive_buffer);
	}
	return 0;
}

int
listen_open_metrics(const struct config *cf, const struct listener_set *old,
    struct listener_set *set, char *err, size_t len)
{
	memset(set, 0, sizeof(*set));
	if (listen_proto(&cf->metrics, EV_HTTP_LISTEN, old, set, err,
	    len) == -1) {
		listen_release(set, old);
		return -1;
	}
	return 0;
}

bool
listen_set_has(const struct listener_set *set, const struct listener *l)
{
	size_t i;

	for (i = 0; set != NULL && i < set->n; i++)
		if (set->l[i] == l)
			return true;
	return false;
}

void
listen_release(struct listener_set *set, const struct listener_set *next)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!listen_set_has(next, set->l[i]))
			listen_close(set->l[i]);
	set->n = 0;
}

void
listen_seal(const struct listener_set *set)
{
	/*
	 * Classic BPF; a TCP socket's filter sees the segment from its TCP
	 * header on.  Drop a SYN without ACK (a new connection); keep the
	 * rest, so handshakes under way complete into the queue, which the
	 * workers go on emptying for a moment.  Connections accepted from
	 * now on inherit the filter, harmlessly: they see no bare SYN.
	 */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),	/* TCP flags */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12), /* SYN, ACK */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),		/* drop */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),	/* keep it all */
	};
	struct sock_fprog prog = { .len = 5, .filter = code };
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct listener *l = set->l[i];

		/*
		 * systemd keeps its own reference to a passed socket and
		 * hands it, queue and all, to our next instance: a filter
		 * there would outlive us and starve it.
		 */
		if (l->ev.kind != EV_TCP_LISTEN || l->activated)
			continue;
		if (setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		    sizeof(prog)) == -1)
			log_warn("%s: SO_ATTACH_FILTER (new connections may "
			    "queue until the socket is closed)", l->name);
	}
}

size_t
listen_udp_ports(const struct listener_set *set, uint16_t *ports,
    size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < set->n && n < max; i++) {
		if (set->l[i]->ev.kind != EV_UDP)
			continue;
		for (j = 0; j < n && ports[j] != set->l[i]->port; j++)
			;
		if (j == n)
			ports[n++] = set->l[i]->port;
	}
	return n;
}

enum listen_accept_error
listen_accept_error(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return LISTEN_ACCEPT_DRAINED;
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:		/* a firewall rule */
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
	case ETIMEDOUT:
		return LISTEN_ACCEPT_SKIP;
	default:		/* EMFILE, ENFILE, ENOBUFS, ENOMEM */
		return LISTEN_ACCEPT_BACKOFF;
	}
}
