/* bx_buf: see bx_buf.h. Growth doubles capacity, starting at 256 bytes. */
#include "common/bx_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bx_buf_init(bx_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bx_buf_free(bx_buf *b)
{
    free(b->data);
    bx_buf_init(b);
}

void bx_buf_reset(bx_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int bx_buf_grow(bx_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 4 - b->len) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int bx_buf_append_grow(bx_buf *b, const void *data, size_t len)
{
    if (bx_buf_grow(b, len) != 0) return -1;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int bx_buf_append_u64(bx_buf *b, uint64_t v)
{
    char t[20];
    size_t i = sizeof(t);
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return bx_buf_append(b, t + i, sizeof(t) - i);
}

int bx_buf_printf(bx_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof(tmp)) return bx_buf_append(b, tmp, (size_t)n);
    if (bx_buf_reserve(b, (size_t)n) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *bx_buf_steal(bx_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    bx_buf_init(b);
    return p;
}
