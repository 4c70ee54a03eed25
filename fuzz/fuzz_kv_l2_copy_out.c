/* fuzz_kv_l2_copy_out: kv_l2_value_copy_out (verify and copy in one pass)
 * on arbitrary bytes as read from a store, into a scatter list whose piece
 * lengths the input chooses. Differential against kv_l2_value_verify: both
 * accept or refuse the same values, and what is accepted lands in the
 * pieces byte for byte; a value built valid from the input's bytes is
 * copied out whole and refused when truncated. The first 16 bytes choose the key, the next 2 the
 * expected length, the next 1 the number of pieces (1..8); the rest is the
 * value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_l2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 19) return 0;
    kv_key key;
    memcpy(&key.hi, data, 8);
    memcpy(&key.lo, data + 8, 8);
    size_t expect = (size_t)data[16] | (size_t)data[17] << 8;
    size_t nv = (size_t)(data[18] % 8) + 1;
    const uint8_t *v = data + 19;
    size_t vlen = size - 19;
    uint8_t *dst = malloc(expect + 1);
    if (!dst) return 0;
    /* split expect bytes into nv pieces of roughly equal length (some may be empty) */
    brixkv_iov iov[8];
    size_t off = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t len = i + 1 == nv ? expect - off : expect / nv;
        iov[i].base = dst + off;
        iov[i].len = len;
        off += len;
    }
    const uint8_t *payload = NULL;
    int want = kv_l2_value_verify(v, vlen, &key, expect, &payload);
    int got = kv_l2_value_copy_out(v, vlen, &key, expect, iov, nv);
    if ((want == 0) != (got == 0)) abort();
    if (got == 0 && expect && memcmp(dst, payload, expect) != 0) abort();
    free(dst);
    /* a value valid by construction (the input's bytes as payload) must be
     * copied out whole into pieces split the same way */
    uint8_t *w = malloc(KV_L2_HDR_BYTES + vlen);
    uint8_t *out = malloc(vlen + 1);
    if (w && out) {
        memcpy(w + KV_L2_HDR_BYTES, v, vlen);
        kv_l2_hdr_encode(w, &key, w + KV_L2_HDR_BYTES, vlen);
        off = 0;
        for (size_t i = 0; i < nv; i++) {
            size_t len = i + 1 == nv ? vlen - off : vlen / nv;
            iov[i].base = out + off;
            iov[i].len = len;
            off += len;
        }
        if (kv_l2_value_copy_out(w, KV_L2_HDR_BYTES + vlen, &key, vlen, iov, nv) != 0) abort();
        if (vlen && memcmp(out, v, vlen) != 0) abort();
        if (vlen && kv_l2_value_copy_out(w, KV_L2_HDR_BYTES + vlen - 1, &key, vlen, iov, nv) == 0)
            abort(); /* truncated */
    }
    free(w);
    free(out);
    return 0;
}
