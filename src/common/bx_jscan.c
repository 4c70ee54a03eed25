/* bx_jscan: see bx_jscan.h. Recursive descent over RFC 8259 with jansson's
 * extra rules: strings are valid UTF-8 (no overlong forms, surrogates or
 * code points over U+10FFFF), escapes are the JSON ones with \u surrogates
 * paired, no control characters in strings, no duplicate keys, nothing
 * after the value but whitespace. Everything that jansson might treat
 * differently is UNSURE rather than a guess. */
#include "common/bx_jscan.h"

#include <stdint.h>
#include <string.h>

typedef unsigned char uchar;

typedef struct bx_js {
    const uchar *p, *end;
    size_t nkeys;
    struct {
        const uchar *k;
        size_t n;
    } keys[BX_JSCAN_MAX_KEYS];
} bx_js;

/* the scan's result for one value, kept only for the root's members */
typedef struct bx_js_val {
    const uchar *v;
    size_t n;
    bx_jscan_type type;
    int escaped, integer, empty;
} bx_js_val;

static int bx_js_value(bx_js *s, int depth, bx_js_val *out);

/* The loops below work on local pointers: a byte read through s->p may
 * alias s itself, so the compiler would reload and store s->p per byte. */
static void bx_js_ws(bx_js *s)
{
    const uchar *p = s->p, *end = s->end;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    s->p = p;
}

#define BX_JS_ONES 0x0101010101010101ULL
#define BX_JS_HIGH 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes in w needs a look of its own inside a
 * string: a quote, a backslash, a control character or a non-ASCII byte. */
static uint64_t bx_js_special8(uint64_t w)
{
    uint64_t q = w ^ (BX_JS_ONES * '"'), b = w ^ (BX_JS_ONES * '\\');
    uint64_t zq = (q - BX_JS_ONES) & ~q, zb = (b - BX_JS_ONES) & ~b;
    uint64_t lt = (w - BX_JS_ONES * 0x20) & ~w; /* a byte below 0x20 */
    return (zq | zb | lt | w) & BX_JS_HIGH;
}

/* How many bytes of a word precede the first one bx_js_special8 flagged m
 * at: exact, as a borrow only runs upward from a byte that is special
 * itself. 0 where byte order or builtins are unknown (the byte loop then
 * finds it). */
static unsigned bx_js_first_flag(uint64_t m)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0;
#endif
}

static int bx_js_hex4(bx_js *s, unsigned *out)
{
    if (s->end - s->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uchar c = s->p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    s->p += 4;
    *out = v;
    return 0;
}

/* One UTF-8 sequence of two to four bytes at s->p, as jansson's
 * utf8_check_first/utf8_check_full judge it. */
static int bx_js_utf8(bx_js *s)
{
    uchar c = *s->p;
    size_t n;
    unsigned v;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        return -1;
    }
    if ((size_t)(s->end - s->p) < n) return -1;
    for (size_t i = 1; i < n; i++) {
        uchar u = s->p[i];
        if (u < 0x80 || u > 0xbf) return -1;
        v = v << 6 | (u & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
        (v >= 0xd800 && v <= 0xdfff))
        return -1;
    s->p += n;
    return 0;
}

/* At the opening quote. On success s->p is past the closing quote. */
static int bx_js_string(bx_js *s, const uchar **start, size_t *len, int *escaped)
{
    *escaped = 0;
    const uchar *b = ++s->p;
    for (;;) {
        const uchar *p = s->p, *end = s->end;
        uint64_t w;
        while (end - p >= 8) {
            memcpy(&w, p, 8);
            uint64_t m = bx_js_special8(w);
            if (m) {
                p += bx_js_first_flag(m); /* the loop below stops there at once */
                break;
            }
            p += 8;
        }
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        s->p = p;
        if (p >= end) return -1;
        uchar c = *p;
        if (c == '"') break;
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            if (bx_js_utf8(s) != 0) return -1;
            continue;
        }
        *escaped = 1;
        if (++s->p >= s->end) return -1;
        c = *s->p++;
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
            c == 't')
            continue;
        if (c != 'u') return -1;
        unsigned u, lo;
        if (bx_js_hex4(s, &u) != 0 || u == 0) return -1; /* \u0000: jansson's NUL rule */
        if (u >= 0xdc00 && u <= 0xdfff) return -1;
        if (u >= 0xd800 && u <= 0xdbff) {
            if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u') return -1;
            s->p += 2;
            if (bx_js_hex4(s, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) return -1;
        }
    }
    *start = b;
    *len = (size_t)(s->p - b);
    s->p++;
    return 0;
}

static int bx_js_digits(bx_js *s)
{
    const uchar *b = s->p, *p = b, *end = s->end;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    s->p = p;
    return (int)(p - b);
}

static int bx_js_number(bx_js *s, bx_js_val *out)
{
    const uchar *b = s->p;
    if (*s->p == '-') s->p++;
    if (s->p >= s->end) return -1;
    int nd;
    if (*s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9') return -1;
        nd = 1;
    } else {
        nd = bx_js_digits(s);
        if (nd == 0) return -1;
    }
    int integer = 1;
    if (s->p < s->end && *s->p == '.') {
        integer = 0;
        s->p++;
        if (bx_js_digits(s) == 0) return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        integer = 0;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        int ne = bx_js_digits(s);
        if (ne == 0 || ne > 2) return -1; /* 1e308 and 1e-400: jansson's range rules */
    }
    if (s->p - b > 32 || (integer && nd > 18)) return -1;
    out->v = b;
    out->n = (size_t)(s->p - b);
    out->type = BX_JSCAN_NUMBER;
    out->integer = integer;
    return 0;
}

static int bx_js_literal(bx_js *s, const char *word, bx_jscan_type type, bx_js_val *out)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    out->v = s->p;
    out->n = n;
    out->type = type;
    s->p += n;
    return 0;
}

/* At '{'. Members of the root object (depth 1) go to mem[] when given. */
static int bx_js_object(bx_js *s, int depth, bx_jscan_member *mem, size_t max, size_t *nmem,
                        bx_js_val *out)
{
    const uchar *b = s->p++;
    size_t base = s->nkeys;
    out->empty = 1;
    bx_js_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
    } else {
        out->empty = 0;
        for (;;) {
            if (s->p >= s->end || *s->p != '"') return -1;
            const uchar *k;
            size_t kn;
            int esc;
            if (bx_js_string(s, &k, &kn, &esc) != 0 || esc) return -1;
            for (size_t i = base; i < s->nkeys; i++) /* duplicates: jansson refuses them */
                if (s->keys[i].n == kn && memcmp(s->keys[i].k, k, kn) == 0) return -1;
            if (s->nkeys == BX_JSCAN_MAX_KEYS) return -1;
            s->keys[s->nkeys].k = k;
            s->keys[s->nkeys++].n = kn;
            bx_js_ws(s);
            if (s->p >= s->end || *s->p != ':') return -1;
            s->p++;
            bx_js_ws(s);
            bx_js_val v = {0};
            if (bx_js_value(s, depth, &v) != 0) return -1;
            if (mem) {
                if (*nmem == max) return -1;
                mem[*nmem] = (bx_jscan_member){.key = (const char *)k,
                                               .key_len = kn,
                                               .val = (const char *)v.v,
                                               .val_len = v.n,
                                               .type = v.type,
                                               .escaped = v.escaped,
                                               .integer = v.integer,
                                               .empty = v.empty};
                (*nmem)++;
            }
            bx_js_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                bx_js_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == '}') {
                s->p++;
                break;
            }
            return -1;
        }
    }
    s->nkeys = base;
    out->v = b;
    out->n = (size_t)(s->p - b);
    out->type = BX_JSCAN_OBJECT;
    return 0;
}

static int bx_js_array(bx_js *s, int depth, bx_js_val *out)
{
    const uchar *b = s->p++;
    out->empty = 1;
    bx_js_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
    } else {
        out->empty = 0;
        for (;;) {
            bx_js_val v = {0};
            if (bx_js_value(s, depth, &v) != 0) return -1;
            bx_js_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                bx_js_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == ']') {
                s->p++;
                break;
            }
            return -1;
        }
    }
    out->v = b;
    out->n = (size_t)(s->p - b);
    out->type = BX_JSCAN_ARRAY;
    return 0;
}

/* A value nested in a container at depth `depth`. */
static int bx_js_value(bx_js *s, int depth, bx_js_val *out)
{
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '"': {
        const uchar *v;
        size_t n;
        if (bx_js_string(s, &v, &n, &out->escaped) != 0) return -1;
        out->v = v;
        out->n = n;
        out->type = BX_JSCAN_STRING;
        return 0;
    }
    case '{':
        if (depth + 1 > BX_JSCAN_MAX_DEPTH) return -1;
        return bx_js_object(s, depth + 1, NULL, 0, NULL, out);
    case '[':
        if (depth + 1 > BX_JSCAN_MAX_DEPTH) return -1;
        return bx_js_array(s, depth + 1, out);
    case 't':
        return bx_js_literal(s, "true", BX_JSCAN_TRUE, out);
    case 'f':
        return bx_js_literal(s, "false", BX_JSCAN_FALSE, out);
    case 'n':
        return bx_js_literal(s, "null", BX_JSCAN_NULL, out);
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return bx_js_number(s, out);
        return -1;
    }
}

static bx_jscan_rc bx_jscan_run(const char *buf, size_t len, bx_jscan_member *out, size_t max,
                                size_t *n, size_t *used)
{
    bx_js s;
    s.p = (const uchar *)buf;
    s.end = s.p + len;
    s.nkeys = 0;
    *n = 0;
    if (!buf) return BX_JSCAN_UNSURE;
    bx_js_ws(&s);
    if (s.p >= s.end || *s.p != '{') return BX_JSCAN_UNSURE;
    bx_js_val root = {0};
    if (bx_js_object(&s, 1, out, max, n, &root) != 0) {
        *n = 0;
        return BX_JSCAN_UNSURE;
    }
    if (used) {
        *used = (size_t)(s.p - (const uchar *)buf);
        return BX_JSCAN_OK;
    }
    bx_js_ws(&s);
    if (s.p != s.end) {
        *n = 0;
        return BX_JSCAN_UNSURE;
    }
    return BX_JSCAN_OK;
}

bx_jscan_rc bx_jscan_object(const char *buf, size_t len, bx_jscan_member *out, size_t max,
                            size_t *n)
{
    return bx_jscan_run(buf, len, out, max, n, NULL);
}

bx_jscan_rc bx_jscan_object_head(const char *buf, size_t len, bx_jscan_member *out, size_t max,
                                 size_t *n, size_t *used)
{
    return bx_jscan_run(buf, len, out, max, n, used);
}

int bx_jscan_int(const bx_jscan_member *m, int64_t *out)
{
    if (m->type != BX_JSCAN_NUMBER || !m->integer || m->val_len == 0) return -1;
    const char *p = m->val, *end = m->val + m->val_len;
    int neg = *p == '-';
    p += neg;
    if (p == end || end - p > 18) return -1;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}
