/*
 * log.c - logging to the journal or to stderr.
 *
 * The back end is chosen once, before any thread starts, and never
 * changes; only the level changes at run time (on reload), which is why it
 * is an atomic.  The journal back end sends MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER, an optional MESSAGE_ID and the caller's UPCASED_*
 * fields in one sd_journal_sendv() call: a single datagram, safe from any
 * thread.  The stderr back end writes each message with one write(2), so
 * lines of different threads never interleave.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX	2048
#define LOG_FIELDS_MAX	16

static _Atomic int	log_level = LOG_INFO;
static bool		log_journal;

static const char *const log_prio_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info",
	"debug"
};

int
log_target_parse(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return LOG_TARGET_AUTO;
	if (strcmp(s, "journal") == 0)
		return LOG_TARGET_JOURNAL;
	if (strcmp(s, "stderr") == 0)
		return LOG_TARGET_STDERR;
	return -1;
}

/*
 * systemd connects stderr to the journal and says so in $JOURNAL_STREAM
 * ("device:inode" of that stream).  Only if our stderr is that very
 * stream do we talk to the journal directly: a redirected stderr means
 * someone wants the lines where they sent them.
 */
static bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(enum log_target target, int level)
{
	switch (target) {
	case LOG_TARGET_JOURNAL:
		log_journal = true;
		break;
	case LOG_TARGET_STDERR:
		log_journal = false;
		break;
	case LOG_TARGET_AUTO:
	default:
		log_journal = log_stderr_is_journal();
		break;
	}
	log_set_level(level);
}

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool
log_enabled(int prio)
{
	return prio <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool
log_due(_Atomic uint64_t *at, uint64_t now)
{
	uint64_t prev = atomic_load_explicit(at, memory_order_relaxed);

	if (prev != 0 && now < prev + LOG_REPEAT_INTERVAL)
		return false;
	return atomic_compare_exchange_strong(at, &prev, now);
}

bool
log_to_journal(void)
{
	return log_journal;
}

static void
log_send_journal(int prio, const char *msgid, const char *const *fields,
    const char *msg)
{
	struct iovec iov[LOG_FIELDS_MAX + 4];
	char pbuf[16], mbuf[LOG_LINE_MAX + 16], ibuf[48];
	int n = 0;

	snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
	snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", prio);
	iov[n].iov_base = mbuf;
	iov[n++].iov_len = strlen(mbuf);
	iov[n].iov_base = pbuf;
	iov[n++].iov_len = strlen(pbuf);
	iov[n].iov_base = (void *)(uintptr_t)"SYSLOG_IDENTIFIER=upcased";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=upcased");
	if (msgid != NULL) {
		snprintf(ibuf, sizeof(ibuf), "MESSAGE_ID=%s", msgid);
		iov[n].iov_base = ibuf;
		iov[n++].iov_len = strlen(ibuf);
	}
	for (; fields != NULL && *fields != NULL && n < (int)(sizeof(iov) /
	    sizeof(iov[0])); fields++) {
		iov[n].iov_base = (void *)(uintptr_t)*fields;
		iov[n++].iov_len = strlen(*fields);
	}
	if (sd_journal_sendv(iov, n) < 0) {
		/* The journal is gone (shutdown?): do not lose the line. */
		fprintf(stderr, "<%d>%s\n", prio, msg);
	}
}

static void
log_send_stderr(int prio, const char *msgid, const char *const *fields,
    const char *msg)
{
	char line[LOG_LINE_MAX + 512];
	size_t len;
	int r;

	r = snprintf(line, sizeof(line), "upcased: %s: %s",
	    log_prio_names[prio & 7], msg);
	len = r < 0 ? 0 : (size_t)r;
	for (; fields != NULL && *fields != NULL && len < sizeof(line);
	    fields++) {
		r = snprintf(line + len, sizeof(line) - len, " [%s]", *fields);
		len += r < 0 ? 0 : (size_t)r;
	}
	/* The journal's MESSAGE_ID, last, so a test can tell events apart. */
	if (msgid != NULL && len < sizeof(line)) {
		r = snprintf(line + len, sizeof(line) - len, " [MESSAGE_ID=%s]",
		    msgid);
		len += r < 0 ? 0 : (size_t)r;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write: lines from several threads do not interleave. */
	(void)!write(STDERR_FILENO, line, len);
}

static void
log_vevent(int prio, const char *msgid, const char *const *fields,
    const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal)
		log_send_journal(prio, msgid, fields, msg);
	else
		log_send_stderr(prio, msgid, fields, msg);
	errno = saved;
}

void
log_event(int prio, const char *msgid, const char *const *fields,
    const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(prio))
		return;
	va_start(ap, fmt);
	log_vevent(prio, msgid, fields, fmt, ap);
	va_end(ap);
}

#define LOG_PLAIN(name, prio)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	if (!log_enabled(prio))					\
		return;						\
	va_start(ap, fmt);					\
	log_vevent(prio, NULL, NULL, fmt, ap);			\
	va_end(ap);						\
}

LOG_PLAIN(log_debug, LOG_DEBUG)
LOG_PLAIN(log_info, LOG_INFO)
LOG_PLAIN(log_notice, LOG_NOTICE)
LOG_PLAIN(log_warnx, LOG_WARNING)
LOG_PLAIN(log_errx, LOG_ERR)

/* The message with ": strerror(errno)" appended. */
static void
log_verr(int prio, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_event(prio, NULL, NULL, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(LOG_WARNING))
		return;
	va_start(ap, fmt);
	log_verr(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verr(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}

void
fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(LOG_ERR, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
