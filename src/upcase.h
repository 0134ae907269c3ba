/*
 * upcase.h - the transform: ASCII a-z to A-Z, every other byte unchanged.
 *
 * Pure functions on byte buffers; no allocation, no state.  The output
 * has exactly the length of the input, which is what lets UDP replies
 * never be larger than their requests.
 */
#ifndef UPCASED_UPCASE_H
#define UPCASED_UPCASE_H

#include <stddef.h>
#include <stdint.h>

/* Uppercase n bytes from src into dst; dst == src is allowed. */
void	upcase_ascii(uint8_t *dst, const uint8_t *src, size_t n);

/* The same, one byte at a time: the reference the tests compare with. */
void	upcase_ascii_scalar(uint8_t *dst, const uint8_t *src, size_t n);

#endif
