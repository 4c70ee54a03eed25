/* gw_alog: see gw_alog.h. A line is built in place at the buffer's end
 * (no copy), the client strings escaped as they are copied in; the time
 * of day is formatted once a second. */
#include "gateway/gw_alog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bx_log.h"

#define GW_ALOG_FIELD_MAX 256 /* an escaped client string, "..." included */

/* Largest single write to fd: whole buffers to a regular file (O_APPEND
 * writes do not mix), PIPE_BUF to anything else (atomic there). */
static int gw_alog_chunk(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) return (int)GW_ALOG_BUF;
    return PIPE_BUF;
}

static int gw_alog_open(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void gw_alog_on_timer(uv_timer_t *t)
{
    gw_alog *a = t->data;
    a->timer_on = 0;
    gw_alog_flush(a);
}

int gw_alog_init(gw_alog *a, uv_loop_t *loop, const char *path, uint32_t sample,
                 const unsigned *gen, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->fd = -1;
    if (!path || !strcmp(path, "off")) return 0;
    a->sample = sample ? sample : 1;
    a->gen = gen;
    a->gen_seen = gen ? __atomic_load_n(gen, __ATOMIC_RELAXED) : 0;
    a->tsec_t = -1;
    if (!(a->buf = malloc(GW_ALOG_BUF))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!strcmp(path, "-")) {
        a->fd = 2;
    } else {
        if (!(a->path = strdup(path)) || (a->fd = gw_alog_open(path)) < 0) {
            char ep[BX_LOG_ESC_MAX];
            snprintf(err, errlen, "cannot open --access-log %s: %s",
                     bx_log_escape(ep, sizeof(ep), path, BX_LOG_CSTR),
                     a->path ? strerror(errno) : "out of memory");
            free(a->path);
            free(a->buf);
            memset(a, 0, sizeof(*a));
            a->fd = -1;
            return -1;
        }
        a->own_fd = 1;
    }
    a->chunk = gw_alog_chunk(a->fd);
    if (loop && uv_timer_init(loop, &a->timer) == 0) {
        a->timer.data = a;
        uv_unref((uv_handle_t *)&a->timer); /* never what keeps a loop running */
        a->timer_init = 1;
    }
    a->on = 1;
    return 0;
}

/* Writes the buffer: in pieces of at most a->chunk bytes cut after a '\n'.
 * What cannot be written (an error other than EINTR) is dropped and
 * counted; the buffer is empty after. */
static void gw_alog_write(gw_alog *a)
{
    size_t off = 0;
    while (off < a->len) {
        size_t n = a->len - off;
        if (n > (size_t)a->chunk) {
            const char *nl = memrchr(a->buf + off, '\n', (size_t)a->chunk);
            n = nl ? (size_t)(nl - (a->buf + off)) + 1 : (size_t)a->chunk;
        }
        ssize_t w = write(a->fd, a->buf + off, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            a->dropped += a->len - off;
            break;
        }
        a->writes++;
        off += (size_t)w;
    }
    a->len = 0;
}

/* After a SIGHUP (*gen moved): what is held goes to the old file, then
 * the path is opened again. */
static void gw_alog_check_reopen(gw_alog *a)
{
    if (!a->gen) return;
    unsigned g = __atomic_load_n(a->gen, __ATOMIC_RELAXED);
    if (g == a->gen_seen) return;
    a->gen_seen = g;
    if (!a->own_fd) return; /* stderr: nothing to reopen */
    gw_alog_write(a);
    int fd = gw_alog_open(a->path);
    if (fd < 0) {
        if (!a->reopen_warned) {
            char ep[BX_LOG_ESC_MAX];
            bx_warn("access log: cannot reopen %s (%s); still writing to the old file",
                    bx_log_escape(ep, sizeof(ep), a->path, BX_LOG_CSTR), strerror(errno));
        }
        a->reopen_warned = 1;
        return;
    }
    close(a->fd);
    a->fd = fd;
    a->chunk = gw_alog_chunk(fd);
    a->reopen_warned = 0;
}

void gw_alog_flush(gw_alog *a)
{
    if (!a->on) return;
    gw_alog_check_reopen(a);
    if (a->len) gw_alog_write(a);
}

/* Room for a line of up to GW_ALOG_LINE_MAX bytes at the buffer's end
 * (flushing first when needed), the flush timer armed for it. */
static char *gw_alog_reserve(gw_alog *a)
{
    gw_alog_check_reopen(a);
    if (GW_ALOG_BUF - a->len < GW_ALOG_LINE_MAX) gw_alog_write(a);
    if (a->len == 0 && a->timer_init && !a->timer_on &&
        uv_timer_start(&a->timer, gw_alog_on_timer, GW_ALOG_FLUSH_MS, 0) == 0)
        a->timer_on = 1;
    return a->buf + a->len;
}

void gw_alog_append(gw_alog *a, const char *line, size_t len)
{
    if (!a->on) return;
    if (len > GW_ALOG_LINE_MAX) len = GW_ALOG_LINE_MAX;
    memcpy(gw_alog_reserve(a), line, len);
    a->len += len;
    a->lines++;
}

/* A line under construction: p[0..n), at most cap bytes. */
typedef struct gw_lb {
    char *p;
    size_t n, cap;
} gw_lb;

static void gw_lb_raw(gw_lb *b, const char *s, size_t len)
{
    if (len > b->cap - b->n) len = b->cap - b->n;
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

/* A signed decimal (no printf: this runs once per request). */
static void gw_lb_int(gw_lb *b, int64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) d[--i] = '-';
    gw_lb_raw(b, d + i, sizeof(d) - i);
}

/* A value with one decimal, rounded half away from zero ("-1.0", "0.4"). */
static void gw_lb_tenths(gw_lb *b, double v)
{
    if (!(v > -9e17 && v < 9e17)) v = -1; /* NaN or absurd: unknown */
    int64_t t = (int64_t)(v * 10 + (v < 0 ? -0.5 : 0.5));
    if (t < 0) {
        gw_lb_raw(b, "-", 1);
        t = -t;
    }
    gw_lb_int(b, t / 10);
    char f[2] = {'.', (char)('0' + t % 10)};
    gw_lb_raw(b, f, 2);
}

/* key=value with value escaped, quoted when it came from the client
 * (quoted: spaces stay inside one field); "-" bare when absent. */
static void gw_lb_field(gw_lb *b, const char *key, const char *v, int quote)
{
    gw_lb_raw(b, key, strlen(key));
    if (!v) {
        gw_lb_raw(b, "-", 1);
        return;
    }
    if (quote) gw_lb_raw(b, "\"", 1);
    size_t room = b->cap - b->n > 1 ? b->cap - b->n - 1 : 0;
    b->n += bx_log_escape_into(b->p + b->n, room < GW_ALOG_FIELD_MAX ? room : GW_ALOG_FIELD_MAX, v,
                               BX_LOG_CSTR);
    if (quote) gw_lb_raw(b, "\"", 1);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of now, the seconds formatted once each. */
static void gw_lb_time(gw_alog *a, gw_lb *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((int64_t)ts.tv_sec != a->tsec_t) {
        struct tm tm;
        time_t t = ts.tv_sec;
        gmtime_r(&t, &tm);
        if (strftime(a->tsec, sizeof(a->tsec), "%Y-%m-%dT%H:%M:%S", &tm) == 0) a->tsec[0] = '\0';
        a->tsec_t = (int64_t)ts.tv_sec;
    }
    gw_lb_raw(b, a->tsec, strlen(a->tsec));
    int ms = (int)(ts.tv_nsec / 1000000);
    char f[6] = {
        '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', ' '};
    gw_lb_raw(b, f, sizeof(f));
}

void gw_alog_request(gw_alog *a, const gw_alog_rec *r)
{
    if (!a->on) return;
    if (r->ok && r->status < 400 && a->sample > 1 && a->count++ % a->sample != 0) return;
    gw_lb b = {.p = gw_alog_reserve(a), .cap = GW_ALOG_LINE_MAX - 1}; /* - 1: the '\n' */
    gw_lb_time(a, &b);
    gw_lb_field(&b, "id=", r->id, 0);
    gw_lb_raw(&b, " status=", 8);
    gw_lb_int(&b, r->status);
    gw_lb_field(&b, " path=", r->path, 0);
    gw_lb_field(&b, " model=", r->model, 1);
    gw_lb_field(&b, " user=", r->user, 1);
    gw_lb_field(&b, " engine=", r->engine, 0);
    gw_lb_field(&b, " strategy=", r->strategy, 0);
    gw_lb_raw(&b, " ttft_ms=", 9);
    gw_lb_tenths(&b, r->ttft_ms >= 0 ? r->ttft_ms : -1.0);
    gw_lb_raw(&b, " ms=", 4);
    gw_lb_tenths(&b, r->ms);
    gw_lb_raw(&b, " tokens=", 8);
    gw_lb_int(&b, r->prompt_tokens);
    gw_lb_raw(&b, "+", 1);
    gw_lb_int(&b, r->completion_tokens);
    b.p[b.n++] = '\n';
    a->len += b.n;
    a->lines++;
}

void gw_alog_close(gw_alog *a)
{
    if (a->on) gw_alog_write(a);
    a->on = 0;
    if (a->own_fd && a->fd >= 0) close(a->fd);
    a->own_fd = 0;
    a->fd = -1;
    free(a->path);
    a->path = NULL;
    free(a->buf);
    a->buf = NULL;
    if (a->timer_init) uv_close((uv_handle_t *)&a->timer, NULL);
    a->timer_init = a->timer_on = 0;
}
