/* bx_buf: a growable byte buffer. The caller owns the struct; bx_buf_free
 * releases the heap memory. Appends keep a NUL after the data so the bytes
 * can be read as a C string. Every append checks allocation and returns -1
 * on failure, leaving the buffer unchanged. */
#ifndef BX_BUF_H
#define BX_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct bx_buf {
    char *data;
    size_t len;
    size_t cap;
} bx_buf;

void bx_buf_init(bx_buf *b);
void bx_buf_free(bx_buf *b);
void bx_buf_reset(bx_buf *b); /* len = 0, memory kept */
/* The slow paths of the two below: they grow the buffer. */
int bx_buf_grow(bx_buf *b, size_t extra);
int bx_buf_append_grow(bx_buf *b, const void *data, size_t len);

/* Inline: a request's path appends a few dozen small pieces, and the call
 * and the capacity check were a tenth of the gateway's own instructions. */
static inline int bx_buf_reserve(bx_buf *b, size_t extra)
{
    return extra < b->cap - b->len ? 0 : bx_buf_grow(b, extra); /* len < cap unless cap == 0 */
}

static inline int bx_buf_append(bx_buf *b, const void *data, size_t len)
{
    if (len >= b->cap - b->len) return bx_buf_append_grow(b, data, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static inline int bx_buf_appends(bx_buf *b, const char *s)
{
    return bx_buf_append(b, s, strlen(s));
}
/* Appends v in decimal (no printf on hot paths). */
int bx_buf_append_u64(bx_buf *b, uint64_t v);
int bx_buf_printf(bx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Moves the data out: the caller owns the returned pointer (free()). */
char *bx_buf_steal(bx_buf *b, size_t *len);

#endif
