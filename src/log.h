/*
 * log.h - the one logging API of upcased.
 *
 * Two back ends, chosen once at start-up: the systemd journal (structured
 * fields, a MESSAGE_ID per lifecycle event) and plain lines on stderr.
 * Every call is safe from any thread.  A message below the current level
 * costs one relaxed atomic load and nothing else, so debug calls may sit
 * on connection paths; nothing logs per message at any level.
 */
#ifndef UPCASED_LOG_H
#define UPCASED_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,	/* journal if stderr is the journal stream */
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR
};

/*
 * MESSAGE_IDs of lifecycle events, one per event, never reused.  The
 * journal catalog (systemd/upcased.catalog) explains each of them.
 */
#define MSGID_STARTED		"00bf4bfd2f664ec49ebcea48fe9d33ec"
#define MSGID_RELOADING		"a7d3039c582e45f097ba0d1218235b10"
#define MSGID_RELOADED		"3218dd31d2df4d5892b11582e90cd713"
#define MSGID_RELOAD_REFUSED	"86deba2baef34a4cbd6c7eda577a3c40"
#define MSGID_STOPPING		"d9665947ceac4fd688cbfca32c361dee"
#define MSGID_STOPPED		"323e52fbd34c4cb9b84d5f9c8ff928cb"
#define MSGID_CONFIG_ERROR	"4bd1b7714d9f4de7ac864b3444733d78"
#define MSGID_LIMIT_REACHED	"4b37561f90934256a12b3689c414ef6a"
#define MSGID_LISTENING		"44f3aa6572b74f109a4e75fb66d39d40"
#define MSGID_FD_LIMIT		"dfe7b113712d4fdf81f7b8319e713c60"
#define MSGID_RATE_LIMITED	"90c4f883f2c4487d8a1c63528f978595"
#define MSGID_SOURCE_LIMIT	"9895b4df784d4e71a134144d975e2fa5"
#define MSGID_DENIED		"c525f04098fe4840b67fa334710b126b"
#define MSGID_CONNECTION_RATE	"e75090fc6c31409086a0ae8373820f1c"
#define MSGID_PROXY_ERROR	"c2c4cb0b3c1e4a65af867f9073d6031c"
/* The upgrade's hand-over (SIGUSR2): done, or refused and why. */
#define MSGID_HANDED_OVER	"877b925e3ffe45389065e51de492d264"
#define MSGID_HANDOVER_EXEC	"514e900f20fd4ebbb05995a483b12b0e"
#define MSGID_HANDOVER_DIED	"382117047c794dbb83aa2001a4b54709"
#define MSGID_HANDOVER_CONFIG	"b3a56a55af024471866d2ef8a7bc55b4"
#define MSGID_HANDOVER_STATE	"1cf4c95227d647db80c31bce9a2c2cfc"
#define MSGID_HANDOVER_BUSY	"d4b8074c9a3b4959932934f45e6fc5f2"
#define MSGID_HANDOVER_TIMEOUT	"0ac7da5c186441e9987719ab1f21313a"
#define MSGID_TOOK_OVER		"00a445516b2f4a6cb64b40a0f0d255b8"

/* Parse "auto" | "journal" | "stderr"; -1 if none of them. */
int	log_target_parse(const char *s);

/* Pick the back end; LOG_TARGET_AUTO looks at $JOURNAL_STREAM. */
void	log_init(enum log_target target, int level);
void	log_set_level(int level);
int	log_get_level(void);
bool	log_enabled(int prio);
bool	log_to_journal(void);

/*
 * Structured event.  fields is NULL or a NULL-terminated array of
 * "UPCASED_KEY=value" strings that go to the journal as fields; on stderr
 * they are appended to the line in brackets.  msgid may be NULL.
 */
void	log_event(int prio, const char *msgid, const char *const *fields,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Rate-limited warnings: true at most once per LOG_REPEAT_INTERVAL
 * seconds for the clock *at, over all threads (now: CLOCK_MONOTONIC
 * seconds, more than 0).  The message says it is repeated at most that
 * often.
 */
#define LOG_REPEAT_INTERVAL	10
bool	log_due(_Atomic uint64_t *at, uint64_t now);

/* Plain messages; log_warn() appends strerror(errno). */
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_ERR (with strerror for fatal) and exit with status. */
void	fatal(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatalx(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif /* UPCASED_LOG_H */
