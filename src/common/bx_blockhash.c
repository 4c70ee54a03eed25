/* bx_blockhash: see bx_blockhash.h. CBOR items are written with libcbor's
 * streaming encoders into a stack buffer, then hashed with OpenSSL's SHA-256
 * or libxxhash's XXH3-128 in one call; the only work per block is the
 * encoding and the digest. */
#include "common/bx_blockhash.h"

#include <cbor.h>
#include <openssl/sha.h>
#include <string.h>
#include <xxhash.h>

#define BX_BLOCKHASH_MAX_TOKENS 256 /* vLLM block sizes go up to 128 */
#define BX_BLOCKHASH_MAX_EXTRA 256

int bx_blockhash_algo_parse(const char *name, bx_blockhash_algo *out)
{
    if (strcmp(name, "sha256_cbor") == 0) {
        *out = BX_BLOCKHASH_SHA256_CBOR;
    } else if (strcmp(name, "xxhash_cbor") == 0) {
        *out = BX_BLOCKHASH_XXHASH_CBOR;
    } else {
        return -1;
    }
    return 0;
}

const char *bx_blockhash_algo_name(bx_blockhash_algo a)
{
    return a == BX_BLOCKHASH_XXHASH_CBOR ? "xxhash_cbor" : "sha256_cbor";
}

size_t bx_blockhash_len(const bx_blockhash *h)
{
    return h->algo == BX_BLOCKHASH_XXHASH_CBOR ? 16 : BX_BLOCKHASH_LEN;
}

static void bx_blockhash_digest(uint8_t algo, const unsigned char *buf, size_t n, bx_blockhash *out)
{
    memset(out, 0, sizeof(*out));
    out->algo = algo;
    if (algo == BX_BLOCKHASH_XXHASH_CBOR) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(buf, n));
        memcpy(out->d, c.digest, sizeof(c.digest));
    } else {
        SHA256(buf, n, out->d);
    }
}

void bx_blockhash_root(const char *seed, bx_blockhash *out)
{
    bx_blockhash_root_algo(BX_BLOCKHASH_SHA256_CBOR, seed, out);
}

void bx_blockhash_root_algo(bx_blockhash_algo algo, const char *seed, bx_blockhash *out)
{
    size_t sl = strlen(seed);
    unsigned char buf[16 + 1024];
    if (sl > 1024) sl = 1024; /* seeds are short; longer ones are cut */
    size_t n = cbor_encode_string_start(sl, buf, sizeof(buf));
    memcpy(buf + n, seed, sl);
    bx_blockhash_digest((uint8_t)algo, buf, n + sl, out);
}

/* RFC 8949 3.1, major type 0 (unsigned integer) in its shortest form, as
 * libcbor's cbor_encode_uint writes it, stored with one 8-byte write (the
 * caller leaves 8 bytes of slack). Written here because libcbor's call per
 * token made the xxhash_cbor chain 1.4x slower (32k tokens: 355 us against
 * 255 us, bench/micro/prefix_decision.sh). */
static size_t bx_blockhash_cbor_uint(uint32_t v, unsigned char *out)
{
    uint64_t w = 0x1a | (uint64_t)__builtin_bswap32(v) << 8;
    size_t n = 5;
    if (v < 24) {
        w = v;
        n = 1;
    } else if (v < 0x100) {
        w = 0x18 | (uint64_t)v << 8;
        n = 2;
    } else if (v < 0x10000) {
        w = 0x19 | (uint64_t)__builtin_bswap16((uint16_t)v) << 8;
        n = 3;
    }
    for (int i = 0; i < 8; i++) /* little-endian store of w's bytes */
        out[i] = (unsigned char)(w >> (8 * i));
    return n;
}

int bx_blockhash_block(const bx_blockhash *parent, const uint32_t *tokens, size_t ntok,
                       const char *extra_name, bx_blockhash *out)
{
    size_t el = extra_name ? strlen(extra_name) : 0;
    if (ntok > BX_BLOCKHASH_MAX_TOKENS || el > BX_BLOCKHASH_MAX_EXTRA) return -1;
    unsigned char buf[64 + BX_BLOCKHASH_MAX_TOKENS * 5 + 8 + BX_BLOCKHASH_MAX_EXTRA];
    const size_t cap = sizeof(buf);
    size_t n = 0, pl = bx_blockhash_len(parent);
    n += cbor_encode_array_start(3, buf + n, cap - n);
    n += cbor_encode_bytestring_start(pl, buf + n, cap - n);
    memcpy(buf + n, parent->d, pl);
    n += pl;
    n += cbor_encode_array_start(ntok, buf + n, cap - n);
    for (size_t i = 0; i < ntok; i++)
        n += bx_blockhash_cbor_uint(tokens[i], buf + n);
    if (extra_name) {
        n += cbor_encode_array_start(1, buf + n, cap - n);
        n += cbor_encode_string_start(el, buf + n, cap - n);
        memcpy(buf + n, extra_name, el);
        n += el;
    } else {
        n += cbor_encode_null(buf + n, cap - n);
    }
    bx_blockhash_digest(parent->algo, buf, n, out);
    return 0;
}

uint64_t bx_blockhash_u64(const bx_blockhash *h)
{
    uint64_t v = 0;
    for (size_t i = bx_blockhash_len(h) - 8; i < bx_blockhash_len(h); i++)
        v = (v << 8) | h->d[i];
    return v;
}

size_t bx_blockhash_chain(const bx_blockhash *root, const uint32_t *tokens, size_t ntok,
                          size_t block_size, const char *extra_name, size_t nblocks, uint64_t *keys,
                          bx_blockhash *digests)
{
    if (block_size == 0) return 0;
    size_t full = ntok / block_size;
    if (nblocks > full) nblocks = full;
    bx_blockhash prev = *root, cur;
    for (size_t b = 0; b < nblocks; b++) {
        if (bx_blockhash_block(&prev, tokens + b * block_size, block_size, extra_name, &cur) != 0)
            return b;
        if (keys) keys[b] = bx_blockhash_u64(&cur);
        if (digests) digests[b] = cur;
        prev = cur;
    }
    return nblocks;
}
