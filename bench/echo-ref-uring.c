/*
 * echo-ref-uring.c - the plain echo of bench/echo-ref, on io_uring.
 *
 * Issue 13 asks whether an io_uring loop would make upcased cheaper; this
 * program answers it before anything is built in the daemon.  bench/run
 * measures it against bench/echo-ref in the same repeat (server "uring"):
 * the same service (TCP and UDP on one port, replies byte for byte, no
 * UDP reply to a source port below 1024 or to our own port, no more read
 * from a connection while its reply waits), another way to wait.
 *
 * One thread, one ring, and one io_uring_enter(2) per loop turn
 * (io_uring_submit_and_wait): it submits every SQE the turn produced (the
 * sends of all the replies, re-arms) and waits for at least one CQE.
 *   TCP: one multishot accept on the listener; one multishot receive per
 *        connection into a ring of provided buffers; each buffer
 *        received is sent back as it is, and goes back to its buffer
 *        ring when its send completes.  A connection has one send in
 *        flight at a time; while two buffers wait (--queue) its receive
 *        is cancelled, and armed again once they are sent, so a client
 *        that does not read costs two buffers and no more.  When a buffer
 *        ring is empty a receive ends with -ENOBUFS: it is armed again
 *        at the end of the turn, after the turn's buffers came back.
 *   UDP: a multishot recvmsg into a buffer ring of its own; the reply is
 *        a sendmsg from the same buffer.  Where the kernel refuses a
 *        multishot recvmsg (-EINVAL), or with -u, UDP_SLOTS plain
 *        recvmsg requests are kept in flight instead, each with a slot
 *        of its own.
 *
 * The choices echo-ref makes (bench/echo-ref.c, bench/README.md "The
 * yardstick"), made the same way here where they apply, each a switch:
 *   - SO_SNDBUF and SO_RCVBUF of 4 MiB on the listener (inherited) and the
 *     UDP socket, autotuning off (--sndbuf, --rcvbuf; 0: autotuned).
 *   - TCP receives of up to 512 KiB, echo-ref's one read per wake-up:
 *     a connection starts on the small buffers (1024 x 64 KiB, the pool
 *     a thousand ping-pong clients need, --small-buf, --small-bufs); one
 *     whose receive fills a small buffer is streaming, and its receive
 *     is cancelled and armed again on the large buffers (16 x 512 KiB,
 *     --buf, --bufs; --bufs=0 keeps every connection on the small ones,
 *     the program as first measured).  Few large buffers, because the
 *     kernel takes buffers from a ring in order: a stream cycles through
 *     all of them, and 16 x 512 KiB stays near the cache where echo-ref's
 *     one buffer does; a thousand 512 KiB buffers would not.  A
 *     connection that streamed once stays on the large buffers.
 *   - UDP batches: every datagram of a turn is one SQE, all submitted by
 *     the turn's one enter; the UDP buffer ring (256, --udp-bufs) bounds
 *     a turn to 256 datagrams, as echo-ref's 64 per recvmmsg(2) times 4
 *     calls per wake-up does.
 *   - No MSG_DONTWAIT (io_uring polls for us), MSG_NOSIGNAL on sends.
 *   Not here: --workers (one thread, one ring) and --budget (a multishot
 *   receive takes what comes, one buffer per CQE).
 * At start it checks what the kernel offers (io_uring_get_probe_ring,
 * the IORING_FEAT_* bits, a buffer ring) and stops with a message saying
 * what is missing: io_uring off (kernel.io_uring_disabled), refused by a
 * seccomp filter, or a kernel older than the multishot receive (6.0).
 *
 * The buffers are touched at start, so that the memory the idle shape
 * reads per connection is the connection's, not the buffers', and a
 * stream does not pay the page faults of its first pass.
 *
 * Single-threaded; every function runs on the main thread.
 *
 * usage: echo-ref-uring -p PORT [-b ADDR] [options]	(see usage() below)
 */
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "echo-common.h"

#define SQ_ENTRIES	4096
#define CQ_ENTRIES	32768
#define TCP_BGID	0		/* the small TCP buffers */
#define UDP_BGID	1
#define BIG_BGID	2		/* the large TCP buffers */
#define UDP_BUFSZ	(65536 + 256)	/* header, address, a whole datagram */
#define UDP_SLOTS	32

/* The choices, each a switch; the defaults are echo-ref's where they apply. */
static struct {
	size_t		 small_size;	/* --small-buf: every connection's first */
	unsigned	 small_n;	/* --small-bufs */
	size_t		 big_size;	/* --buf: a streaming connection's */
	unsigned	 big_n;		/* --bufs: 0, no large buffers */
	int		 rcvbuf;	/* --rcvbuf: 0 leaves autotuning on */
	int		 sndbuf;	/* --sndbuf */
	unsigned	 udp_n;		/* --udp-bufs: datagrams per turn, at most */
	unsigned	 pause_at;	/* --queue: buffers waiting, stop reading */
} opt = {
	65536, 1024, 512 * 1024, 16, 4 << 20, 4 << 20, 256, 2
};

/* What a CQE belongs to: the top byte of its user_data. */
enum op {
	OP_IGNORE, OP_ACCEPT, OP_RECV, OP_SEND, OP_URECV, OP_USEND,
	OP_URECV1, OP_USEND1
};

#define UD(op, v)	(((uint64_t)(op) << 56) | (uint32_t)(v))
#define UD_OP(ud)	((enum op)((ud) >> 56))
#define UD_V(ud)	((uint32_t)(ud))

#define C_OPEN		0x01
#define C_RECV		0x02	/* a multishot receive is armed */
#define C_SEND		0x04	/* a send is in flight */
#define C_EOF		0x08	/* the peer finished: close once sent */
#define C_DEAD		0x10	/* error: drop what waits, close */
#define C_PAUSE		0x20	/* receive cancelled until the queue drains */
#define C_REARM		0x40	/* on the re-arm list */
#define C_BIG		0x80	/* streams: receive into the large buffers */
#define C_ARMBIG	0x100	/* the armed receive takes large buffers */
#define C_CANCEL	0x200	/* a cancel of the receive is on its way */

/*
 * A connection: the buffers waiting to go back, in order.  A buffer's id
 * here is its id in the small ring, or the small ring's size plus its id
 * in the large one.
 */
struct conn {
	int32_t		 head, tail;	/* buffer ids, -1: none */
	uint32_t	 off;		/* bytes of head already sent */
	uint16_t	 nq;
	uint16_t	 flags;
};

/* A ring of provided buffers. */
struct bufs {
	struct io_uring_buf_ring *br;
	uint8_t		*base;
	size_t		 size;
	unsigned	 n, added;
	int		 mask;
};

/* A UDP reply in flight: its header lives until its CQE. */
struct umsg {
	struct msghdr	 mh;
	struct iovec	 iov;
};

/* The fallback: one plain recvmsg per slot. */
struct uslot {
	struct msghdr	 mh;
	struct iovec	 iov;
	struct sockaddr_storage from;
	uint8_t		 data[65536];
};

static struct io_uring	 ring;
static int		 tcp_lfd = -1, udp_fd = -1, quiet;
static uint16_t		 own_port;
static struct conn	*conns;		/* indexed by descriptor */
static size_t		 nconns;
static struct bufs	 tb, bb, ub;	/* small TCP, large TCP, UDP */
static int32_t		*bnext;		/* TCP buffer id -> next in queue */
static uint32_t		*blen;		/* TCP buffer id -> bytes received */
static struct umsg	*umsgs;		/* UDP buffer id -> reply header */
static struct msghdr	 urecv_mh;	/* the multishot recvmsg's layout */
static struct uslot	*uslots;
static int		 udp_multishot = 1, udp_armed;
static int		*rearm;		/* descriptors to arm at turn end */
static size_t		 nrearm;

static void
die(const char *what, int err)
{
	fprintf(stderr, "echo-ref-uring: %s: %s\n", what, strerror(err));
	exit(71);
}

static struct io_uring_sqe *
sqe_get(void)
{
	struct io_uring_sqe *sqe;
	int rc;

	if ((sqe = io_uring_get_sqe(&ring)) != NULL)
		return sqe;
	/* The SQ is full: a second enter this turn. */
	if ((rc = io_uring_submit(&ring)) < 0)
		die("io_uring_submit", -rc);
	if ((sqe = io_uring_get_sqe(&ring)) == NULL)
		die("io_uring_get_sqe", EBUSY);
	return sqe;
}

static void
bufs_setup(struct bufs *b, unsigned n, size_t size, int bgid, int touch)
{
	struct io_uring_buf_reg reg;
	size_t rsz = n * sizeof(struct io_uring_buf);
	unsigned i;
	int rc;

	b->br = mmap(NULL, rsz, PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	b->base = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE | (touch ? MAP_POPULATE : 0), -1, 0);
	if (b->br == MAP_FAILED || b->base == MAP_FAILED)
		die("mmap", errno);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)b->br;
	reg.ring_entries = n;
	reg.bgid = (uint16_t)bgid;
	io_uring_buf_ring_init(b->br);
	if ((rc = io_uring_register_buf_ring(&ring, &reg, 0)) != 0) {
		fprintf(stderr, "echo-ref-uring: this kernel has no provided "
		    "buffer rings (IORING_REGISTER_PBUF_RING, 5.19): %s\n",
		    strerror(-rc));
		exit(69);
	}
	b->size = size;
	b->n = n;
	b->mask = io_uring_buf_ring_mask(n);
	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(b->br, b->base + i * size,
		    (unsigned)size, (unsigned short)i, b->mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)n);
	b->added = 0;
}

/* Give buffer bid back; published at the end of the turn. */
static void
bufs_put(struct bufs *b, unsigned bid)
{
	io_uring_buf_ring_add(b->br, b->base + bid * b->size,
	    (unsigned)b->size, (unsigned short)bid, b->mask, (int)b->added);
	b->added++;
}

static void
bufs_publish(struct bufs *b)
{
	if (b->added > 0)
		io_uring_buf_ring_advance(b->br, (int)b->added);
	b->added = 0;
}

/* A TCP buffer by its id in a connection's queue (struct conn). */
static uint8_t *
tcp_buf(unsigned id)
{
	if (id < tb.n)
		return tb.base + id * tb.size;
	return bb.base + (id - tb.n) * bb.size;
}

static void
tcp_buf_put(unsigned id)
{
	if (id < tb.n)
		bufs_put(&tb, id);
	else
		bufs_put(&bb, id - tb.n);
}

/* --- TCP -------------------------------------------------------------- */

static void
accept_arm(void)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_multishot_accept(sqe, tcp_lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, 0));
}

static void
recv_arm(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();

	struct conn *c = &conns[fd];

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	if ((c->flags & C_BIG) && bb.n > 0) {
		sqe->buf_group = BIG_BGID;
		c->flags |= C_ARMBIG;
	} else {
		sqe->buf_group = TCP_BGID;
		c->flags &= (uint16_t)~C_ARMBIG;
	}
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
	c->flags |= C_RECV;
}

/* Cancel the armed receive, once; its last CQE says when it is gone. */
static void
recv_cancel(int fd)
{
	struct io_uring_sqe *sqe;

	if (conns[fd].flags & C_CANCEL)
		return;
	conns[fd].flags |= C_CANCEL;
	sqe = sqe_get();
	io_uring_prep_cancel64(sqe, UD(OP_RECV, fd), 0);
	io_uring_sqe_set_data64(sqe, UD(OP_IGNORE, 0));
}

static void
send_start(int fd)
{
	struct conn *c = &conns[fd];
	struct io_uring_sqe *sqe = sqe_get();
	unsigned bid = (unsigned)c->head;

	io_uring_prep_send(sqe, fd, tcp_buf(bid) + c->off,
	    blen[bid] - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
	c->flags |= C_SEND;
}

static void
conn_drop_queue(struct conn *c)
{
	int32_t bid;

	while ((bid = c->head) != -1) {
		c->head = bnext[bid];
		tcp_buf_put((unsigned)bid);
	}
	c->tail = -1;
	c->nq = 0;
	c->off = 0;
}

/*
 * After any change: close a finished connection once nothing is in
 * flight, or arm its receive again when it may read.
 */
static void
conn_settle(int fd)
{
	struct conn *c = &conns[fd];

	if (c->flags & (C_RECV | C_SEND))
		return;
	if ((c->flags & C_DEAD) || ((c->flags & C_EOF) && c->nq == 0)) {
		conn_drop_queue(c);
		close(fd);
		c->flags = 0;
		return;
	}
	if (c->flags & C_EOF)
		return;			/* sending what is left */
	if ((c->flags & C_PAUSE) && c->nq > 0)
		return;
	c->flags &= (uint16_t)~C_PAUSE;
	recv_arm(fd);
}

static void
conn_kill(int fd)
{
	struct conn *c = &conns[fd];

	c->flags |= C_DEAD;
	conn_drop_queue(c);
	if (c->flags & C_RECV)
		recv_cancel(fd);
	conn_settle(fd);
}

static void
on_accept(const struct io_uring_cqe *cqe)
{
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		accept_arm();		/* EMFILE and the like: again */
	if (fd < 0)
		return;
	if ((size_t)fd >= nconns) {
		close(fd);
		return;
	}
	conns[fd].head = conns[fd].tail = -1;
	conns[fd].off = 0;
	conns[fd].nq = 0;
	conns[fd].flags = C_OPEN;
	recv_arm(fd);
}

static void
on_recv(int fd, const struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	unsigned bid;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->flags &= (uint16_t)~(C_RECV | C_CANCEL);
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (c->flags & C_ARMBIG)
			bid += tb.n;
		if (cqe->res <= 0 || (c->flags & C_DEAD)) {
			tcp_buf_put(bid);
		} else {
			blen[bid] = (uint32_t)cqe->res;
			bnext[bid] = -1;
			if (c->tail == -1)
				c->head = (int32_t)bid;
			else
				bnext[c->tail] = (int32_t)bid;
			c->tail = (int32_t)bid;
			c->nq++;
			if (!(c->flags & C_SEND))
				send_start(fd);
			/* A small buffer filled: a stream, to the large. */
			if (!(c->flags & (C_ARMBIG | C_BIG)) && bb.n > 0 &&
			    (size_t)cqe->res == tb.size) {
				c->flags |= C_BIG;
				if (c->flags & C_RECV)
					recv_cancel(fd);
			}
			if (c->nq >= opt.pause_at && (c->flags & C_RECV) &&
			    !(c->flags & C_PAUSE)) {
				c->flags |= C_PAUSE;
				recv_cancel(fd);
			}
		}
	}
	if (c->flags & C_RECV)
		return;
	if (cqe->res == -ENOBUFS) {
		/*
		 * No buffer left: arm again once this turn's are back; on the
		 * small ones if the large ran out (streams that do not read
		 * may hold them all).
		 */
		if (c->flags & C_ARMBIG)
			c->flags &= (uint16_t)~C_BIG;
		if (!(c->flags & C_REARM)) {
			c->flags |= C_REARM;
			rearm[nrearm++] = fd;
		}
		return;
	}
	if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ECANCELED))
		c->flags |= C_EOF;
	conn_settle(fd);
}

static void
on_send(int fd, const struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	unsigned bid;

	c->flags &= (uint16_t)~C_SEND;
	if (c->flags & C_DEAD) {
		conn_settle(fd);
		return;
	}
	if (cqe->res < 0) {
		conn_kill(fd);
		return;
	}
	bid = (unsigned)c->head;
	c->off += (uint32_t)cqe->res;
	if (c->off >= blen[bid]) {
		c->off = 0;
		c->head = bnext[bid];
		if (c->head == -1)
			c->tail = -1;
		c->nq--;
		tcp_buf_put(bid);
	}
	if (c->nq > 0)
		send_start(fd);
	conn_settle(fd);
}

/* --- UDP -------------------------------------------------------------- */

static void
urecv_arm(void)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recvmsg_multishot(sqe, udp_fd, &urecv_mh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UDP_BGID;
	io_uring_sqe_set_data64(sqe, UD(OP_URECV, 0));
	udp_armed = 1;
}

static void
urecv1_arm(unsigned i)
{
	struct uslot *s = &uslots[i];
	struct io_uring_sqe *sqe = sqe_get();

	s->iov.iov_base = s->data;
	s->iov.iov_len = sizeof(s->data);
	memset(&s->mh, 0, sizeof(s->mh));
	s->mh.msg_name = &s->from;
	s->mh.msg_namelen = sizeof(s->from);
	s->mh.msg_iov = &s->iov;
	s->mh.msg_iovlen = 1;
	io_uring_prep_recvmsg(sqe, udp_fd, &s->mh, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_URECV1, i));
}

static void
udp_fallback(void)
{
	unsigned i;

	udp_multishot = 0;
	if ((uslots = calloc(UDP_SLOTS, sizeof(*uslots))) == NULL)
		die("calloc", errno);
	for (i = 0; i < UDP_SLOTS; i++)
		urecv1_arm(i);
	if (!quiet)
		fprintf(stderr, "echo-ref-uring: UDP with %d plain recvmsg "
		    "requests in flight\n", UDP_SLOTS);
}

static void
on_urecv(const struct io_uring_cqe *cqe)
{
	struct io_uring_recvmsg_out *o;
	struct io_uring_sqe *sqe;
	struct umsg *m;
	unsigned bid;
	uint8_t *p;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		udp_armed = 0;
	if (cqe->res == -EINVAL && !(cqe->flags & IORING_CQE_F_BUFFER)) {
		udp_fallback();		/* no multishot recvmsg here */
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;			/* -ENOBUFS: armed at turn end */
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	p = ub.base + bid * ub.size;
	o = io_uring_recvmsg_validate(p, cqe->res, &urecv_mh);
	if (o == NULL || (o->flags & MSG_TRUNC) ||
	    o->namelen > urecv_mh.msg_namelen ||
	    !echo_source_ok(io_uring_recvmsg_name(o), o->namelen, own_port)) {
		bufs_put(&ub, bid);
		return;
	}
	m = &umsgs[bid];
	memset(&m->mh, 0, sizeof(m->mh));
	m->mh.msg_name = io_uring_recvmsg_name(o);
	m->mh.msg_namelen = o->namelen;
	m->iov.iov_base = io_uring_recvmsg_payload(o, &urecv_mh);
	m->iov.iov_len = io_uring_recvmsg_payload_length(o, cqe->res,
	    &urecv_mh);
	m->mh.msg_iov = &m->iov;
	m->mh.msg_iovlen = 1;
	sqe = sqe_get();
	io_uring_prep_sendmsg(sqe, udp_fd, &m->mh, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_USEND, bid));
}

static void
on_urecv1(unsigned i, const struct io_uring_cqe *cqe)
{
	struct uslot *s = &uslots[i];
	struct io_uring_sqe *sqe;

	if (cqe->res < 0 || (s->mh.msg_flags & MSG_TRUNC) ||
	    !echo_source_ok((struct sockaddr *)&s->from, s->mh.msg_namelen,
	    own_port)) {
		urecv1_arm(i);
		return;
	}
	s->iov.iov_len = (size_t)cqe->res;
	sqe = sqe_get();
	io_uring_prep_sendmsg(sqe, udp_fd, &s->mh, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_USEND1, i));
}

/* --- the loop --------------------------------------------------------- */

static void
on_cqe(const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);

	switch (UD_OP(ud)) {
	case OP_ACCEPT:
		on_accept(cqe);
		break;
	case OP_RECV:
		on_recv((int)UD_V(ud), cqe);
		break;
	case OP_SEND:
		on_send((int)UD_V(ud), cqe);
		break;
	case OP_URECV:
		on_urecv(cqe);
		break;
	case OP_USEND:			/* sent or dropped: UDP drops */
		bufs_put(&ub, UD_V(ud));
		break;
	case OP_URECV1:
		on_urecv1(UD_V(ud), cqe);
		break;
	case OP_USEND1:
		urecv1_arm(UD_V(ud));
		break;
	case OP_IGNORE:
		break;
	}
}

static void
turn_end(void)
{
	size_t i;
	int fd;

	bufs_publish(&tb);
	bufs_publish(&bb);
	bufs_publish(&ub);
	for (i = 0; i < nrearm; i++) {
		fd = rearm[i];
		conns[fd].flags &= (uint16_t)~C_REARM;
		conn_settle(fd);
	}
	nrearm = 0;
	if (udp_multishot && !udp_armed)
		urecv_arm();
}

/* --- start ------------------------------------------------------------ */

/* Why io_uring_queue_init failed, in words an operator can act on. */
static void
ring_refused(int err)
{
	FILE *f;
	int dis = -1;

	if ((f = fopen("/proc/sys/kernel/io_uring_disabled", "r")) != NULL) {
		if (fscanf(f, "%d", &dis) != 1)
			dis = -1;
		fclose(f);
	}
	if (err == ENOSYS)
		fprintf(stderr, "echo-ref-uring: io_uring is not in this "
		    "kernel, or a seccomp filter hides it (ENOSYS)\n");
	else if (err == EPERM && dis > 0)
		fprintf(stderr, "echo-ref-uring: io_uring is disabled "
		    "(kernel.io_uring_disabled = %d)\n", dis);
	else if (err == EPERM)
		fprintf(stderr, "echo-ref-uring: io_uring_setup refused "
		    "(EPERM): a seccomp filter or an LSM\n");
	else
		fprintf(stderr, "echo-ref-uring: io_uring_setup: %s\n",
		    strerror(err));
	exit(69);
}

/*
 * Set the ring up with the cheapest completion mode the kernel knows:
 * task work deferred to our own io_uring_enter (6.1), else cooperative
 * (5.19), else the default.  Returns a name for the start-up line.
 */
static const char *
ring_init(void)
{
	static const struct {
		unsigned	 flags;
		const char	*name;
	} modes[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		    "single issuer, deferred task work" },
		{ IORING_SETUP_COOP_TASKRUN, "cooperative task work" },
		{ 0, "default task work" },
	};
	struct io_uring_params p;
	size_t i;
	int rc = -EINVAL;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = modes[i].flags | IORING_SETUP_CQSIZE |
		    IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = CQ_ENTRIES;
		if ((rc = io_uring_queue_init_params(SQ_ENTRIES, &ring,
		    &p)) == 0)
			break;
		if (rc != -EINVAL)
			ring_refused(-rc);
	}
	if (rc != 0)
		ring_refused(-rc);
	if (!(p.features & IORING_FEAT_NODROP) ||
	    !(p.features & IORING_FEAT_FAST_POLL)) {
		fprintf(stderr, "echo-ref-uring: this kernel's io_uring lacks "
		    "IORING_FEAT_NODROP or IORING_FEAT_FAST_POLL (5.7)\n");
		exit(69);
	}
	return modes[i].name;
}

static void
ring_check(void)
{
	static const struct {
		int		 op;
		const char	*name;
	} need[] = {
		{ IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" },
		{ IORING_OP_SEND, "send" }, { IORING_OP_RECVMSG, "recvmsg" },
		{ IORING_OP_SENDMSG, "sendmsg" },
		{ IORING_OP_ASYNC_CANCEL, "async cancel" },
	};
	struct io_uring_probe *probe;
	struct utsname u;
	unsigned maj = 0, min = 0;
	size_t i;

	if ((probe = io_uring_get_probe_ring(&ring)) == NULL) {
		fprintf(stderr, "echo-ref-uring: io_uring has no probe "
		    "(kernel before 5.6)\n");
		exit(69);
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i].op)) {
			fprintf(stderr, "echo-ref-uring: io_uring here has no "
			    "%s\n", need[i].name);
			exit(69);
		}
	io_uring_free_probe(probe);
	/* Multishot accept is 5.19, multishot recv 6.0; no probe says so. */
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &maj, &min) == 2 &&
	    (maj < 6)) {
		fprintf(stderr, "echo-ref-uring: kernel %s: the multishot "
		    "receive needs 6.0\n", u.release);
		exit(69);
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: echo-ref-uring -p PORT [-b ADDR] [--buf=BYTES] [--bufs=N]\n"
	    "                      [--small-buf=BYTES] [--small-bufs=N]\n"
	    "                      [--rcvbuf=BYTES] [--sndbuf=BYTES]\n"
	    "                      [--udp-bufs=N] [--queue=N] [-u] [-q]\n"
	    "defaults: --buf=512k --bufs=16 --small-buf=64k --small-bufs=1024\n"
	    "          --rcvbuf=4m --sndbuf=4m --udp-bufs=256 --queue=2\n"
	    "--bufs=0: no large buffers; --rcvbuf=0, --sndbuf=0: autotuned;\n"
	    "counts are powers of two; -u: UDP by plain recvmsg; -q: quiet\n");
	exit(64);
}

/* A size in bytes, with k or m for KiB or MiB; usage() if not. */
static long
size_arg(const char *s, long lo, long hi)
{
	long v = echo_size_arg(s, lo, hi);

	if (v == -1)
		usage();
	return v;
}

/* A buffer count: a power of two (a buffer ring's size), or 0 if zero_ok. */
static unsigned
count_arg(const char *s, int zero_ok)
{
	unsigned n = (unsigned)size_arg(s, zero_ok ? 0 : 1, 32768);

	if ((n & (n - 1)) != 0)
		usage();
	return n;
}

static void
options(int argc, char *argv[], const char **addr, const char **port,
    int *force_plain)
{
	static const struct option lopts[] = {
		{ "buf", required_argument, NULL, 'B' },
		{ "bufs", required_argument, NULL, 'N' },
		{ "small-buf", required_argument, NULL, 's' },
		{ "small-bufs", required_argument, NULL, 'n' },
		{ "rcvbuf", required_argument, NULL, 'R' },
		{ "sndbuf", required_argument, NULL, 'S' },
		{ "udp-bufs", required_argument, NULL, 'U' },
		{ "queue", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "p:b:s:n:uq", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p': *port = optarg; break;
		case 'b': *addr = optarg; break;
		case 'B': opt.big_size = (size_t)size_arg(optarg, 64, 1L << 24);
			break;
		case 'N': opt.big_n = count_arg(optarg, 1); break;
		case 's': opt.small_size = (size_t)size_arg(optarg, 64,
			    1L << 24);
			break;
		case 'n': opt.small_n = count_arg(optarg, 0); break;
		case 'R': opt.rcvbuf = (int)size_arg(optarg, 0, 1L << 30);
			break;
		case 'S': opt.sndbuf = (int)size_arg(optarg, 0, 1L << 30);
			break;
		case 'U': opt.udp_n = count_arg(optarg, 0); break;
		case 'Q': opt.pause_at = (unsigned)size_arg(optarg, 1, 64);
			break;
		case 'u': *force_plain = 1; break;
		case 'q': quiet = 1; break;
		default: usage();
		}
	}
	if (*port == NULL || optind != argc)
		usage();
}

int
main(int argc, char *argv[])
{
	struct io_uring_cqe *cqe;
	struct rlimit rl;
	const char *addr = "127.0.0.1", *port = NULL, *mode;
	unsigned head, seen;
	int rc, force_plain = 0;

	options(argc, argv, &addr, &port, &force_plain);
	own_port = (uint16_t)size_arg(port, 1, 65535);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	nconns = rl.rlim_cur > (1u << 22) ? (1u << 22) : (size_t)rl.rlim_cur;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL ||
	    (rearm = calloc(nconns, sizeof(*rearm))) == NULL ||
	    (bnext = calloc(opt.small_n + opt.big_n, sizeof(*bnext))) == NULL ||
	    (blen = calloc(opt.small_n + opt.big_n, sizeof(*blen))) == NULL ||
	    (umsgs = calloc(opt.udp_n, sizeof(*umsgs))) == NULL)
		die("calloc", errno);
	(void)signal(SIGPIPE, SIG_IGN);

	mode = ring_init();
	ring_check();
	bufs_setup(&tb, opt.small_n, opt.small_size, TCP_BGID, 1);
	if (opt.big_n > 0)
		bufs_setup(&bb, opt.big_n, opt.big_size, BIG_BGID, 1);
	bufs_setup(&ub, opt.udp_n, UDP_BUFSZ, UDP_BGID, 0);
	urecv_mh.msg_namelen = sizeof(struct sockaddr_storage);

	tcp_lfd = echo_open_socket("echo-ref-uring", addr, port,
	    SOCK_STREAM, 0, opt.rcvbuf, opt.sndbuf);
	udp_fd = echo_open_socket("echo-ref-uring", addr, port,
	    SOCK_DGRAM, 0, opt.rcvbuf, opt.sndbuf);
	accept_arm();
	if (force_plain)
		udp_fallback();
	else
		urecv_arm();
	if (!quiet)
		fprintf(stderr, "echo-ref-uring: port %s, %s, TCP buffers "
		    "%u x %zu B, streams %u x %zu B, SO_RCVBUF %d, "
		    "SO_SNDBUF %d, UDP %s, %u buffers\n", port, mode,
		    opt.small_n, opt.small_size, opt.big_n, opt.big_size,
		    opt.rcvbuf, opt.sndbuf,
		    udp_multishot ? "multishot recvmsg" : "plain recvmsg",
		    opt.udp_n);

	for (;;) {
		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EBUSY)
			die("io_uring_submit_and_wait", -rc);
		seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(cqe);
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
		turn_end();
	}
	return 0;
}
