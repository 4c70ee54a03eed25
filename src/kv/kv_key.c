/* kv_key: namespace roots and the per-block XXH3-128 chain (see kv_key.h).
 * Small blocks are hashed one-shot from a stack buffer (the fast path for
 * 16..256-token blocks); larger ones stream through an XXH3 state on the
 * stack. Both produce the same digest, so the choice is invisible. */
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack, no malloc */
#include "kv/kv_key.h"

#include <errno.h>
#include <string.h>

#include <xxhash.h>

#define NS_TAG "brixkv-ns1"
#define ONESHOT_MAX_TOKENS 256
#define SWAP_CHUNK 64

static kv_key from_xxh(XXH128_hash_t h)
{
    kv_key k = {h.high64, h.low64};
    return k;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void key_bytes(const kv_key *k, uint8_t out[16])
{
    XXH128_hash_t h = {k->lo, k->hi};
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out, c.digest, 16);
}

static bool host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int ns_field(XXH3_state_t *st, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) return -EINVAL;
    uint8_t len[4];
    put_le32(len, (uint32_t)n);
    if (XXH3_128bits_update(st, len, sizeof len) != XXH_OK) return -EINVAL;
    if (n && XXH3_128bits_update(st, s, n) != XXH_OK) return -EINVAL;
    return 0;
}

int kv_key_ns_root(const char *model, const char *revision, const char *adapter, const char *dtype,
                   const char *layout_sig, const char *shard, kv_key *out)
{
    if (!model || !*model || !out) return -EINVAL;
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    if (XXH3_128bits_reset(&st) != XXH_OK) return -EINVAL;
    if (XXH3_128bits_update(&st, NS_TAG, strlen(NS_TAG)) != XXH_OK) return -EINVAL;
    const char *f[] = {model, revision, adapter, dtype, layout_sig, shard};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int rc = ns_field(&st, f[i]);
        if (rc) return rc;
    }
    *out = from_xxh(XXH3_128bits_digest(&st));
    return 0;
}

/* H = XXH3_128(bytes(prev) || tokens as u32le), for any block size. */
static kv_key chain_one(const kv_key *prev, const uint32_t *tok, size_t n)
{
    if (n <= ONESHOT_MAX_TOKENS) {
        uint8_t buf[16 + 4 * ONESHOT_MAX_TOKENS];
        key_bytes(prev, buf);
        if (host_is_le()) {
            memcpy(buf + 16, tok, 4 * n);
        } else {
            for (size_t i = 0; i < n; i++)
                put_le32(buf + 16 + 4 * i, tok[i]);
        }
        return from_xxh(XXH3_128bits(buf, 16 + 4 * n));
    }
    /* Streaming: reset/update only fail on a NULL state, which cannot
     * happen here, so their results carry no information. */
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    (void)XXH3_128bits_reset(&st);
    uint8_t kb[16];
    key_bytes(prev, kb);
    (void)XXH3_128bits_update(&st, kb, sizeof kb);
    if (host_is_le()) {
        (void)XXH3_128bits_update(&st, tok, 4 * n);
    } else {
        uint8_t tmp[4 * SWAP_CHUNK];
        for (size_t i = 0; i < n; i += SWAP_CHUNK) {
            size_t m = n - i < SWAP_CHUNK ? n - i : SWAP_CHUNK;
            for (size_t j = 0; j < m; j++)
                put_le32(tmp + 4 * j, tok[i + j]);
            (void)XXH3_128bits_update(&st, tmp, 4 * m);
        }
    }
    return from_xxh(XXH3_128bits_digest(&st));
}

size_t kv_key_chain(const kv_key *root, const uint32_t *tokens, size_t ntok, size_t block_ntokens,
                    kv_key *keys_out, size_t max)
{
    if (!root || block_ntokens == 0 || (!tokens && ntok) || (!keys_out && max)) return 0;
    size_t n = ntok / block_ntokens;
    if (n > max) n = max;
    kv_key prev = *root;
    for (size_t i = 0; i < n; i++) {
        prev = chain_one(&prev, tokens + i * block_ntokens, block_ntokens);
        keys_out[i] = prev;
    }
    return n;
}

void kv_key_hex(kv_key k, char out[KV_KEY_HEX_LEN + 1])
{
    static const char dig[] = "0123456789abcdef";
    uint8_t b[16];
    key_bytes(&k, b);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = dig[b[i] >> 4];
        out[2 * i + 1] = dig[b[i] & 15];
    }
    out[KV_KEY_HEX_LEN] = '\0';
}

void kv_key_iter_init(kv_key_iter *it, const kv_key *root, const uint32_t *tokens, size_t ntok,
                      size_t block_ntokens, size_t max_blocks)
{
    it->prev = *root;
    it->tok = tokens;
    it->bt = block_ntokens;
    size_t nb = block_ntokens ? ntok / block_ntokens : 0;
    it->left = nb < max_blocks ? nb : max_blocks;
}

size_t kv_key_iter_next(kv_key_iter *it, kv_key *out, size_t max)
{
    size_t k = it->left < max ? it->left : max;
    if (k == 0) return 0;
    k = kv_key_chain(&it->prev, it->tok, k * it->bt, it->bt, out, k);
    it->prev = out[k - 1];
    it->tok += k * it->bt;
    it->left -= k;
    return k;
}
