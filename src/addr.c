/*
 * addr.c - socket addresses: parse, format, classify.
 *
 * Pure helpers with no state.  IPv4-mapped IPv6 addresses (::ffff:a.b.c.d,
 * what a dual-stack socket reports for an IPv4 peer) are always judged and
 * shown as the IPv4 address they carry.
 */

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/*
 * IPv4 goes through inet_pton(), which takes only the dotted quad
 * ("1.2.3" is an error, not 1.2.0.3 as inet_aton() would have it); IPv6
 * through getaddrinfo(), which also understands a "%ifname" scope.
 */
int
addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
	struct addrinfo hints, *res;

	if (text == NULL || *text == '\0')
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*len = sizeof(*s4);
		return 0;
	}
	if (strchr(text, ':') == NULL)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(text, "0", &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

bool
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

bool
addr_v4(const struct sockaddr *sa, struct in_addr *out)
{
	const struct sockaddr_in6 *s6;

	if (sa->sa_family == AF_INET) {
		*out = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	memcpy(&out->s_addr, &s6->sin6_addr.s6_addr[12], 4);
	return true;
}

void
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1 + 16];	/* "%ifname" too */
	struct in_addr a4;
	uint16_t port = addr_port(sa);

	if (addr_v4(sa, &a4)) {
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6 &&
	    getnameinfo(sa, sizeof(struct sockaddr_in6), host, sizeof(host),
	    NULL, 0, NI_NUMERICHOST) == 0) {
		snprintf(buf, len, "[%s]:%u", host, port);
	} else
		snprintf(buf, len, "(address family %d)", sa->sa_family);
}

bool
addr_source_of(const struct sockaddr *sa, struct addr_source *src)
{
	const struct sockaddr_in6 *s6;
	struct in_addr a4;

	if (addr_v4(sa, &a4)) {
		src->key = a4.s_addr;
		src->family = AF_INET;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	memcpy(&src->key, s6->sin6_addr.s6_addr, 8);	/* the /64 */
	src->family = AF_INET6;
	return true;
}

bool
addr_udp_source_ok(const struct sockaddr *sa, const uint16_t *own,
    size_t nown)
{
	const struct in6_addr *a6;
	struct in_addr a4;
	uint32_t h;
	uint16_t port;
	size_t i;

	port = addr_port(sa);
	if (port < 1024)		/* 0, and echo(7), chargen(19) ... */
		return false;
	for (i = 0; i < nown; i++)
		if (own[i] == port)
			return false;
	if (addr_v4(sa, &a4)) {
		h = ntohl(a4.s_addr);
		if (h == INADDR_ANY || h == INADDR_BROADCAST)
			return false;
		if (IN_MULTICAST(h))
			return false;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_MULTICAST(a6))
		return false;
	return true;
}
