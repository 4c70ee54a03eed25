/* kv_l2: the L2 value header, node address lists and the consistent-hash
 * ring (see kv_l2.h). The header is written and read byte by byte in
 * little-endian order, so stores are portable across hosts. */
#include "kv/kv_l2.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "kv/kv_l1.h" /* kv_l1_copy */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void kv_l2_hdr_put(uint8_t *hdr, const kv_key *key, size_t len, uint64_t sum)
{
    put_le(hdr, KV_L2_MAGIC, 4);
    put_le(hdr + 4, KV_L2_VERSION, 2);
    put_le(hdr + 6, 0, 2);
    put_le(hdr + 8, len, 8);
    put_le(hdr + 16, sum, 8);
    put_le(hdr + 24, key->hi, 8);
    put_le(hdr + 32, key->lo, 8);
}

void kv_l2_hdr_encode(uint8_t hdr[KV_L2_HDR_BYTES], const kv_key *key, const void *payload,
                      size_t len)
{
    kv_l2_hdr_put(hdr, key, len, XXH3_64bits(payload, len));
}

void kv_l2_hdr_encode_iov(uint8_t hdr[KV_L2_HDR_BYTES], const kv_key *key, const brixkv_iov *v,
                          size_t nv, size_t len)
{
    if (nv == 1) {
        kv_l2_hdr_encode(hdr, key, v[0].base, len);
        return;
    }
    XXH3_state_t st; /* on the stack (XXH_STATIC_LINKING_ONLY): no allocation */
    XXH3_64bits_reset(&st);
    for (size_t i = 0; i < nv; i++)
        XXH3_64bits_update(&st, v[i].base, v[i].len);
    kv_l2_hdr_put(hdr, key, len, XXH3_64bits_digest(&st));
}

/* The header fields (all but the checksum); 0 or -EBADMSG. */
static int kv_l2_head_ok(const uint8_t *v, size_t vlen, const kv_key *key, size_t expect_len)
{
    if (!v || vlen < KV_L2_HDR_BYTES || expect_len >= KV_L2_MAX_PAYLOAD) return -EBADMSG;
    if (get_le(v, 4) != KV_L2_MAGIC || get_le(v + 4, 2) != KV_L2_VERSION || get_le(v + 6, 2) != 0)
        return -EBADMSG;
    uint64_t len = get_le(v + 8, 8);
    if (len != expect_len || vlen - KV_L2_HDR_BYTES != len) return -EBADMSG;
    if (get_le(v + 24, 8) != key->hi || get_le(v + 32, 8) != key->lo) return -EBADMSG;
    return 0;
}

int kv_l2_value_verify(const uint8_t *v, size_t vlen, const kv_key *key, size_t expect_len,
                       const uint8_t **payload)
{
    if (kv_l2_head_ok(v, vlen, key, expect_len) != 0 ||
        get_le(v + 16, 8) != XXH3_64bits(v + KV_L2_HDR_BYTES, expect_len))
        return -EBADMSG;
    *payload = v + KV_L2_HDR_BYTES;
    return 0;
}

#define KV_L2_STEP ((size_t)64 << 10)

int kv_l2_value_copy_out(const uint8_t *v, size_t vlen, const kv_key *key, size_t expect_len,
                         const brixkv_iov *dst, size_t nv)
{
    if (kv_l2_head_ok(v, vlen, key, expect_len) != 0) return -EBADMSG;
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    const uint8_t *p = v + KV_L2_HDR_BYTES, *end = p + expect_len;
    for (size_t i = 0; i < nv; i++)
        for (size_t off = 0; off < dst[i].len;) {
            size_t n = dst[i].len - off < KV_L2_STEP ? dst[i].len - off : KV_L2_STEP;
            if (n > (size_t)(end - p)) return -EBADMSG; /* pieces longer than the payload */
            XXH3_64bits_update(&st, p, n);
            kv_l1_copy((uint8_t *)dst[i].base + off, p, n);
            p += n;
            off += n;
        }
    if (p != end || get_le(v + 16, 8) != XXH3_64bits_digest(&st)) return -EBADMSG;
    return 0;
}

/* One "host:port" of length n at s into *a. */
static int kv_l2_addr_parse1(const char *s, size_t n, kv_l2_addr *a)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':') colon = s + i;
    if (!colon) return -EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [v6]:port */
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl)) {
        return -EINVAL; /* a bare v6 address is ambiguous */
    }
    if (hl == 0 || hl > KV_L2_HOST_MAX) return -EINVAL;
    for (size_t i = 0; i < hl; i++)
        if (isspace((unsigned char)h[i]) || h[i] == ',' || h[i] == '/') return -EINVAL;
    size_t pl = n - (size_t)(colon + 1 - s);
    if (pl == 0 || pl > 5) return -EINVAL;
    long port = 0;
    for (size_t i = 0; i < pl; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9') return -EINVAL;
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return -EINVAL;
    memcpy(a->host, h, hl);
    a->host[hl] = 0;
    a->port = (int)port;
    return 0;
}

int kv_l2_addrs_parse(const char *s, kv_l2_addr *out, size_t max, char *err, size_t errlen)
{
    size_t n = 0;
    if (!s) s = "";
    for (const char *p = s;;) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        if (n == max) {
            snprintf(err, errlen, "l2_redis: more than %zu nodes", max);
            return -EINVAL;
        }
        if (kv_l2_addr_parse1(p, len, &out[n]) != 0) {
            snprintf(err, errlen, "l2_redis: bad node address '%.*s' (want host:port)",
                     (int)(len > 300 ? 300 : len), p);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
            if (out[i].port == out[n].port && strcmp(out[i].host, out[n].host) == 0) {
                snprintf(err, errlen, "l2_redis: node '%.*s' given twice", (int)len, p);
                return -EINVAL;
            }
        n++;
        if (!e) break;
        p = e + 1;
    }
    return (int)n;
}

static int kv_l2_pt_cmp(const void *a, const void *b)
{
    const kv_l2_ring_point *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

int kv_l2_ring_build(kv_l2_ring *r, const kv_l2_addr *addrs, unsigned n)
{
    memset(r, 0, sizeof(*r));
    if (n == 0 || n > KV_L2_MAX_NODES) return -EINVAL;
    r->pts = calloc((size_t)n * KV_L2_VNODES, sizeof(*r->pts));
    if (!r->pts) return -ENOMEM;
    char buf[KV_L2_HOST_MAX + 32];
    for (unsigned i = 0; i < n; i++)
        for (unsigned v = 0; v < KV_L2_VNODES; v++) {
            int len = snprintf(buf, sizeof(buf), "%s:%d#%u", addrs[i].host, addrs[i].port, v);
            kv_l2_ring_point *pt = &r->pts[(size_t)i * KV_L2_VNODES + v];
            pt->hash = XXH3_64bits(buf, (size_t)len);
            pt->node = i;
        }
    r->npts = (size_t)n * KV_L2_VNODES;
    r->nnodes = n;
    qsort(r->pts, r->npts, sizeof(*r->pts), kv_l2_pt_cmp);
    return 0;
}

void kv_l2_ring_free(kv_l2_ring *r)
{
    free(r->pts);
    memset(r, 0, sizeof(*r));
}

unsigned kv_l2_ring_node(const kv_l2_ring *r, const kv_key *key)
{
    uint8_t kb[16];
    put_le(kb, key->hi, 8);
    put_le(kb + 8, key->lo, 8);
    uint64_t h = XXH3_64bits(kb, sizeof(kb));
    size_t lo = 0, hi = r->npts; /* first point with hash >= h */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pts[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return r->pts[lo == r->npts ? 0 : lo].node;
}
