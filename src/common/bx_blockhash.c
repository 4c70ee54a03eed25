/* bx_blockhash: see bx_blockhash.h. CBOR items are written with libcbor's
 * streaming encoders into a stack buffer, then hashed with OpenSSL's SHA-256
 * in one call; the only work per block is the encoding and the digest. */
#include "common/bx_blockhash.h"

#include <cbor.h>
#include <openssl/sha.h>
#include <string.h>

#define BX_BLOCKHASH_MAX_TOKENS 256 /* vLLM block sizes go up to 128 */
#define BX_BLOCKHASH_MAX_EXTRA 256

void bx_blockhash_root(const char *seed, bx_blockhash *out)
{
    size_t sl = strlen(seed);
    unsigned char buf[16 + 1024];
    if (sl > 1024) sl = 1024; /* seeds are short; longer ones are cut */
    size_t n = cbor_encode_string_start(sl, buf, sizeof(buf));
    memcpy(buf + n, seed, sl);
    SHA256(buf, n + sl, out->d);
}

int bx_blockhash_block(const bx_blockhash *parent, const uint32_t *tokens, size_t ntok,
                       const char *extra_name, bx_blockhash *out)
{
    size_t el = extra_name ? strlen(extra_name) : 0;
    if (ntok > BX_BLOCKHASH_MAX_TOKENS || el > BX_BLOCKHASH_MAX_EXTRA) return -1;
    unsigned char buf[64 + BX_BLOCKHASH_MAX_TOKENS * 9 + BX_BLOCKHASH_MAX_EXTRA];
    const size_t cap = sizeof(buf);
    size_t n = 0;
    n += cbor_encode_array_start(3, buf + n, cap - n);
    n += cbor_encode_bytestring_start(BX_BLOCKHASH_LEN, buf + n, cap - n);
    memcpy(buf + n, parent->d, BX_BLOCKHASH_LEN);
    n += BX_BLOCKHASH_LEN;
    n += cbor_encode_array_start(ntok, buf + n, cap - n);
    for (size_t i = 0; i < ntok; i++)
        n += cbor_encode_uint(tokens[i], buf + n, cap - n);
    if (extra_name) {
        n += cbor_encode_array_start(1, buf + n, cap - n);
        n += cbor_encode_string_start(el, buf + n, cap - n);
        memcpy(buf + n, extra_name, el);
        n += el;
    } else {
        n += cbor_encode_null(buf + n, cap - n);
    }
    SHA256(buf, n, out->d);
    return 0;
}

uint64_t bx_blockhash_u64(const bx_blockhash *h)
{
    uint64_t v = 0;
    for (int i = BX_BLOCKHASH_LEN - 8; i < BX_BLOCKHASH_LEN; i++)
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
