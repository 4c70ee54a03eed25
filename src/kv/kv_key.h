/* kv_key: 128-bit chained block keys for libbrixkv.
 *
 * A namespace root is XXH3-128 over an unambiguous encoding of everything
 * that makes two caches' bytes incompatible: model, revision, adapter,
 * dtype, layout signature ("lcnd16") and TP/PP shard ("h0_7_l0_31").
 * AIBrix leaves the model out of its L2 keys (spec 9.1); brix does not.
 *
 *   root = XXH3_128("brixkv-ns1" || for each field: u32le(len) || bytes)
 *   H_0  = root,  H_i = XXH3_128(bytes(H_{i-1}) || u32le tokens of block i)
 *
 * bytes(H) is xxhash's canonical form: hi then lo, each big-endian, which is
 * also the order kv_key_hex prints. Only full blocks are keyed. Pure: no
 * allocation, no state; every function is safe from any thread. Callers own
 * all buffers passed in and out. */
#ifndef KV_KEY_H
#define KV_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_key {
    uint64_t hi;
    uint64_t lo;
} kv_key;

#define KV_KEY_HEX_LEN 32 /* kv_key_hex writes this many chars plus a NUL */

/* The namespace root. model must be non-empty; the other fields may be NULL,
 * which hashes the same as "". 0, or -EINVAL (NULL/empty model, NULL out, or
 * a field of 4 GiB or more). */
int kv_key_ns_root(const char *model, const char *revision, const char *adapter, const char *dtype,
                   const char *layout_sig, const char *shard, kv_key *out);

/* Keys of the leading full blocks of tokens[0..ntok), chained from root:
 * writes min(ntok / block_ntokens, max) keys and returns that count (0 when
 * block_ntokens is 0). A trailing partial block is not keyed. Passing a
 * block's key as root and the tokens after it continues the same chain. */
size_t kv_key_chain(const kv_key *root, const uint32_t *tokens, size_t ntok, size_t block_ntokens,
                    kv_key *keys_out, size_t max);

/* The same chain handed out lazily, up to max keys a call, so a caller
 * that stops early (a lookup's first miss) never hashes the rest. */
typedef struct kv_key_iter {
    kv_key prev; /* the last key handed out (the root at first) */
    const uint32_t *tok;
    size_t left; /* full blocks not yet keyed */
    size_t bt;
} kv_key_iter;
/* Keys for the first min(ntok / block_ntokens, max_blocks) full blocks. */
void kv_key_iter_init(kv_key_iter *it, const kv_key *root, const uint32_t *tokens, size_t ntok,
                      size_t block_ntokens, size_t max_blocks);
/* The next (at most max) keys into out; their count, 0 at the end. */
size_t kv_key_iter_next(kv_key_iter *it, kv_key *out, size_t max);

static inline bool kv_key_eq(kv_key a, kv_key b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

/* A 64-bit digest for hash tables (the key is already uniform). */
static inline uint64_t kv_key_hash64(kv_key k)
{
    return k.hi ^ k.lo;
}

/* 32 lowercase hex chars (hi then lo, most significant first) and a NUL. */
void kv_key_hex(kv_key k, char out[KV_KEY_HEX_LEN + 1]);

#endif
