/* bx_sse: see bx_sse.h. Lines wholly inside a fed piece are parsed in place;
 * only a line split across pieces is copied (into p->line), and only data
 * and event values are copied into the event being assembled. Comment lines
 * are skipped without being buffered. */
#include "common/bx_sse.h"

#include <string.h>

#define SSE_DEFAULT_MAX (1024 * 1024)

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

void bx_sse_parser_init(bx_sse_parser *p, size_t max_event_bytes, bx_sse_event_cb cb, void *ud)
{
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->ud = ud;
    p->max_event_bytes = max_event_bytes ? max_event_bytes : SSE_DEFAULT_MAX;
    bx_buf_init(&p->line);
    bx_buf_init(&p->data);
    bx_buf_init(&p->event);
    bx_buf_init(&p->id);
}

void bx_sse_parser_reset(bx_sse_parser *p)
{
    bx_buf_reset(&p->line);
    bx_buf_reset(&p->data);
    bx_buf_reset(&p->event);
    bx_buf_reset(&p->id);
    p->data_lines = 0;
    p->skip_lf = 0;
    p->in_comment = 0;
    p->bom_checked = 0;
    p->err = 0;
}

void bx_sse_parser_free(bx_sse_parser *p)
{
    bx_buf_free(&p->line);
    bx_buf_free(&p->data);
    bx_buf_free(&p->event);
    bx_buf_free(&p->id);
}

int bx_sse_is_done(const bx_sse_event *ev)
{
    return ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
}

/* Bytes held for the event being assembled. */
static size_t held(const bx_sse_parser *p)
{
    return p->line.len + p->data.len + p->event.len;
}

static int too_big(bx_sse_parser *p, size_t more)
{
    if (more > p->max_event_bytes || held(p) > p->max_event_bytes - more) {
        p->err = BX_SSE_ETOOBIG;
        return 1;
    }
    return 0;
}

static int dispatch(bx_sse_parser *p)
{
    if (p->data_lines == 0) {
        bx_buf_reset(&p->event);
        return 0;
    }
    bx_sse_event ev = {
        .event = p->event.data ? p->event.data : "",
        .data = p->data.data ? p->data.data : "",
        .data_len = p->data.len,
        .id = p->id.data ? p->id.data : "",
    };
    int stop = p->cb(&ev, p->ud);
    bx_buf_reset(&p->data);
    bx_buf_reset(&p->event);
    p->data_lines = 0;
    if (stop) p->err = BX_SSE_ESTOPPED;
    return p->err;
}

static int set_buf(bx_sse_parser *p, bx_buf *b, const char *v, size_t n)
{
    bx_buf_reset(b);
    if (too_big(p, n)) return p->err;
    if (bx_buf_append(b, v, n) != 0) return p->err = BX_SSE_ETOOBIG;
    return 0;
}

/* One complete line, without its terminator. */
static int process_line(bx_sse_parser *p, const char *s, size_t n)
{
    if (n == 0) return dispatch(p);
    if (s[0] == ':') return 0;
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        size_t more = vlen + (p->data_lines > 0);
        if (too_big(p, more)) return p->err;
        if (bx_buf_reserve(&p->data, more) != 0) return p->err = BX_SSE_ETOOBIG;
        if (p->data_lines > 0) bx_buf_append(&p->data, "\n", 1);
        bx_buf_append(&p->data, v, vlen);
        p->data_lines++;
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        return set_buf(p, &p->event, v, vlen);
    } else if (flen == 2 && memcmp(s, "id", 2) == 0) {
        if (memchr(v, '\0', vlen)) return 0; /* the spec ignores such ids */
        if (vlen > p->max_event_bytes) return p->err = BX_SSE_ETOOBIG;
        if (bx_buf_reserve(&p->id, vlen) != 0) return p->err = BX_SSE_ETOOBIG;
        bx_buf_reset(&p->id);
        bx_buf_append(&p->id, v, vlen);
    }
    /* retry and unknown fields are ignored */
    return 0;
}

/* Appends a piece of a line that continues in a later piece. */
static int hold_partial(bx_sse_parser *p, const char *s, size_t n)
{
    if (n == 0) return 0;
    if (p->in_comment) return 0;
    if (p->line.len == 0 && s[0] == ':') {
        p->in_comment = 1;
        return 0;
    }
    if (too_big(p, n)) return p->err;
    if (bx_buf_append(&p->line, s, n) != 0) return p->err = BX_SSE_ETOOBIG;
    return 0;
}

/* Consumes the bytes of a possible leading BOM; returns how many. */
static size_t skip_bom(bx_sse_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (p->bom_checked < 3 && i < len) {
        if ((unsigned char)data[i] != utf8_bom[p->bom_checked]) break;
        p->bom_checked++;
        i++;
    }
    if (p->bom_checked < 3 && i < len) {
        /* Not a BOM after all: the bytes matched so far belong to the text. */
        int matched = p->bom_checked;
        p->bom_checked = 3;
        if (matched > 0 && hold_partial(p, (const char *)utf8_bom, (size_t)matched)) return len;
    }
    return i;
}

int bx_sse_parser_feed(bx_sse_parser *p, const char *data, size_t len)
{
    if (p->err) return p->err;
    size_t i = 0;
    if (p->bom_checked < 3) {
        i = skip_bom(p, data, len);
        if (p->err) return p->err;
    }
    while (i < len) {
        if (p->skip_lf) {
            p->skip_lf = 0;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j == len) {
            if (hold_partial(p, data + i, len - i)) return p->err;
            break;
        }
        int r;
        if (p->in_comment) {
            p->in_comment = 0;
            r = 0;
        } else if (p->line.len > 0) {
            if (too_big(p, j - i)) return p->err;
            if (bx_buf_append(&p->line, data + i, j - i) != 0) return p->err = BX_SSE_ETOOBIG;
            /* Uncounted while its content is copied into the event. */
            size_t n = p->line.len;
            p->line.len = 0;
            r = process_line(p, p->line.data, n);
            bx_buf_reset(&p->line);
        } else {
            r = process_line(p, data + i, j - i);
        }
        if (r) return r;
        if (data[j] == '\r') {
            if (j + 1 < len) {
                i = (data[j + 1] == '\n') ? j + 2 : j + 1;
            } else {
                p->skip_lf = 1;
                i = j + 1;
            }
        } else {
            i = j + 1;
        }
    }
    return 0;
}
