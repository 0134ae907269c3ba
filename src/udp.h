/*
 * udp.h - UDP datagrams of one worker: receive a batch, drop what must
 * not be answered (echo loops, spoofed or broadcast sources), uppercase in
 * place and send each reply to its exact source, from the address the
 * request was sent to.
 *
 * Runs on the owning worker's thread; the batch buffers are the worker's.
 */
#ifndef UPCASED_UDP_H
#define UPCASED_UDP_H

#include <stddef.h>
#include <stdint.h>

struct admit_rules;
struct listener;
struct stats;
struct udp_engine;

#define UDP_MAX_PAYLOAD	65507	/* the largest IPv4 UDP datagram */

struct udp_engine *udp_engine_new(struct stats *st);
void	udp_engine_free(struct udp_engine *u);

struct config;

/* Take the settings of cf (the transform). */
void	udp_engine_configure(struct udp_engine *u, const struct config *cf);

/* The rules of the latest state (see tcp_engine_rules()). */
void	udp_engine_rules(struct udp_engine *u, const struct admit_rules *r);

/* The worker's clock (CLOCK_MONOTONIC ms), for the rate limit. */
void	udp_engine_clock(struct udp_engine *u, uint64_t now_ms);

/* Our own UDP ports: datagrams from them are dropped. */
void	udp_engine_ports(struct udp_engine *u, const uint16_t *ports,
	    size_t n);

/* Serve one batch from the UDP socket of l. */
void	udp_serve(struct udp_engine *u, const struct listener *l);

#endif
