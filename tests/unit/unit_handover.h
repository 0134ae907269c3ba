/*
 * unit_handover.h - for the Check tests of the hand-over (check_handover,
 * check_tcp_handover): two connection states are the same, field by
 * field, the bytes behind the out and hdr pointers included.
 */
#ifndef UPCASED_UNIT_HANDOVER_H
#define UPCASED_UNIT_HANDOVER_H

#include <check.h>

#include "handover.h"

static inline void
unit_conn_eq(const struct handover_conn *a, const struct handover_conn *b)
{
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_int_eq(a->xs, b->xs);
	ck_assert_uint_eq(a->carry_len, b->carry_len);
	ck_assert_mem_eq(a->carry, b->carry, a->carry_len);
	ck_assert_uint_eq(a->idle_s, b->idle_s);
	ck_assert_uint_eq(a->age_ms, b->age_ms);
	ck_assert_uint_eq(a->bytes_in, b->bytes_in);
	ck_assert_uint_eq(a->bytes_out, b->bytes_out);
	ck_assert_mem_eq(&a->peer, &b->peer, sizeof(a->peer));
	ck_assert_mem_eq(&a->balancer, &b->balancer, sizeof(a->balancer));
	ck_assert_uint_eq(a->out_len, b->out_len);
	if (a->out_len > 0)
		ck_assert_mem_eq(a->out, b->out, a->out_len);
	ck_assert_uint_eq(a->hdr_len, b->hdr_len);
	if (a->hdr_len > 0)
		ck_assert_mem_eq(a->hdr, b->hdr, a->hdr_len);
}

#endif
