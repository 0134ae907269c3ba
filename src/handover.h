/*
 * handover.h - the state an upgrade hands to the new binary (SIGUSR2,
 * doc/handover.md): its byte format, encoded and decoded.
 *
 * Pure: no I/O, no allocation, callable from any thread.  The bytes come
 * from another process, so the decoder trusts nothing: every length is
 * bounded before it is used, every field is checked against what the
 * engine could have produced, and anything else is refused with a reason.
 *
 * The state is a sequence of records, each a 5-byte frame (type, then
 * the payload's length, little-endian) and its payload:
 *
 *	HEADER		magic, format version, the engine settings the
 *			connections' state depends on, the connection count
 *	COUNTERS	every counter of stats.h, in table order
 *	SOURCES		the per-source table's connection-rate state, as
 *			many records as the HEADER's count asks (struct
 *			handover_source), before any connection
 *	LISTENER	one per listening or UDP socket (its descriptor
 *			rides along)
 *	CONN		one per connection (struct handover_conn; its
 *			descriptor rides along)
 *	END		nothing: the state is complete
 *
 * Records with a descriptor travel in batches: a BATCH record (how many
 * descriptors, how many bytes of records follow), then those records
 * with the descriptors on their first byte, the i-th for the i-th
 * LISTENER or CONN of the batch (fdpass.h).
 *
 * Around the state, control records go both ways on the same socket:
 * HELLO (new: its format version, its release, its configuration's
 * verdict), READY or REFUSE (new: the state rebuilt, or why not), GO
 * (old: systemd was told, start serving).
 *
 * Compatibility rule: the frame and the first 12 bytes of the HEADER
 * payload (magic, version) never change.  Everything else belongs to
 * the version: a decoder accepts exactly HANDOVER_VERSION and refuses
 * any other, older or newer, with "state format version N, not M".
 */
#ifndef UPCASED_HANDOVER_H
#define UPCASED_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "stats.h"

#define HANDOVER_VERSION	1
#define HANDOVER_MAGIC		"UPCASED\x1a"	/* 8 bytes, no NUL */
#define HANDOVER_FRAME		5		/* type, u32 length */

/* Queued output of one connection: max_pending_output (1 GiB at most)
 * can be overshot by one read's 3/2 growth and a replayed line. */
#define HANDOVER_MAX_OUT	(2u * CONFIG_MAX_PENDING)

enum handover_type {
	HANDOVER_HEADER = 1,
	HANDOVER_COUNTERS = 2,
	HANDOVER_CONN = 3,
	HANDOVER_END = 4,
	HANDOVER_LISTENER = 5,
	HANDOVER_BATCH = 6,
	HANDOVER_HELLO = 7,
	HANDOVER_READY = 8,
	HANDOVER_REFUSE = 9,
	HANDOVER_GO = 10,
	HANDOVER_SOURCES = 11
};
#define HANDOVER_TYPE_LAST	HANDOVER_SOURCES

/* Bounds of the variable parts of the control records. */
#define HANDOVER_MAX_RELEASE	63	/* HELLO: PACKAGE_VERSION */
#define HANDOVER_MAX_TEXT	4000	/* HELLO's config error, REFUSE's why */
#define HANDOVER_MAX_BATCH	(HANDOVER_MAX_OUT + 65536u) /* bytes */

enum handover_result {
	HANDOVER_OK,		/* a whole record decoded, *used bytes */
	HANDOVER_MORE,		/* a valid start: more bytes needed */
	HANDOVER_BAD		/* malformed: *why says how */
};

struct handover_header {
	uint32_t	 version;	/* decode: always HANDOVER_VERSION */
	uint32_t	 nconns;	/* CONN records that follow */
	uint32_t	 nsources;	/* sources in the SOURCES records */
	uint8_t		 transform;	/* enum config_transform */
	uint8_t		 exit_len;	/* the exit command in force, */
	char		 exit_text[CONFIG_MAX_EXIT + 1]; /* NUL-terminated */
};

/* A connection's flags, on the wire (not tcp.c's bits). */
enum {
	HANDOVER_C_EOF		= 0x01,	/* client's FIN read */
	HANDOVER_C_EXIT		= 0x02,	/* exit line seen */
	HANDOVER_C_LINGER	= 0x04,	/* our FIN sent: "closing" list */
	HANDOVER_C_COUNTED	= 0x08,	/* counted per source */
	HANDOVER_C_FRESH	= 0x10,	/* input since the last drain tick */
	HANDOVER_C_HEADER	= 0x20,	/* in its PROXY header: "header" list */
	HANDOVER_C_PROXIED	= 0x40,	/* from a trusted balancer */
	HANDOVER_C_ALL		= 0x7f
};

/*
 * One connection.  Clocks are ages, so the new process re-bases them on
 * its own clock.  Its list follows from the flags (HEADER: header,
 * LINGER: closing, else active); records come in list order.  out and
 * hdr point into the caller's memory (encode) or into the decoded bytes
 * (decode): valid as long as those.
 */
struct handover_conn {
	uint8_t		 flags;		/* HANDOVER_C_* */
	int16_t		 xs;		/* exitmatch_state */
	uint8_t		 carry_len;	/* UTF-8 cut between reads */
	uint8_t		 carry[3];
	uint32_t	 idle_s;	/* seconds since the last activity (or
					   arrival, our FIN) */
	uint32_t	 age_ms;	/* ms since accept (wraps at 49 days,
					   as the engine's clock) */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	struct sockaddr_storage peer;	 /* AF_UNSPEC, AF_INET, AF_INET6 */
	struct sockaddr_storage balancer; /* AF_UNSPEC unless PROXIED and
					     the header named a client */
	const uint8_t	*out;		/* queued output */
	uint32_t	 out_len;
	const uint8_t	*hdr;		/* PROXY header bytes held */
	uint16_t	 hdr_len;
};

/*
 * One source of the per-source table (srclimit.c) whose connection-rate
 * bucket is not full: an IPv4 address or an IPv6 /64, and how far its
 * GCRA "theoretical arrival time" is ahead of now (an age, re-based on
 * the new process's clock as a connection's are).  The open count is
 * not carried: each connection handed over counts itself again.
 *
 * The sources go in SOURCES records of HANDOVER_SOURCES_PER_RECORD
 * each, the last with the rest (so a table has one encoding), the idle
 * ones first, oldest first, then those with connections open.  At most
 * HANDOVER_MAX_SOURCES: the idle entries the table keeps (65,536) and
 * one per connection.  ahead_us is at most a whole bucket at the
 * slowest rate: connection_burst times one second.
 */
#define HANDOVER_SOURCES_PER_RECORD	1024
#define HANDOVER_MAX_SOURCES		(65536u + CONFIG_MAX_CONNECTIONS)
#define HANDOVER_MAX_AHEAD_US	((uint64_t)CONFIG_MAX_CONN_BURST * 1000000u)

struct handover_source {
	uint8_t		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 prefix[8];	/* the address (then 4 zeros), or
					   the /64 */
	uint64_t	 ahead_us;	/* 1 .. HANDOVER_MAX_AHEAD_US */
};

/* A listening socket: what the new process checks its descriptor
 * against (getsockname(), SO_TYPE, SO_ACCEPTCONN). */
enum {
	HANDOVER_L_TCP = 1,		/* echo, stream, listening */
	HANDOVER_L_UDP = 2,		/* echo, datagram */
	HANDOVER_L_METRICS = 3		/* the /metrics endpoint */
};
#define HANDOVER_L_ACTIVATED	0x01	/* passed by systemd */

struct handover_listener {
	uint8_t		 kind;		/* HANDOVER_L_* */
	uint8_t		 flags;		/* HANDOVER_L_ACTIVATED */
	struct sockaddr_storage addr;	/* AF_INET or AF_INET6 */
};

struct handover_batch {
	uint32_t	 nfds;		/* 0 .. FDPASS_MAX */
	uint32_t	 len;		/* bytes of records, 1 .. MAX_BATCH */
};

/* HELLO: a text of length 0 means the configuration is valid. */
struct handover_hello {
	uint32_t	 version;	/* the format it reads */
	char		 release[HANDOVER_MAX_RELEASE + 1];
	char		 config_error[HANDOVER_MAX_TEXT + 1];
};

/* REFUSE: what failed, and why in words. */
enum {
	HANDOVER_R_EXEC = 1,		/* execv() failed; code is errno */
	HANDOVER_R_STATE = 2,		/* the state was refused */
	HANDOVER_R_SYSTEM = 3		/* memory, descriptors, sockets */
};
struct handover_refuse {
	uint8_t		 what;		/* HANDOVER_R_* */
	uint32_t	 code;
	char		 why[HANDOVER_MAX_TEXT + 1];
};

#define HANDOVER_GO_RELOAD	0x01	/* a SIGHUP came meanwhile */

/*
 * Encoders: write the whole record into buf if it fits in cap; return
 * its size either way (so a call with cap 0 measures).  0: the input is
 * not one the format can carry (a field out of its bounds).
 */
size_t	handover_encode_header(uint8_t *buf, size_t cap,
	    const struct handover_header *h);
size_t	handover_encode_counters(uint8_t *buf, size_t cap,
	    const struct stats_snapshot *s);
/* n: 1 .. HANDOVER_SOURCES_PER_RECORD. */
size_t	handover_encode_sources(uint8_t *buf, size_t cap,
	    const struct handover_source *v, size_t n);
size_t	handover_encode_conn(uint8_t *buf, size_t cap,
	    const struct handover_conn *c);
size_t	handover_encode_end(uint8_t *buf, size_t cap);
size_t	handover_encode_listener(uint8_t *buf, size_t cap,
	    const struct handover_listener *l);
size_t	handover_encode_batch(uint8_t *buf, size_t cap,
	    const struct handover_batch *b);
size_t	handover_encode_hello(uint8_t *buf, size_t cap,
	    const struct handover_hello *h);
size_t	handover_encode_ready(uint8_t *buf, size_t cap);
size_t	handover_encode_refuse(uint8_t *buf, size_t cap,
	    const struct handover_refuse *r);
size_t	handover_encode_go(uint8_t *buf, size_t cap, uint8_t flags);

/*
 * The next record of buf[0..len): its type (without decoding it), or
 * MORE/BAD.  *type is set on OK, *why on BAD.
 */
enum handover_result handover_peek(const uint8_t *buf, size_t len,
	    enum handover_type *type, const char **why);

/*
 * Decoders of one record at buf, of the type named: OK (*used bytes
 * taken), MORE or BAD (*why: a constant string).  A connection is
 * judged against the header that came before it (its exit command).
 * conns_open is not carried (admission recounts), nor the pending_out
 * gauge (imported connections add their queues again): encoded as 0,
 * refused otherwise, decoded as 0.  On a refused version,
 * handover_decode_header() leaves the version found in h->version, for
 * the log.
 */
enum handover_result handover_decode_header(const uint8_t *buf, size_t len,
	    struct handover_header *h, size_t *used, const char **why);
enum handover_result handover_decode_counters(const uint8_t *buf,
	    size_t len, struct stats_snapshot *s, size_t *used,
	    const char **why);
/*
 * One SOURCES record into v (room for HANDOVER_SOURCES_PER_RECORD), *n
 * sources; left: how many the header announced that have not come yet,
 * so the record must hold min(left, HANDOVER_SOURCES_PER_RECORD).
 */
enum handover_result handover_decode_sources(const uint8_t *buf,
	    size_t len, uint32_t left, struct handover_source *v, size_t *n,
	    size_t *used, const char **why);
enum handover_result handover_decode_conn(const uint8_t *buf, size_t len,
	    const struct handover_header *h, struct handover_conn *c,
	    size_t *used, const char **why);
enum handover_result handover_decode_end(const uint8_t *buf, size_t len,
	    size_t *used, const char **why);
enum handover_result handover_decode_listener(const uint8_t *buf,
	    size_t len, struct handover_listener *l, size_t *used,
	    const char **why);
enum handover_result handover_decode_batch(const uint8_t *buf, size_t len,
	    struct handover_batch *b, size_t *used, const char **why);
enum handover_result handover_decode_hello(const uint8_t *buf, size_t len,
	    struct handover_hello *h, size_t *used, const char **why);
enum handover_result handover_decode_ready(const uint8_t *buf, size_t len,
	    size_t *used, const char **why);
enum handover_result handover_decode_refuse(const uint8_t *buf, size_t len,
	    struct handover_refuse *r, size_t *used, const char **why);
enum handover_result handover_decode_go(const uint8_t *buf, size_t len,
	    uint8_t *flags, size_t *used, const char **why);

#endif
