/* Differential fuzzing of bx_http_fast against http-parser: whenever the
 * fast reader says OK, http-parser must accept the same bytes as one
 * complete message of exactly that length with the same method, URL,
 * version, status, headers (values trimmed as bx_http trims them), body and
 * keep-alive. The first input byte picks request or response. */
#include <http_parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_http_fast.h"

#define MAXH 32

typedef struct {
    char url[4096];
    size_t url_len;
    char names[MAXH][512], values[MAXH][512];
    size_t name_len[MAXH], value_len[MAXH];
    int n;       /* headers seen */
    int in_name; /* the last callback was a name */
    const char *body;
    size_t body_len;
    int complete;
    int overflow; /* a piece longer than the buffers here: not compared */
} seen;

static int grow(seen *s, char *dst, size_t *len, size_t cap, const char *at, size_t n)
{
    if (*len + n > cap) {
        s->overflow = 1;
        return 0;
    }
    memcpy(dst + *len, at, n);
    *len += n;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    seen *s = hp->data;
    return grow(s, s->url, &s->url_len, sizeof(s->url), at, n);
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
    seen *s = hp->data;
    if (!s->in_name) {
        if (s->n == MAXH) {
            s->overflow = 1;
            return 0;
        }
        s->n++;
        s->in_name = 1;
    }
    return grow(s, s->names[s->n - 1], &s->name_len[s->n - 1], 512, at, n);
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
    seen *s = hp->data;
    s->in_name = 0;
    if (s->overflow) return 0;
    return grow(s, s->values[s->n - 1], &s->value_len[s->n - 1], 512, at, n);
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    seen *s = hp->data;
    if (!s->body) s->body = at; /* one buffer: the pieces are contiguous */
    s->body_len += n;
    return 0;
}

static int on_complete(http_parser *hp)
{
    seen *s = hp->data;
    s->complete = 1;
    http_parser_pause(hp, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int request = data[0] & 1;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    bx_http_fast_limits lim = {1 << 20, MAXH, 1 << 20};
    bx_http_fast_header h[MAXH];
    bx_http_fast_msg m;
    bx_http_fast_rc rc = request ? bx_http_fast_request(buf, len, &lim, h, &m)
                                 : bx_http_fast_response(buf, len, &lim, h, &m);
    if (rc != BX_HTTP_FAST_OK) return 0;
    if (m.total > len || m.head_len + m.body_len != m.total) abort();

    static seen s;
    memset(&s, 0, sizeof(s));
    http_parser hp;
    http_parser_init(&hp, request ? HTTP_REQUEST : HTTP_RESPONSE);
    hp.data = &s;
    http_parser_settings st = {.on_url = on_url,
                               .on_header_field = on_field,
                               .on_header_value = on_value,
                               .on_body = on_body,
                               .on_message_complete = on_complete};
    size_t n = http_parser_execute(&hp, &st, buf, m.total);
    enum http_errno e = HTTP_PARSER_ERRNO(&hp);
    if ((e != HPE_OK && e != HPE_PAUSED) || !s.complete || n != m.total) abort();
    if (hp.http_major != 1 || (int)hp.http_minor != m.http_minor) abort();
    if (s.body_len != m.body_len || (m.body_len && s.body != m.body)) abort();
    if (http_should_keep_alive(&hp) != m.keep_alive) abort();
    if (request) {
        if (strcmp(http_method_str((enum http_method)hp.method), m.method) != 0) abort();
        if (!s.overflow && (s.url_len != m.url_len || memcmp(s.url, m.url, m.url_len) != 0))
            abort();
        if (hp.upgrade) abort();
    } else if ((int)hp.status_code != m.status) {
        abort();
    }
    if (s.overflow) return 0; /* the message is right; its pieces were too long to keep */
    if ((size_t)s.n != m.nheaders) abort();
    for (int i = 0; i < s.n; i++) {
        size_t vl = s.value_len[i];
        while (vl > 0 && (s.values[i][vl - 1] == ' ' || s.values[i][vl - 1] == '\t'))
            vl--;
        if (s.name_len[i] != h[i].name_len || memcmp(s.names[i], h[i].name, h[i].name_len) != 0)
            abort();
        if (vl != h[i].value_len || memcmp(s.values[i], h[i].value, vl) != 0) abort();
    }
    return 0;
}
