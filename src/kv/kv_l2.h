/* kv_l2: what libbrixkv's L2 tier needs apart from any store: the value
 * format written to the store, node address lists, and the consistent-hash
 * ring that places a block key on one node.
 *
 * Value = 40-byte header + payload. Header, little-endian:
 *   u32 magic "BXKV" | u16 version (1) | u16 flags (0) | u64 payload length |
 *   u64 XXH3-64 of the payload | u64 key.hi | u64 key.lo
 * A read is accepted only if every field matches what the reader expects
 * (magic, version, flags, the block length, the checksum and the key it
 * asked for); anything else is corrupt and reads as a miss (spec 9.2).
 *
 * Ring: KV_L2_VNODES points per node at XXH3-64("host:port#i"), sorted; a
 * key goes to the first point at or after XXH3-64(key bytes), wrapping.
 * Adding a node moves only the keys that land on its points (~1/N).
 *
 * Pure functions over caller buffers, except kv_l2_ring_build (allocates
 * the ring, freed by kv_l2_ring_free). Thread-safe for concurrent readers. */
#ifndef KV_L2_H
#define KV_L2_H

#include <stddef.h>
#include <stdint.h>

#include "brix/brixkv.h"
#include "kv/kv_key.h"

#define KV_L2_MAGIC 0x564b5842u /* "BXKV" read as little-endian bytes */
#define KV_L2_VERSION 1
#define KV_L2_HDR_BYTES 40
#define KV_L2_MAX_PAYLOAD ((uint64_t)1 << 31) /* a block of 2 GiB or more is refused */

#define KV_L2_MAX_NODES 64
#define KV_L2_HOST_MAX 255
#define KV_L2_VNODES 160

/* Writes the header for payload[0..len) stored under key. */
void kv_l2_hdr_encode(uint8_t hdr[KV_L2_HDR_BYTES], const kv_key *key, const void *payload,
                      size_t len);

/* The same for a payload given as pieces v[0..nv) (lengths summing to len),
 * checksummed in one streaming pass without gathering them. */
void kv_l2_hdr_encode_iov(uint8_t hdr[KV_L2_HDR_BYTES], const kv_key *key, const brixkv_iov *v,
                          size_t nv, size_t len);

/* Checks a value read from the store against the key asked for and the
 * block length expected. 0 and *payload pointing into v, or -EBADMSG. */
int kv_l2_value_verify(const uint8_t *v, size_t vlen, const kv_key *key, size_t expect_len,
                       const uint8_t **payload);

/* kv_l2_value_verify, and the payload copied into the pieces dst[0..nv)
 * (lengths summing to expect_len) in the same pass: checksummed and copied
 * 64 KiB at a time, so each piece is read from memory once. 0, or -EBADMSG
 * (dst may have been written). */
int kv_l2_value_copy_out(const uint8_t *v, size_t vlen, const kv_key *key, size_t expect_len,
                         const brixkv_iov *dst, size_t nv);

typedef struct kv_l2_addr {
    char host[KV_L2_HOST_MAX + 1];
    int port;
} kv_l2_addr;

/* Parses "host:port[,host:port...]" ("[v6]:port" allowed, spaces around
 * commas ignored) into out[0..max). Returns the count (>= 1) or -EINVAL
 * with a message naming the bad entry. */
int kv_l2_addrs_parse(const char *s, kv_l2_addr *out, size_t max, char *err, size_t errlen);

typedef struct kv_l2_ring_point {
    uint64_t hash;
    uint32_t node;
} kv_l2_ring_point;

typedef struct kv_l2_ring {
    kv_l2_ring_point *pts; /* sorted by hash */
    size_t npts;
    unsigned nnodes;
} kv_l2_ring;

/* Builds the ring for nodes addrs[0..n) (n >= 1). 0 or -ENOMEM/-EINVAL. */
int kv_l2_ring_build(kv_l2_ring *r, const kv_l2_addr *addrs, unsigned n);
void kv_l2_ring_free(kv_l2_ring *r);
/* The node index that holds key. */
unsigned kv_l2_ring_node(const kv_l2_ring *r, const kv_key *key);

#endif
