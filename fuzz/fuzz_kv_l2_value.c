/* fuzz_kv_l2_value: kv_l2_value_verify on arbitrary bytes as read from a
 * store. The first 16 bytes choose the key asked for and the next 2 the
 * expected payload length; the rest is the value. Whatever verifies must
 * point inside the value, re-encode to the same header, and stop verifying
 * when any header byte is changed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_l2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 18) return 0;
    kv_key key;
    memcpy(&key.hi, data, 8);
    memcpy(&key.lo, data + 8, 8);
    size_t expect = (size_t)data[16] | (size_t)data[17] << 8;
    const uint8_t *v = data + 18;
    size_t vlen = size - 18;
    const uint8_t *payload = NULL;
    if (kv_l2_value_verify(v, vlen, &key, expect, &payload) != 0) {
        /* make it valid by construction and check it then verifies */
        uint8_t *w = malloc(KV_L2_HDR_BYTES + vlen);
        if (!w) return 0;
        memcpy(w + KV_L2_HDR_BYTES, v, vlen);
        kv_l2_hdr_encode(w, &key, w + KV_L2_HDR_BYTES, vlen);
        if (kv_l2_value_verify(w, KV_L2_HDR_BYTES + vlen, &key, vlen, &payload) != 0 ||
            payload != w + KV_L2_HDR_BYTES)
            abort();
        free(w);
        return 0;
    }
    if (payload != v + KV_L2_HDR_BYTES || vlen != KV_L2_HDR_BYTES + expect) abort();
    uint8_t hdr[KV_L2_HDR_BYTES];
    kv_l2_hdr_encode(hdr, &key, payload, expect);
    if (memcmp(hdr, v, KV_L2_HDR_BYTES) != 0) abort();
    uint8_t *w = malloc(vlen);
    if (!w) return 0;
    memcpy(w, v, vlen);
    for (size_t i = 0; i < KV_L2_HDR_BYTES; i++) {
        w[i] ^= 0x01;
        if (kv_l2_value_verify(w, vlen, &key, expect, &payload) == 0) abort();
        w[i] ^= 0x01;
    }
    free(w);
    return 0;
}
