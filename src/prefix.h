/*
 * prefix.h - IPv4 and IPv6 network prefixes: parse, format, compare.
 *
 * Pure helpers (no I/O, no state) for the settings that take addresses
 * and CIDR prefixes: access.allow, access.deny, proxy_protocol.from.
 * An IPv4-mapped IPv6 address or prefix (::ffff:a.b.c.d) is always
 * turned into the IPv4 one it carries, so a dual-stack socket's IPv4
 * peer and an IPv4 rule meet.  Any thread may call them.
 */
#ifndef UPCASED_PREFIX_H
#define UPCASED_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct prefix {
	uint8_t		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 len;		/* prefix length in bits: 0..32 or 0..128 */
	uint8_t		 addr[16];	/* network order; IPv4 in addr[0..3]; host bits zero */
};

#define PREFIX_STRLEN	64

/*
 * "192.0.2.0/24", "192.0.2.1" (= /32), "2001:db8::/32", "::1" (= /128).
 * An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/n, n >= 96) becomes the IPv4
 * prefix /(n-96); a mapped prefix shorter than /96 is an error.  Host bits
 * set past the length are an error ("host bits set: did you mean
 * 10.0.0.0/8?").  No zone ids, no leading/trailing spaces, strict decimal
 * length without sign or leading zeros.  Returns 0, or -1 with a reason in
 * err (printable ASCII, never a copy of the input; err may be NULL).
 */
int	prefix_parse(const char *text, struct prefix *p, char *err,
	    size_t errlen);

/* "a.b.c.d/n" or "x::y/n": always with the length; parses back to *p. */
void	prefix_format(const struct prefix *p, char *buf, size_t len);

/*
 * A socket address as a full-length prefix (/32 or /128); IPv4-mapped
 * IPv6 judged as IPv4.  false for other families.
 */
bool	prefix_from_sockaddr(const struct sockaddr *sa, struct prefix *p);

/*
 * Is addr (of any length) inside net: the same family, at least as long,
 * and equal in net's first len bits?
 */
bool	prefix_contains(const struct prefix *net, const struct prefix *addr);

/* Clear the bits of p->addr past p->len. */
void	prefix_mask(struct prefix *p);

#endif
