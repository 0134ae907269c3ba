/*
 * addr.h - socket addresses: parse, format, classify.
 *
 * Pure helpers shared by the config parser, the listeners and the UDP
 * loop guard; unit-tested without sockets.
 */
#ifndef UPCASED_ADDR_H
#define UPCASED_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STRLEN	80	/* "[ffff:...%ifname]:65535" and NUL */

/*
 * Parse a numeric IPv4 or IPv6 address ("::", "127.0.0.1", "fe80::1%lo")
 * into *ss with port 0.  Returns 0, or -1 if text is not such an address.
 */
int	addr_parse(const char *text, struct sockaddr_storage *ss,
	    socklen_t *len);

/* Port of an AF_INET/AF_INET6 address (host order); 0 otherwise. */
uint16_t addr_port(const struct sockaddr *sa);
void	addr_set_port(struct sockaddr *sa, uint16_t port);

/* Is this the IPv4 or IPv6 wildcard address? */
bool	addr_is_any(const struct sockaddr *sa);

/* The IPv4 address in sa, also when it is IPv4-mapped IPv6. */
bool	addr_v4(const struct sockaddr *sa, struct in_addr *out);

/* "1.2.3.4:80", "[::1]:80"; IPv4-mapped IPv6 is shown as IPv4. */
void	addr_format(const struct sockaddr *sa, char *buf, size_t len);

/*
 * May a UDP datagram from this source be answered?  No if the port is 0,
 * below 1024 or one of our own UDP ports (own[0..nown)), or the address is
 * unspecified, multicast or broadcast (IPv4-mapped IPv6 checked as IPv4).
 */
bool	addr_udp_source_ok(const struct sockaddr *sa,
	    const uint16_t *own, size_t nown);

/*
 * The "source" of a peer for per-source limits: its IPv4 address (also
 * when IPv4-mapped), or the /64 of its IPv6 address, the block one host
 * or one customer usually has.  False for other families.
 */
struct addr_source {
	uint64_t	 key;
	uint8_t		 family;	/* AF_INET or AF_INET6 */
};

bool	addr_source_of(const struct sockaddr *sa, struct addr_source *src);

#endif
