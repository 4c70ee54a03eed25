/* fuzz_gw_kvindex: the exact prefix index fed an arbitrary sequence of
 * stream events as the subscriber would (gw_kvsub.c): follow / unfollow,
 * live batches, replay begin / batches / end, ticks, routing decisions
 * through the overlay, with payloads decoded by bx_kvev from the input.
 * After every step the tables' invariants hold (gw_kvindex_check), the
 * memory stays within the bound, and matches never exceed the chain.
 *
 * Input: records [op, engine, seq(1 byte, scaled), len, payload[len]]. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_kvev.h"
#include "gateway/gw_kvindex.h"

#define FZ_MAX_BYTES (300u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_kvindex *ix = gw_kvindex_create(FZ_MAX_BYTES, 2000);
    gw_prefix *approx = gw_prefix_create(64 * 1024);
    if (!ix || !approx) abort();
    gw_kvindex_attach(ix, approx);
    bx_kvev_limits lim;
    bx_kvev_limits_default(&lim);
    lim.max_bytes = 4096;
    lim.max_hashes = 256;
    uint64_t now = 1;
    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t op = data[i] % 9, e = data[i + 1] % 4;
        uint64_t seq = data[i + 2];
        size_t len = data[i + 3];
        i += 4;
        if (len > size - i) len = size - i;
        const char *pl = (const char *)data + i;
        i += len;
        bx_kvev_batch b;
        memset(&b, 0, sizeof(b));
        int ok = 0;
        if (op == 2 || op == 4) ok = bx_kvev_decode(pl, len, &lim, &b, NULL) == BX_KVEV_OK;
        uint64_t from = 0;
        switch (op) {
        case 0:
            gw_kvindex_follow(ix, e);
            break;
        case 1:
            gw_kvindex_unfollow(ix, e);
            break;
        case 2:
            if (gw_kvindex_on_batch(ix, e, seq, ok ? &b : NULL, &from) == GW_KVIX_REPLAY &&
                from > seq)
                abort(); /* a replay starts at or before the batch that showed the gap */
            break;
        case 3:
            gw_kvindex_replay_begin(ix, e, seq);
            break;
        case 4:
            gw_kvindex_on_replay(ix, e, seq, ok ? &b : NULL);
            break;
        case 5:
            gw_kvindex_replay_end(ix, e, seq & 1);
            break;
        case 6:
            now += seq * 20;
            gw_kvindex_tick(ix, now);
            break;
        case 7: {
            uint64_t keys[32];
            size_t n = len / 8 < 32 ? len / 8 : 32;
            for (size_t k = 0; k < n; k++)
                memcpy(&keys[k], pl + 8 * k, 8);
            gw_prefix_insert(approx, keys, n, e); /* a routing decision */
            int ids[4] = {0, 1, 2, 3};
            uint32_t out[4];
            gw_prefix_match_all(approx, keys, n, ids, 4, out);
            for (int k = 0; k < 4; k++)
                if (out[k] > n) abort();
            break;
        }
        default: {
            gw_kvconf c = gw_kvindex_conf(ix, e);
            if (c != GW_KVCONF_APPROX && !gw_kvindex_followed(ix, e)) abort();
            break;
        }
        }
        bx_kvev_batch_free(&b);
        if (gw_kvindex_check(ix) != 0) abort();
        if (gw_kvindex_mem_bytes(ix) > FZ_MAX_BYTES) abort();
    }
    gw_kvindex_destroy(ix);
    gw_prefix_destroy(approx);
    return 0;
}
