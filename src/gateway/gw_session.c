/* gw_session: see gw_session.h. A small base64 codec (the ids are short
 * and decoding runs on every affinity request, so no allocation and no
 * dependency) and the FNV-1a rendezvous weight. */
#include "gateway/gw_session.h"

#include <string.h>

static const char gw_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int gw_session_id_encode(const gw_engine *e, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)e->addr;
    size_t n = strnlen(e->addr, sizeof(e->addr));
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (cap < need) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        out[o++] = gw_b64_alphabet[(v >> 18) & 63];
        out[o++] = gw_b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? gw_b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? gw_b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

/* Value of one base64 character, -1 if not in either alphabet. */
static int gw_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int gw_session_id_decode(const char *id, size_t len, char *out, size_t cap)
{
    if (cap == 0) return -1;
    /* strip up to two '=' of padding; then the length must be complete */
    size_t pad = 0;
    while (len > 0 && id[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1) return -1;
    if (pad && (len + pad) % 4 != 0) return -1; /* padding must complete a quantum */
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need + 1 > cap) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = gw_b64_value((unsigned char)id[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char byte = (unsigned char)(acc >> bits);
            if (byte == 0) return -1; /* an address never holds a NUL */
            out[o++] = (char)byte;
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return -1; /* non-canonical trailing bits */
    out[o] = '\0';
    return (int)o;
}

uint64_t gw_session_rendezvous(const char *key, size_t klen, const char *addr)
{
    const uint64_t prime = 0x100000001b3ULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= prime;
    }
    h ^= 0; /* the separator byte */
    h *= prime;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
        h ^= *p;
        h *= prime;
    }
    return h;
}
