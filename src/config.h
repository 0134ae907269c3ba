/*
 * config.h - the upcased configuration: one flat, immutable snapshot.
 *
 * A struct config holds no pointers, so a snapshot can be copied by value,
 * handed to a worker in a message, or written through a pipe by the child
 * process that parses a file on reload (see confchild.c).  The parser is
 * pure: it touches no socket and keeps no global state.
 */
#ifndef UPCASED_CONFIG_H
#define UPCASED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "prefix.h"

#define CONFIG_MAX_PORTS	64	/* per protocol */
#define CONFIG_MAX_BINDS	16	/* per protocol */
#define CONFIG_MAX_EXIT		63	/* bytes of exit_command */
#define CONFIG_ADDRSTRLEN	64	/* "ffff:...%ifname" and NUL */
#define CONFIG_MAX_PROXY_FROM	64	/* proxy_protocol.from */
#define CONFIG_MAX_UDP_BALANCERS 64	/* udp.balancers */
#define CONFIG_MAX_ACCESS	50000	/* access.allow and .deny together */
#define CONFIG_ERRLEN		8192	/* every error of a file, see below */
#define CONFIG_MAX_ERRORS	20	/* listed; more are only counted */

/* Defaults: documented in etc/upcased.conf and upcased.conf(5). */
#define CONFIG_DEF_PORT			8008
#define CONFIG_DEF_BIND			"::"
#define CONFIG_DEF_METRICS_BIND		"127.0.0.1"	/* loopback only */
#define CONFIG_DEF_EXIT			"exit"
#define CONFIG_DEF_MAX_CONNECTIONS	10000
#define CONFIG_DEF_IDLE_TIMEOUT		300
#define CONFIG_DEF_MAX_PENDING		1048576
#define CONFIG_DEF_DRAIN_TIMEOUT	5
#define CONFIG_DEF_LAME_DUCK		0	/* seconds; 0 = off */
#define CONFIG_DEF_PER_SOURCE		256
#define CONFIG_DEF_CROWDED_IDLE		10
#define CONFIG_DEF_UDP_RATE		1000	/* datagrams/s per source */
#define CONFIG_DEF_UDP_BURST		2000
#define CONFIG_DEF_PROXY_TIMEOUT	5	/* seconds for a PROXY header */
#define CONFIG_DEF_CONN_RATE		0	/* off: see upcased.conf(5) */
#define CONFIG_DEF_CONN_BURST		100
#define CONFIG_DEF_SOCKBUF		0	/* the kernel's autotuning */

/* Ranges (inclusive). */
#define CONFIG_MAX_WORKERS		256
#define CONFIG_MIN_CONNECTIONS		1
#define CONFIG_MAX_CONNECTIONS		1000000
#define CONFIG_MAX_IDLE_TIMEOUT		86400	/* 0 = never */
#define CONFIG_MIN_PENDING		4096
#define CONFIG_MAX_PENDING		1073741824
#define CONFIG_MAX_DRAIN_TIMEOUT	3600
#define CONFIG_MAX_LAME_DUCK		3600
#define CONFIG_MAX_UDP_RATE		10000000	/* 0 = no limit */
#define CONFIG_MAX_PER_SOURCE		1000000		/* 0 = no limit */
#define CONFIG_MAX_CROWDED_IDLE		86400		/* at least 1 */
#define CONFIG_MAX_UDP_BURST		10000000	/* at least 1 */
#define CONFIG_MAX_PROXY_TIMEOUT	3600		/* at least 1 */
#define CONFIG_MAX_CONN_RATE		1000000		/* 0 = no limit */
#define CONFIG_MAX_CONN_BURST		1000000		/* at least 1 */
#define CONFIG_MAX_SOCKBUF		268435456	/* 0 = autotuned */

struct config_bind {
	char			 text[CONFIG_ADDRSTRLEN];	/* as written */
	struct sockaddr_storage	 addr;		/* parsed, port 0 */
	socklen_t		 addrlen;
};

struct config_proto {
	uint16_t		 ports[CONFIG_MAX_PORTS];
	unsigned		 nports;
	struct config_bind	 binds[CONFIG_MAX_BINDS];
	unsigned		 nbinds;
};

enum config_transform {
	CONFIG_TRANSFORM_UNICODE,	/* simple uppercase of UTF-8 (default) */
	CONFIG_TRANSFORM_ASCII		/* a-z only */
};

struct config {
	char			 path[1024];	/* file it was read from */
	unsigned		 workers;	/* as configured; 0 = nCPU */
	enum config_transform	 transform;
	struct config_proto	 tcp;
	/* tcp.send_buffer, tcp.receive_buffer: SO_SNDBUF and SO_RCVBUF of
	 * the TCP listeners, so of every connection; 0 = autotuned. */
	unsigned		 tcp_send_buffer;	/* bytes */
	unsigned		 tcp_receive_buffer;	/* bytes */
	struct config_proto	 udp;
	/* metrics: the HTTP endpoint's TCP ports (none by default). */
	struct config_proto	 metrics;
	char			 exit_command[CONFIG_MAX_EXIT + 1]; /* "" = off */
	unsigned		 max_connections;
	unsigned		 idle_timeout;		/* seconds, 0 = never */
	size_t			 max_pending_output;	/* bytes */
	unsigned		 drain_timeout;		/* seconds */
	unsigned		 lame_duck;	/* seconds before the drain */
	unsigned		 max_per_source;	/* 0 = no limit */
	unsigned		 crowded_idle_timeout;	/* seconds */
	unsigned		 udp_rate_limit;	/* per source, 0 = off */
	unsigned		 udp_rate_burst;
	/* udp.balancers: their datagrams are rate-limited per (address,
	 * source port), one client session each; none by default. */
	struct prefix		 udp_balancers[CONFIG_MAX_UDP_BALANCERS];
	unsigned		 udp_nbalancers;
	/* New TCP connections per second per source (IPv4 address or
	 * IPv6 /64), 0 = off; and the bucket size. */
	unsigned		 connection_rate;
	unsigned		 connection_burst;
	int			 log_level;	/* LOG_ERR .. LOG_DEBUG */
	/* proxy_protocol: trusted balancers (none: PROXY protocol off). */
	struct prefix		 proxy_from[CONFIG_MAX_PROXY_FROM];
	unsigned		 proxy_nfrom;
	unsigned		 proxy_timeout;	/* seconds for a whole header */
	/*
	 * access: access[0 .. access_nallow) is access.allow, the next
	 * access_ndeny are access.deny, each in file order, canonical
	 * (prefix_parse()) and without duplicates; one prefix may be in
	 * both (deny wins).  Last, being by far the largest member.
	 */
	unsigned		 access_nallow;
	unsigned		 access_ndeny;
	struct prefix		 access[CONFIG_MAX_ACCESS];
};

/* access.allow and access.deny of cf (access_nallow, access_ndeny long). */
static inline const struct prefix *
config_access_allow(const struct config *cf)
{
	return cf->access;
}

static inline const struct prefix *
config_access_deny(const struct config *cf)
{
	return cf->access + cf->access_nallow;
}

/* Fill *cf with the built-in defaults (what an empty file gives). */
void	config_defaults(struct config *cf);

/*
 * Parse and validate the libconfig file at path into *cf.  Returns 0, or
 * -1 with every error in err, one a line (no newline after the last), in
 * file order: "FILE:LINE: setting: what is wrong" (or "FILE: ..." when
 * no line applies).  A syntax error or a file that cannot be read is the
 * only error then.  Past CONFIG_MAX_ERRORS lines, or what fits in
 * CONFIG_ERRLEN, a last line says "... and N more errors".  A shorter
 * err gets the start of the same text.  On error *cf is left with
 * defaults.  Runs libconfig in this process: see confchild.h for the
 * isolated form.
 */
int	config_parse_file(const char *path, struct config *cf,
	    char *err, size_t errlen);

/* Same, from a string; name is used in messages in place of the path. */
int	config_parse_string(const char *text, const char *name,
	    struct config *cf, char *err, size_t errlen);

/* How many errors the message of a failed parse reports. */
unsigned config_error_count(const char *err);

/* Effective worker count: cf->workers, or the online CPU count for 0. */
unsigned config_effective_workers(const struct config *cf);

/* Print the effective settings in libconfig syntax (for --check-config). */
void	config_dump(const struct config *cf, FILE *fp);

/* "unicode" or "ascii". */
const char *config_transform_name(enum config_transform t);

/* Name of a level for log.level ("debug" ...); NULL if unknown. */
const char *config_level_name(int level);

/* Is port one of the UDP ports of cf? (for the echo loop guard) */
bool	config_udp_port_is_ours(const struct config *cf, uint16_t port);

/*
 * The bytes of cf that hold something: everything but the unused tail of
 * access[].  A struct config is about 900 KB because of that array, but a
 * copy (to a worker's mailbox, through the parsing child's pipe) needs
 * only these bytes, and the pages of the tail are never touched.
 */
size_t	config_used_size(const struct config *cf);
void	config_copy(struct config *dst, const struct config *src);

#endif /* UPCASED_CONFIG_H */
