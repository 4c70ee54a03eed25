/* bx_blockhash: vLLM's chained prefix-cache block hashes, in its
 * `sha256_cbor` mode, shared by the engine and the gateway.
 *
 *   NONE_HASH = SHA-256(CBOR(seed_string))
 *   hash_i    = SHA-256(CBOR([parent_digest(bytes 32), [token ids...], extra]))
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

typedef struct bx_blockhash {
    uint8_t d[BX_BLOCKHASH_LEN];
} bx_blockhash;

/* The chain root for a seed string. */
void bx_blockhash_root(const char *seed, bx_blockhash *out);
/* Hash of one full block given its parent's digest. extra_name may be NULL
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
