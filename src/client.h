/*
 * client.h - upcase, the client of upcased: what its files share.
 *
 * client.c owns the command line, the files and the connection (resolve,
 * connect, exit status); client_tcp.c and client_udp.c each run the
 * conversation as one poll(2) loop over the socket, the input and the
 * output, and return the exit status.  One thread, no signal handler:
 * nothing here needs a lock.
 */
#ifndef UPCASE_CLIENT_H
#define UPCASE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

/*
 * Exit statuses.  sysexits(3) where one fits; 1 is the one thing a
 * sysexits code cannot say: the conversation worked but did not finish.
 */
#define CL_EX_OK	0
#define CL_EX_SHORT	1		/* the server ended it early */
#define CL_EX_USAGE	EX_USAGE	/* 64 */
#define CL_EX_DATAERR	EX_DATAERR	/* 65: a line too long for UDP */
#define CL_EX_NOINPUT	EX_NOINPUT	/* 66 */
#define CL_EX_NOHOST	EX_NOHOST	/* 68 */
#define CL_EX_UNAVAIL	EX_UNAVAILABLE	/* 69: refused, unreachable */
#define CL_EX_OSERR	EX_OSERR	/* 71: out of memory, descriptors */
#define CL_EX_CANTCREAT	EX_CANTCREAT	/* 73 */
#define CL_EX_IOERR	EX_IOERR	/* 74: reset, read or write error */
#define CL_EX_TEMPFAIL	EX_TEMPFAIL	/* 75: a timeout */

#define CL_DEFAULT_HOST	"localhost"
#define CL_DEFAULT_PORT	"8008"
#define CL_UDP_MAX	65507		/* payload of one IPv4 datagram */
#define CL_BIG_INPUT	(8u << 20)	/* progress shown from here on */

/* How a TCP stream's reply length is judged (--length). */
enum cl_length {
	CL_LENGTH_AUTO,		/* exact for ASCII input, else free */
	CL_LENGTH_EXACT,	/* the reply must be as long as the input */
	CL_LENGTH_ANY		/* never compare */
};

struct cl_opts {
	const char	*host;
	const char	*port;
	const char	*in_path;	/* NULL: standard input */
	const char	*out_path;	/* NULL: standard output */
	const char	*exit_cmd;	/* the server's; "" = none */
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	bool		 udp;
	bool		 quiet;
	bool		 wait_given;	/* -w on the command line */
	int		 wait_ms;	/* -w, or its default */
	size_t		 chunk;		/* -s: UDP datagram size; 0 = lines */
	enum cl_length	 length;
};

/* What the conversation runs on, set up by client.c. */
struct cl_io {
	int		 in;		/* input: file, pipe or terminal */
	int		 out;		/* output */
	int		 sock;		/* connected, non-blocking */
	bool		 interactive;	/* input is a terminal */
	bool		 err_tty;	/* stderr is a terminal */
	int64_t		 in_size;	/* of a regular input file, else -1 */
	char		 peer[96];	/* "HOST port PORT", for messages */
};

/* client_tcp.c and client_udp.c: run it all; return the exit status. */
int	cl_tcp_run(const struct cl_opts *, const struct cl_io *);
int	cl_udp_run(const struct cl_opts *, const struct cl_io *);

/* client.c: messages on stderr, "upcase: " first; cl_warn appends
 * strerror(errno). */
void	cl_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	cl_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
int64_t	cl_now_ms(void);
void	*cl_xmalloc(size_t);	/* exits 71 when out of memory */

#endif
