/* bx_query: see bx_query.h. */
#include "common/bx_query.h"

#include <string.h>

static int bx_query_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int bx_query_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = bx_query_hex((unsigned char)s[i + 1]),
                lo = bx_query_hex((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int bx_query_get(const char *q, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    while (q && *q) {
        size_t seg = strcspn(q, "&");
        if (seg > klen && strncmp(q, key, klen) == 0 && q[klen] == '=')
            return bx_query_decode(q + klen + 1, seg - klen - 1, out, len) == 0 ? 1 : -1;
        if (seg == klen && strncmp(q, key, klen) == 0) {
            if (len) out[0] = 0;
            return 1;
        }
        q += seg;
        if (*q == '&') q++;
    }
    return 0;
}
