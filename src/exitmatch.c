/*
 * exitmatch.c - the exit command, matched as a whole line in a stream.
 *
 * The state of a connection is one small integer: how many bytes of the
 * current line are held back because they still spell the beginning of
 * "command\r", or EXITMATCH_MIDLINE once the line cannot be the command.
 * In the common case (mid-line) the scan is a memchr() for the next
 * newline, so ordinary traffic pays almost nothing for the feature.
 */
#include <string.h>

#include "exitmatch.h"

void
exitcmd_init(struct exitcmd *c, const char *cmd)
{
	size_t len = strlen(cmd);

	if (len > CONFIG_MAX_EXIT)
		len = CONFIG_MAX_EXIT;
	memset(c, 0, sizeof(*c));
	memcpy(c->text, cmd, len);
	c->text[len] = '\r';
	c->len = (uint8_t)len;
}

/*
 * Look at one byte at the start of a line, *st bytes of which are held.
 * Returns true when the byte completes the command line.  When the line
 * turns out to be something else, *replay gets the held count and *st
 * goes to MIDLINE (or START, if the byte was the newline ending it).
 */
static bool
exitmatch_byte(const struct exitcmd *c, exitmatch_state *st, uint8_t b,
    size_t *replay)
{
	size_t held = (size_t)*st;

	if (b == '\n' && held >= c->len)	/* "cmd\n" or "cmd\r\n" */
		return true;
	if (held <= c->len && b == (uint8_t)c->text[held]) {
		*st = (exitmatch_state)(held + 1);
		return false;
	}
	*replay = held;
	*st = b == '\n' ? EXITMATCH_START : EXITMATCH_MIDLINE;
	return false;
}

struct exitmatch_step
exitmatch_feed(const struct exitcmd *c, exitmatch_state *st,
    const uint8_t *buf, size_t n)
{
	struct exitmatch_step r = { 0, n, false };
	const uint8_t *nl;
	size_t i, held, replay;

	if (c->len == 0) {
		/*
		 * Disabled, but still know where lines start: a reload may
		 * enable a command in the middle of a line, which must then
		 * not count as the start of one (found by fuzz_tcp).
		 */
		if (n > 0)
			*st = buf[n - 1] == '\n' ? EXITMATCH_START :
			    EXITMATCH_MIDLINE;
		return r;
	}
	for (i = 0; i < n; i++) {
		if (*st == EXITMATCH_MIDLINE) {
			nl = memchr(buf + i, '\n', n - i);
			if (nl == NULL)
				return r;	/* emit all of it */
			i = (size_t)(nl - buf);
			*st = EXITMATCH_START;
			continue;
		}
		held = (size_t)*st;
		replay = 0;
		if (exitmatch_byte(c, st, buf[i], &replay)) {
			/* The command line: emit only what came before. */
			r.emit = i >= held ? i - held : 0;
			r.matched = true;
			*st = EXITMATCH_START;
			return r;
		}
		/*
		 * A line that was held and is not the command: the bytes
		 * held in this buffer are still in it, in place; those held
		 * from an earlier read (only possible for the first line)
		 * are replayed from the command text.
		 */
		if (replay > i)
			r.replay = replay - i;
	}
	/* Hold back the tail of a line that may still be the command. */
	if (*st > 0) {
		held = (size_t)*st;
		r.emit = n > held ? n - held : 0;
	}
	return r;
}

size_t
exitmatch_release(exitmatch_state *st)
{
	size_t held = *st > 0 ? (size_t)*st : 0;

	*st = EXITMATCH_MIDLINE;
	return held;
}
