/*
 * udp.c - the UDP datagrams of one worker.
 *
 * A batch of datagrams comes in with one recvmmsg(2) and the replies go
 * out with one sendmmsg(2), each uppercased in place in its receive slot:
 * no copy, no allocation.  A reply is never longer than its request (the
 * "unicode" transform leaves a character alone if its uppercase would
 * need more bytes), so upcased cannot amplify a spoofed request.  Which
 * datagrams are answered at all (the loop guard, the per-source rate) is
 * admit.c's decision; this worker's share of it is its admit_dgram.
 *
 * On a socket bound to a wildcard address the reply must leave from the
 * address the request was sent to, or a client on a multi-homed host
 * would see it come from a stranger; IP_PKTINFO / IPV6_PKTINFO carry that
 * address in and back out.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "admit.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "stats.h"
#include "udp.h"
#include "upcase.h"

#define UDP_BATCH	32
#define UDP_SLOT	65536	/* > UDP_MAX_PAYLOAD: a larger one is cut */

/* Room for either kind of packet information, aligned for cmsg. */
union udp_cmsg {
	struct cmsghdr	 align;
	uint8_t		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			     CMSG_SPACE(sizeof(struct in_pktinfo))];
};

struct udp_engine {
	struct stats	*st;
	uint8_t		*slots;		/* UDP_BATCH * UDP_SLOT, lazily
					   backed by the kernel */
	struct mmsghdr	 in[UDP_BATCH];
	struct mmsghdr	 out[UDP_BATCH];
	struct iovec	 iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	union udp_cmsg	 cin[UDP_BATCH];
	union udp_cmsg	 cout[UDP_BATCH];
	enum config_transform transform;
	struct admit_dgram *guard;	/* this worker's admission */
	uint64_t	 now;		/* worker clock, ms */
};

struct udp_engine *
udp_engine_new(struct stats *st)
{
	struct udp_engine *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	/*
	 * 2 MiB of address space, but a page is only backed once a
	 * datagram that large arrives: small datagrams touch one page a
	 * slot.
	 */
	u->slots = mmap(NULL, (size_t)UDP_BATCH * UDP_SLOT,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->slots == MAP_FAILED) {
		free(u);
		return NULL;
	}
	if ((u->guard = admit_dgram_new()) == NULL) {
		munmap(u->slots, (size_t)UDP_BATCH * UDP_SLOT);
		free(u);
		return NULL;
	}
	u->st = st;
	return u;
}

void
udp_engine_free(struct udp_engine *u)
{
	if (u == NULL)
		return;
	munmap(u->slots, (size_t)UDP_BATCH * UDP_SLOT);
	admit_dgram_free(u->guard);
	free(u);
}

void
udp_engine_configure(struct udp_engine *u, const struct config *cf)
{
	u->transform = cf->transform;
	admit_dgram_configure(u->guard, cf);
}

void
udp_engine_rules(struct udp_engine *u, const struct admit_rules *r)
{
	admit_dgram_rules(u->guard, r);
}

void
udp_engine_clock(struct udp_engine *u, uint64_t now_ms)
{
	u->now = now_ms;
}

void
udp_engine_ports(struct udp_engine *u, const uint16_t *ports, size_t n)
{
	admit_dgram_ports(u->guard, ports, n);
}

static void
udp_prepare(struct udp_engine *u, bool pktinfo)
{
	struct msghdr *m;
	int i;

	for (i = 0; i < UDP_BATCH; i++) {
		u->iov[i].iov_base = u->slots + (size_t)i * UDP_SLOT;
		u->iov[i].iov_len = UDP_SLOT;
		m = &u->in[i].msg_hdr;
		m->msg_name = &u->from[i];
		m->msg_namelen = sizeof(u->from[i]);
		m->msg_iov = &u->iov[i];
		m->msg_iovlen = 1;
		m->msg_control = pktinfo ? u->cin[i].buf : NULL;
		m->msg_controllen = pktinfo ? sizeof(u->cin[i].buf) : 0;
		m->msg_flags = 0;
	}
}

/*
 * Turn the packet information of a request into that of its reply: the
 * request's destination becomes the reply's source.  Returns the length
 * of the control data written to out (0: let the kernel choose).
 */
static size_t
udp_reply_cmsg(struct msghdr *in, union udp_cmsg *out)
{
	struct cmsghdr *c, *o;
	struct in6_pktinfo p6;
	struct in_pktinfo p4;

	memset(out, 0, sizeof(*out));
	o = (struct cmsghdr *)(void *)out->buf;
	for (c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&p6, CMSG_DATA(c), sizeof(p6));
			if (IN6_IS_ADDR_MULTICAST(&p6.ipi6_addr))
				return (size_t)-1;
			/* Keep the interface only where the address needs
			 * it; elsewhere routing picks the best way back. */
			if (!IN6_IS_ADDR_LINKLOCAL(&p6.ipi6_addr))
				p6.ipi6_ifindex = 0;
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(p6));
			memcpy(CMSG_DATA(o), &p6, sizeof(p6));
			return CMSG_SPACE(sizeof(p6));
		}
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&p4, CMSG_DATA(c), sizeof(p4));
			if (IN_MULTICAST(ntohl(p4.ipi_addr.s_addr)) ||
			    p4.ipi_addr.s_addr == htonl(INADDR_BROADCAST))
				return (size_t)-1;
			p4.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(p4));
			memcpy(CMSG_DATA(o), &p4, sizeof(p4));
			return CMSG_SPACE(sizeof(p4));
		}
	}
	return 0;
}

/* Build the reply to request i in out slot k; false to drop it. */
static bool
udp_reply(struct udp_engine *u, int i, int k, bool pktinfo)
{
	struct msghdr *in = &u->in[i].msg_hdr, *out = &u->out[k].msg_hdr;
	size_t len = u->in[i].msg_len, clen = 0;

	if (in->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		stats_add(&u->st->dropped_truncated, 1);
		return false;
	}
	if (admit_datagram(u->guard, u->st, (struct sockaddr *)&u->from[i],
	    u->now) != ADMIT_OK)
		return false;
	if (pktinfo && (clen = udp_reply_cmsg(in, &u->cout[k])) ==
	    (size_t)-1) {
		stats_add(&u->st->dropped_loop, 1);
		return false;	/* sent to a group or to everyone */
	}
	/* Never longer than the request: no amplification. */
	if (u->transform == CONFIG_TRANSFORM_ASCII)
		upcase_ascii(u->iov[i].iov_base, u->iov[i].iov_base, len);
	else
		len = upcase_utf8_nogrow(u->iov[i].iov_base, len);
	u->iov[i].iov_len = len;
	memset(out, 0, sizeof(*out));
	out->msg_name = &u->from[i];
	out->msg_namelen = in->msg_namelen;
	out->msg_iov = &u->iov[i];
	out->msg_iovlen = 1;
	out->msg_control = clen > 0 ? u->cout[k].buf : NULL;
	out->msg_controllen = clen;
	return true;
}

/* Send out[0..n); a reply the kernel refuses is dropped, not retried. */
static void
udp_send(struct udp_engine *u, const struct listener *l, int n)
{
	uint64_t bytes = 0;
	int i = 0, r, j;

	while (i < n) {
		r = sendmmsg(l->fd, u->out + i, (unsigned)(n - i),
		    MSG_DONTWAIT);
		if (r > 0) {
			for (j = i; j < i + r; j++)
				bytes += u->out[j].msg_len;
			stats_add(&u->st->dgrams_out, (uint64_t)r);
			i += r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)) {
			/* Send buffer full: UDP may drop, and so do we. */
			stats_add(&u->st->dropped_send, (uint64_t)(n - i));
			break;
		}
		stats_add(&u->st->dropped_send, 1);	/* this one only */
		i++;
	}
	stats_add(&u->st->udp_bytes_out, bytes);
}

void
udp_serve(struct udp_engine *u, const struct listener *l)
{
	uint64_t bytes = 0;
	int n, i, k = 0;

	udp_prepare(u, l->pktinfo);
	do {
		n = recvmmsg(l->fd, u->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	} while (n == -1 && errno == EINTR);
	if (n <= 0) {
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("recvmmsg on %s", l->name);
		return;
	}
	for (i = 0; i < n; i++) {
		bytes += u->in[i].msg_len;
		if (udp_reply(u, i, k, l->pktinfo))
			k++;
	}
	stats_add(&u->st->dgrams_in, (uint64_t)n);
	stats_add(&u->st->udp_bytes_in, bytes);
	if (k > 0)
		udp_send(u, l, k);
}
