/* bx_blockhash: vLLM's chained prefix-cache block hashes, in its
 * `sha256_cbor` and `xxhash_cbor` modes (--prefix-caching-hash-algo),
 * shared by the engine and the gateway.
 *
 *   NONE_HASH = H(CBOR(seed_string))
 *   hash_i    = H(CBOR([parent_digest(bytes), [token ids...], extra]))
 * with H = SHA-256 (32-byte digests) or XXH3-128 (16 bytes, in xxhash's
 * canonical big-endian byte order, as Python's xxh3_128_digest returns).
 * where extra is CBOR null, or [lora_name] for a LoRA request. Only full
 * blocks are hashed. The 64-bit key used on the wire (KV events) and in
 * indexes is the digest's last 8 bytes read big-endian, as vLLM's
 * int.from_bytes(digest, "big") & (2**64 - 1).
 *
 * The seed is PYTHONHASHSEED's value in vLLM; brix defaults it to "0" so
 * that every process agrees without configuration. Pure; no allocation. */
#ifndef BX_BLOCKHASH_H
#define BX_BLOCKHASH_H

#include <stddef.h>
#include <stdint.h>

#define BX_BLOCKHASH_LEN 32

typedef enum bx_blockhash_algo {
    BX_BLOCKHASH_SHA256_CBOR = 0, /* the default; zeroed digests are this */
    BX_BLOCKHASH_XXHASH_CBOR = 1, /* about 20x cheaper per block */
} bx_blockhash_algo;

typedef struct bx_blockhash {
    uint8_t d[BX_BLOCKHASH_LEN]; /* the first bx_blockhash_len() bytes are used */
    uint8_t algo;                /* bx_blockhash_algo; a chain keeps its root's */
} bx_blockhash;

/* "sha256_cbor" or "xxhash_cbor" (vLLM's names). 0, or -1 when unknown. */
int bx_blockhash_algo_parse(const char *name, bx_blockhash_algo *out);
const char *bx_blockhash_algo_name(bx_blockhash_algo a);
/* Digest bytes of h's algorithm (32 or 16). */
size_t bx_blockhash_len(const bx_blockhash *h);

/* The SHA-256 chain root for a seed string. */
void bx_blockhash_root(const char *seed, bx_blockhash *out);
/* The same for any algorithm. */
void bx_blockhash_root_algo(bx_blockhash_algo algo, const char *seed, bx_blockhash *out);
/* Hash of one full block given its parent's digest (whose algorithm it
 * uses). extra_name may be NULL
 * (no extra keys) or a LoRA name. Returns 0, or -1 if the block is too big
 * to encode (over 256 tokens, or a name over 256 bytes). */
int bx_blockhash_block(const bx_blockhash *parent, const uint32_t *tokens, size_t ntok,
                       const char *extra_name, bx_blockhash *out);
/* Low 64 bits (last 8 bytes, big-endian) of a digest. */
uint64_t bx_blockhash_u64(const bx_blockhash *h);
/* Hashes the chain of the first nblocks full blocks of tokens (block_size
 * each) into keys[] (uint64) and, if digests is non-NULL, digests[].
 * Returns the number of blocks hashed (min(nblocks, ntok / block_size)). */
size_t bx_blockhash_chain(const bx_blockhash *root, const uint32_t *tokens, size_t ntok,
                          size_t block_size, const char *extra_name, size_t nblocks, uint64_t *keys,
                          bx_blockhash *digests);

#endif
