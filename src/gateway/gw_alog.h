/* gw_alog: the gateway's access log, one line per proxied request (the
 * LOG step of the request path; docs/gateway.md gives the line's fields).
 *
 * One gw_alog per worker, touched by its thread only. Lines are built in a
 * buffer (GW_ALOG_BUF bytes) and written with one write(2) when the next
 * line would not fit, by a timer GW_ALOG_FLUSH_MS after the first line of a
 * batch (armed only while something waits) and at close: a busy gateway
 * pays a syscall per few hundred requests, not one per request, and no
 * line waits longer than the timer. Writes to a regular file (opened
 * O_APPEND) are whole; to a pipe, a terminal or a socket (stderr under a
 * supervisor) they go in pieces of at most PIPE_BUF bytes cut at line ends,
 * so lines of several workers never mix mid-line.
 *
 * Sampling: with sample N > 1, one request in N is logged, counted per
 * worker; failed requests and answers with status >= 400 always are. Reopening (logrotate:
 * mv, then SIGHUP): the owner bumps *gen (an atomic counter shared by every
 * worker, see gw_gateway_reopen_logs); each worker notices it at its next
 * line or flush, writes what it holds to the old file, and opens the path
 * again, so the lines logged after that go to the new file. A failed
 * reopen keeps the old file and says so once. */
#ifndef GW_ALOG_H
#define GW_ALOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define GW_ALOG_BUF (64u << 10)
#define GW_ALOG_FLUSH_MS 1000
#define GW_ALOG_LINE_MAX 2048 /* a line is cut to this; each client string to 256 */

typedef struct gw_alog {
    int on;     /* 0: --access-log off (every call is a no-op) */
    int fd;     /* 2 for "-" */
    int own_fd; /* fd is ours to close (a file, not stderr) */
    int chunk;  /* largest single write: the buffer, or PIPE_BUF */
    char *path; /* NULL for stderr (owned) */
    uint32_t sample, count;
    const unsigned *gen; /* the reopen generation (not owned; may be NULL) */
    unsigned gen_seen;
    int reopen_warned;
    char *buf; /* GW_ALOG_BUF bytes (owned) */
    size_t len;
    char tsec[32]; /* "YYYY-MM-DDTHH:MM:SS" of tsec_t */
    int64_t tsec_t;
    uv_timer_t timer;
    int timer_init, timer_on;
    uint64_t lines, writes, dropped; /* lines taken, write(2) calls, bytes lost to errors */
} gw_alog;

/* The fields of one line. Strings may be NULL ("-"); model, user and path
 * come from the client and are escaped (bx_log_escape) with the rest. */
typedef struct gw_alog_rec {
    const char *id, *path, *model, *user, *engine, *strategy;
    int status;         /* what the client was answered (0: nothing yet) */
    int ok;             /* 0: the request failed or was cut short (always logged) */
    double ttft_ms, ms; /* ttft_ms < 0: none */
    int32_t prompt_tokens, completion_tokens;
} gw_alog_rec;

/* Sets a up on loop (NULL: no timer; the owner flushes). path: a file,
 * "-" for stderr or "off"; sample >= 1 (0 is taken as 1); gen may be NULL.
 * 0, or -1 with a message on err (the file cannot be opened, no memory). */
int gw_alog_init(gw_alog *a, uv_loop_t *loop, const char *path, uint32_t sample,
                 const unsigned *gen, char *err, size_t errlen);
/* Logs r when sampling keeps it (status >= 400 or !ok: always); flushes
 * first when the line would not fit. */
void gw_alog_request(gw_alog *a, const gw_alog_rec *r);
/* Appends one preformatted line (len bytes, its '\n' included): for tests
 * and callers with lines of their own. */
void gw_alog_append(gw_alog *a, const char *line, size_t len);
/* Writes what is buffered (reopening first when *gen moved). */
void gw_alog_flush(gw_alog *a);
/* Flushes, closes the file and the timer (uv_close: the loop must run once
 * more before a's memory goes, as for any handle). */
void gw_alog_close(gw_alog *a);

#endif
