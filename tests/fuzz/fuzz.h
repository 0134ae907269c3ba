/*
 * tests/fuzz/fuzz.h - what every libFuzzer target here shares: the entry
 * point's prototype and CHECK(), which reports a broken property with
 * the target's file and line, the condition and a printf-style account
 * of the input, then aborts so that libFuzzer saves the input.
 */

#ifndef UPCASED_FUZZ_H
#define UPCASED_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s: ",			\
			    __FILE__, __LINE__, #cond);			\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

#endif
