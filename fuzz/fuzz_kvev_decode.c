/* fuzz_kvev_decode: bx_kvev_decode on arbitrary bytes, under tight and
 * default limits. Whatever decodes must survive a round trip: re-encoded in
 * every encoding combination it decodes to the same batch. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_kvev.h"

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int event_eq(const bx_kvev_event *a, const bx_kvev_event *b)
{
    if (a->type != b->type) return 0;
    if (a->type == BX_KVEV_ALL_CLEARED) return 1;
    if (a->n_hashes != b->n_hashes || !str_eq(a->medium, b->medium) ||
        a->has_group_idx != b->has_group_idx || (a->has_group_idx && a->group_idx != b->group_idx))
        return 0;
    for (size_t i = 0; i < a->n_hashes; i++)
        if (a->block_hashes[i] != b->block_hashes[i]) return 0;
    if (a->type == BX_KVEV_BLOCK_REMOVED) return 1;
    if (a->has_parent != b->has_parent ||
        (a->has_parent && a->parent_block_hash != b->parent_block_hash))
        return 0;
    if (a->n_tokens != b->n_tokens || a->block_size != b->block_size ||
        a->has_lora_id != b->has_lora_id || (a->has_lora_id && a->lora_id != b->lora_id) ||
        !str_eq(a->lora_name, b->lora_name))
        return 0;
    for (size_t i = 0; i < a->n_tokens; i++)
        if (a->token_ids[i] != b->token_ids[i]) return 0;
    return 1;
}

static void roundtrip(const bx_kvev_batch *in)
{
    for (int combo = 0; combo < 8; combo++) {
        bx_kvev_enc_opts o = {.event_enc = combo & 1 ? BX_KVEV_EVENT_MAP : BX_KVEV_EVENT_ARRAY,
                              .batch_enc = combo & 2 ? BX_KVEV_BATCH_MAP : BX_KVEV_BATCH_ARRAY,
                              .hash_enc = combo & 4 ? BX_KVEV_HASH_BYTES : BX_KVEV_HASH_UINT64};
        bx_buf b;
        bx_buf_init(&b);
        if (bx_kvev_encode_batch(&b, in, &o) != 0) abort();
        bx_kvev_batch out;
        if (bx_kvev_decode(b.data, b.len, NULL, &out, NULL) != 0) abort();
        if (out.ts != in->ts || out.n_events != in->n_events ||
            out.has_dp_rank != in->has_dp_rank ||
            (in->has_dp_rank && out.data_parallel_rank != in->data_parallel_rank))
            abort();
        for (size_t i = 0; i < in->n_events; i++)
            if (!event_eq(&in->events[i], &out.events[i])) abort();
        bx_kvev_batch_free(&out);
        bx_buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bx_kvev_limits tight;
    bx_kvev_limits_default(&tight);
    tight.max_events = 8;
    tight.max_hashes = 8;
    tight.max_tokens = 64;
    tight.max_str = 16;
    tight.skip_unknown = size & 1;
    bx_kvev_batch b;
    bx_kvev_err err;
    if (bx_kvev_decode((const char *)data, size, &tight, &b, &err) == 0) {
        roundtrip(&b);
        bx_kvev_batch_free(&b);
    }
    if (bx_kvev_decode((const char *)data, size, NULL, &b, &err) == 0) {
        /* The default limits (64 MiB) allow more than the fuzzer feeds. */
        if (size <= 4096) roundtrip(&b);
        bx_kvev_batch_free(&b);
    }
    return 0;
}
