/* bx_tok: see bx_tok.h. One pass over the bytes; no allocation. */
#include "common/bx_tok.h"

#include <xxhash.h>

static int bx_tok_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Length of the UTF-8 sequence starting with byte c (invalid bytes count 1). */
static size_t bx_tok_u8len(unsigned char c)
{
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

uint32_t bx_tok_piece_id(const char *piece, size_t len)
{
    uint32_t h = XXH32(piece, len, 0);
    return BX_TOK_FIRST_ID + h % (BX_TOK_VOCAB - BX_TOK_FIRST_ID);
}

/* Cuts [start, end) into pieces of at most 4 bytes on character bounds. */
static size_t bx_tok_word(const char *text, size_t start, size_t end, uint32_t *ids, uint32_t *offs,
                          size_t cap, size_t n)
{
    size_t p = start;
    while (p < end) {
        size_t q = p;
        while (q < end) {
            size_t cl = bx_tok_u8len((unsigned char)text[q]);
            if (q + cl > end) cl = end - q;
            if (q > p && q + cl - p > BX_TOK_MAX_PIECE) break;
            q += cl;
            if (q - p >= BX_TOK_MAX_PIECE) break;
        }
        if (n < cap) {
            if (ids) ids[n] = bx_tok_piece_id(text + p, q - p);
            if (offs) offs[n] = (uint32_t)p;
        }
        n++;
        p = q;
    }
    return n;
}

size_t bx_tok_encode(const char *text, size_t len, uint32_t *ids, uint32_t *offs, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && bx_tok_is_space((unsigned char)text[i]))
            i++;
        while (i < len && !bx_tok_is_space((unsigned char)text[i]))
            i++;
        n = bx_tok_word(text, start, i, ids, offs, cap, n);
    }
    return n;
}

size_t bx_tok_count(const char *text, size_t len)
{
    return bx_tok_encode(text, len, NULL, NULL, 0);
}
