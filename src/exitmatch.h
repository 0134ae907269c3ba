/*
 * exitmatch.h - find the exit command as a whole line in a byte stream.
 *
 * A line is the bytes up to '\n', with an optional '\r' before it.  The
 * command must be recognised however the stream is cut into reads, so the
 * bytes of a line that, so far, could still be the command are held back
 * (not echoed) until the line is decided.  Held bytes are always a prefix
 * of "command\r", so a connection stores only their count (a 16-bit
 * state); the caller re-emits them from the command text when the line
 * turns out to be something else.  The command itself lives once per
 * worker.  Pure: no I/O, no allocation.
 */
#ifndef UPCASED_EXITMATCH_H
#define UPCASED_EXITMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Per-connection state: bytes held at the start of the current line, or
 * EXITMATCH_MIDLINE once the line can no longer be the command. */
typedef int16_t exitmatch_state;
#define EXITMATCH_START		0
#define EXITMATCH_MIDLINE	(-1)

struct exitcmd {
	char		 text[CONFIG_MAX_EXIT + 2];	/* command and '\r' */
	uint8_t		 len;		/* of the command; 0 = disabled */
};

struct exitmatch_step {
	size_t		 replay;	/* first emit this many bytes of
					   cmd->text (held earlier, now known
					   not to be the command) */
	size_t		 emit;		/* then this many input bytes */
	bool		 matched;	/* the command line was found: the
					   input after it is to be dropped */
};

/* cmd may be "" (matching disabled); it holds no '\r' or '\n'. */
void	exitcmd_init(struct exitcmd *c, const char *cmd);

/* Scan buf[0..n) in state *st; says what to send and updates *st. */
struct exitmatch_step exitmatch_feed(const struct exitcmd *c,
	    exitmatch_state *st, const uint8_t *buf, size_t n);

/* End of input: returns the count of held bytes (to emit from c->text)
 * and leaves *st at EXITMATCH_MIDLINE. */
size_t	exitmatch_release(exitmatch_state *st);

#endif
