/*
 * proxyproto.h - parse a PROXY protocol v1 or v2 header at the start of a
 * TCP stream (the real client's address, sent by a load balancer).
 *
 * Pure: no I/O, no allocation, no state.  The caller (the TCP engine, in
 * its worker thread) calls proxyproto_parse() on every byte received so
 * far each time more arrive, so a header cut anywhere, even a byte at a
 * time, is found, and a wrong one is refused as soon as a byte shows it.
 * Specification: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
 */
#ifndef UPCASED_PROXYPROTO_H
#define UPCASED_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXYPROTO_V1_MAX 107		/* whole v1 line incl. CRLF */

/*
 * The most header bytes we accept: a v2 header is 16 bytes and a length
 * of up to 65535.  Without TLVs it is at most 16 + 216 (two AF_UNIX
 * paths), and the specification designs both versions to fit in 536
 * bytes.  TLVs make it longer: HAProxy 2.6 can add ALPN, authority (SNI)
 * and network namespace (up to 255 bytes each), a unique ID (up to 128),
 * a CRC32C and an SSL block with the client certificate's CN and the
 * cipher, about 1.3 KiB at worst; cloud balancers add their own TLVs of
 * tens of bytes.  nginx, as a receiver, reads at most 4096 header bytes
 * (NGX_PROXY_PROTOCOL_MAX_HEADER), so whatever a balancer sends to nginx
 * fits here too.  It is also the most a partial header can make the
 * caller hold for one connection.
 */
#define PROXYPROTO_MAX 4096

enum proxyproto_result { PROXYPROTO_MORE, PROXYPROTO_DONE, PROXYPROTO_BAD };

struct proxyproto_header {
	size_t			 len;		/* header bytes to consume (DONE) */
	int			 version;	/* 1 or 2 */
	bool			 local;		/* v2 LOCAL or v1 UNKNOWN: keep
						   the connection's own address */
	struct sockaddr_storage	 src;		/* the client (when !local) */
	struct sockaddr_storage	 dst;
	socklen_t		 srclen, dstlen;
};

/*
 * Parse the first n bytes of a stream.  MORE: every byte so far is a
 * valid beginning of a header, need more (as soon as a byte cannot start
 * a valid header the answer is BAD, without waiting).  DONE: *h filled
 * (src and dst are AF_INET or AF_INET6 with the ports, or all zero with
 * lengths 0 when local); the bytes after h->len are not part of it.  BAD:
 * *why is a short static reason for a log line ("v1 line longer than 107
 * bytes", "v2 family not TCP over IPv4/IPv6", "not a PROXY header", ...).
 * *h is written only on DONE, *why only on BAD; why may be NULL.
 *
 * v1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" exactly (single spaces,
 * addresses of the stated family, ports 0-65535 without leading zeros or
 * sign), or "PROXY UNKNOWN" and anything up to CRLF (local).  v2: version
 * 2; LOCAL (any family, the block skipped unread) or PROXY with TCP over
 * IPv4 or IPv6; TLVs after the addresses must tile the rest exactly, and a
 * CRC32C TLV must match.  IPv4-mapped IPv6 addresses are left as sent.
 */
enum proxyproto_result proxyproto_parse(const uint8_t *buf, size_t n,
	    struct proxyproto_header *h, const char **why);

#endif
