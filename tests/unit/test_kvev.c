/* test_kvev: the KV event msgpack codec. Round trips in every encoding
 * combination, golden bytes for vLLM's legacy array layout, tolerance of
 * older/newer vLLM field counts, and rejection of malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <msgpack.h>

#include "common/bx_kvev.h"

/* ------------------------------------------------------------- helpers */

static int buf_write(void *data, const char *buf, size_t len)
{
    return bx_buf_append(data, buf, len);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    assert_int_equal(msgpack_pack_str(pk, strlen(s)), 0);
    assert_int_equal(msgpack_pack_str_body(pk, s, strlen(s)), 0);
}

static int decode_buf(const bx_buf *b, const bx_kvev_limits *l, bx_kvev_batch *out,
                      bx_kvev_err *err)
{
    return bx_kvev_decode(b->data, b->len, l, out, err);
}

static void assert_event_eq(const bx_kvev_event *a, const bx_kvev_event *b)
{
    assert_int_equal(a->type, b->type);
    if (a->type == BX_KVEV_ALL_CLEARED) return;
    assert_int_equal(a->n_hashes, b->n_hashes);
    for (size_t i = 0; i < a->n_hashes; i++)
        assert_true(a->block_hashes[i] == b->block_hashes[i]);
    if (a->medium) {
        assert_non_null(b->medium);
        assert_string_equal(a->medium, b->medium);
    } else {
        assert_null(b->medium);
    }
    assert_int_equal(a->has_group_idx, b->has_group_idx);
    if (a->has_group_idx) assert_int_equal(a->group_idx, b->group_idx);
    if (a->type != BX_KVEV_BLOCK_STORED) return;
    assert_int_equal(a->has_parent, b->has_parent);
    if (a->has_parent) assert_true(a->parent_block_hash == b->parent_block_hash);
    assert_int_equal(a->n_tokens, b->n_tokens);
    for (size_t i = 0; i < a->n_tokens; i++)
        assert_int_equal(a->token_ids[i], b->token_ids[i]);
    assert_int_equal(a->block_size, b->block_size);
    assert_int_equal(a->has_lora_id, b->has_lora_id);
    if (a->has_lora_id) assert_int_equal(a->lora_id, b->lora_id);
    if (a->lora_name) {
        assert_non_null(b->lora_name);
        assert_string_equal(a->lora_name, b->lora_name);
    } else {
        assert_null(b->lora_name);
    }
}

static void assert_batch_eq(const bx_kvev_batch *a, const bx_kvev_batch *b)
{
    assert_true(a->ts == b->ts);
    assert_int_equal(a->has_dp_rank, b->has_dp_rank);
    if (a->has_dp_rank) assert_int_equal(a->data_parallel_rank, b->data_parallel_rank);
    assert_int_equal(a->n_events, b->n_events);
    for (size_t i = 0; i < a->n_events; i++)
        assert_event_eq(&a->events[i], &b->events[i]);
}

/* A batch with every kind of event and every optional field both set and
 * unset, including hash values that need each msgpack integer width. */
static uint64_t h_a[] = {
    0, 127, 128, 0xffff, 0x10000, 0xffffffffull, 0x100000000ull, 0xffffffffffffffffull};
static uint32_t t_a[] = {0, 1, 127, 128, 65535, 65536, 4294967295u, 42};
static uint64_t h_b[] = {0x8000000000000000ull};
static uint32_t t_b[] = {1, 2, 3, 4};
static uint64_t h_c[] = {5, 6};

static void sample_batch(bx_kvev_batch *b, bx_kvev_event *ev, bool dp)
{
    memset(ev, 0, 5 * sizeof(*ev));
    ev[0] = (bx_kvev_event){.type = BX_KVEV_BLOCK_STORED,
                            .block_hashes = h_a,
                            .n_hashes = 8,
                            .token_ids = t_a,
                            .n_tokens = 8,
                            .block_size = 1,
                            .medium = "GPU"};
    ev[1] = (bx_kvev_event){.type = BX_KVEV_BLOCK_STORED,
                            .block_hashes = h_b,
                            .n_hashes = 1,
                            .has_parent = true,
                            .parent_block_hash = 0xdeadbeefcafef00dull,
                            .token_ids = t_b,
                            .n_tokens = 4,
                            .block_size = 4,
                            .has_lora_id = true,
                            .lora_id = 3,
                            .medium = "GPU",
                            .lora_name = "sql-lora",
                            .has_group_idx = true,
                            .group_idx = 1};
    ev[2] = (bx_kvev_event){
        .type = BX_KVEV_BLOCK_REMOVED, .block_hashes = h_c, .n_hashes = 2, .medium = "GPU"};
    ev[3] = (bx_kvev_event){.type = BX_KVEV_BLOCK_REMOVED,
                            .block_hashes = h_c,
                            .n_hashes = 1,
                            .has_group_idx = true,
                            .group_idx = 0};
    ev[4] = (bx_kvev_event){.type = BX_KVEV_ALL_CLEARED};
    *b = (bx_kvev_batch){.ts = 1718000000.125,
                         .events = ev,
                         .n_events = 5,
                         .has_dp_rank = dp,
                         .data_parallel_rank = dp ? 2 : 0};
}

/* ------------------------------------------------------------- round trips */

static void test_roundtrip_all_encodings(void **state)
{
    (void)state;
    for (int combo = 0; combo < 16; combo++) {
        bx_kvev_enc_opts o = {.event_enc = combo & 1 ? BX_KVEV_EVENT_MAP : BX_KVEV_EVENT_ARRAY,
                              .batch_enc = combo & 2 ? BX_KVEV_BATCH_MAP : BX_KVEV_BATCH_ARRAY,
                              .hash_enc = combo & 4 ? BX_KVEV_HASH_BYTES : BX_KVEV_HASH_UINT64};
        bool dp = combo & 8;
        bx_kvev_event ev[5];
        bx_kvev_batch in, out;
        sample_batch(&in, ev, dp);
        bx_buf b;
        bx_buf_init(&b);
        assert_int_equal(bx_kvev_encode_batch(&b, &in, &o), 0);
        /* Outer shape: fixarray/fixmap of 2 or 3. */
        unsigned char first = (unsigned char)b.data[0];
        assert_int_equal(first, (o.batch_enc == BX_KVEV_BATCH_MAP ? 0x80 : 0x90) | (dp ? 3 : 2));
        bx_kvev_err err;
        int rc = decode_buf(&b, NULL, &out, &err);
        assert_int_equal(rc, 0);
        assert_true(out.owned_);
        assert_batch_eq(&in, &out);
        bx_kvev_batch_free(&out);
        assert_null(out.events);

        /* The raw API (pre-encoded events) produces identical bytes. */
        bx_buf evs, b2;
        bx_buf_init(&evs);
        bx_buf_init(&b2);
        for (size_t i = 0; i < in.n_events; i++)
            assert_int_equal(bx_kvev_encode_event(&evs, &ev[i], &o), 0);
        assert_int_equal(
            bx_kvev_encode_batch_raw(&b2, in.ts, evs.data, evs.len, in.n_events, dp ? 2 : -1, &o),
            0);
        assert_int_equal(b.len, b2.len);
        assert_memory_equal(b.data, b2.data, b.len);
        bx_buf_free(&evs);
        bx_buf_free(&b2);
        bx_buf_free(&b);
    }
}

static void test_empty_batch_roundtrip(void **state)
{
    (void)state;
    bx_kvev_batch in = {.ts = 0.5}, out;
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_kvev_encode_batch(&b, &in, NULL), 0);
    /* [0.5, []] */
    const unsigned char want[] = {0x92, 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0x90};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(decode_buf(&b, NULL, &out, NULL), 0);
    assert_int_equal(out.n_events, 0);
    assert_false(out.has_dp_rank);
    bx_kvev_batch_free(&out);
    bx_buf_free(&b);
}

/* --------------------------------------------------------------- golden */

/* KVEventBatch(ts=1.5, events=[
 *     BlockStored(block_hashes=[1, 2], parent_block_hash=200, token_ids=[10, 11, 12, 13],
 *                 block_size=2, lora_id=None, medium="GPU", lora_name=None),
 *     BlockRemoved(block_hashes=[300, 2**64-1], medium="GPU"),
 *     AllBlocksCleared()], data_parallel_rank=0)
 * as msgspec encodes it with array_like=True, omit_defaults=True, tag=True:
 * the tag (class name) is element 0 of each event array; fields with no
 * default (parent, lora_id, medium, lora_name) are always written, nil when
 * None; defaulted trailing fields (extra_keys, group_idx, ...) are omitted.
 * data_parallel_rank=0 differs from its default None, so it is written. */
/* clang-format off */
static const unsigned char golden[] = {
    0x93,                                           /* batch: fixarray(3) */
    0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,             /* ts: float64 1.5 */
    0x93,                                           /* events: fixarray(3) */
    0x98,                                           /* BlockStored: fixarray(8) */
    0xab, 'B', 'l', 'o', 'c', 'k', 'S', 't', 'o', 'r', 'e', 'd', /* fixstr(11) */
    0x92, 0x01, 0x02,                               /* block_hashes [1, 2] */
    0xcc, 0xc8,                                     /* parent 200: uint8 */
    0x94, 0x0a, 0x0b, 0x0c, 0x0d,                   /* token_ids */
    0x02,                                           /* block_size */
    0xc0,                                           /* lora_id nil */
    0xa3, 'G', 'P', 'U',                            /* medium */
    0xc0,                                           /* lora_name nil */
    0x93,                                           /* BlockRemoved: fixarray(3) */
    0xac, 'B', 'l', 'o', 'c', 'k', 'R', 'e', 'm', 'o', 'v', 'e', 'd', /* fixstr(12) */
    0x92, 0xcd, 0x01, 0x2c,                         /* [300: uint16, */
    0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 2^64-1: uint64] */
    0xa3, 'G', 'P', 'U',                            /* medium */
    0x91,                                           /* AllBlocksCleared: fixarray(1) */
    0xb0, 'A', 'l', 'l', 'B', 'l', 'o', 'c', 'k', 's', 'C', 'l', 'e', 'a', 'r', 'e', 'd',
    0x00, /* data_parallel_rank 0: positive fixint */
};
/* clang-format on */

static uint64_t g_h1[] = {1, 2}, g_h2[] = {300, 0xffffffffffffffffull};
static uint32_t g_t1[] = {10, 11, 12, 13};

static void golden_batch(bx_kvev_batch *b, bx_kvev_event *ev)
{
    ev[0] = (bx_kvev_event){.type = BX_KVEV_BLOCK_STORED,
                            .block_hashes = g_h1,
                            .n_hashes = 2,
                            .has_parent = true,
                            .parent_block_hash = 200,
                            .token_ids = g_t1,
                            .n_tokens = 4,
                            .block_size = 2,
                            .medium = "GPU"};
    ev[1] = (bx_kvev_event){
        .type = BX_KVEV_BLOCK_REMOVED, .block_hashes = g_h2, .n_hashes = 2, .medium = "GPU"};
    ev[2] = (bx_kvev_event){.type = BX_KVEV_ALL_CLEARED};
    *b = (bx_kvev_batch){.ts = 1.5, .events = ev, .n_events = 3, .has_dp_rank = true};
}

static void test_golden_legacy_array(void **state)
{
    (void)state;
    bx_kvev_event ev[3];
    bx_kvev_batch in, out;
    golden_batch(&in, ev);
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_kvev_encode_batch(&b, &in, NULL), 0);
    assert_int_equal(b.len, sizeof(golden));
    assert_memory_equal(b.data, golden, sizeof(golden));
    bx_buf_free(&b);

    assert_int_equal(bx_kvev_decode((const char *)golden, sizeof(golden), NULL, &out, NULL), 0);
    assert_batch_eq(&in, &out);
    bx_kvev_batch_free(&out);
}

/* Map forms: {"type": "AllBlocksCleared"} and the batch map keys. */
static void test_golden_map_small(void **state)
{
    (void)state;
    bx_kvev_event ev = {.type = BX_KVEV_ALL_CLEARED};
    bx_kvev_batch in = {.ts = 1.5, .events = &ev, .n_events = 1};
    bx_kvev_enc_opts o = {.event_enc = BX_KVEV_EVENT_MAP, .batch_enc = BX_KVEV_BATCH_MAP};
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_kvev_encode_batch(&b, &in, &o), 0);
    /* clang-format off */
    const unsigned char want[] = {
        0x82,                                           /* {2 keys} */
        0xa2, 't', 's', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, /* "ts": 1.5 */
        0xa6, 'e', 'v', 'e', 'n', 't', 's', 0x91,       /* "events": [1] */
        0x81, 0xa4, 't', 'y', 'p', 'e',                 /* {"type": */
        0xb0, 'A', 'l', 'l', 'B', 'l', 'o', 'c', 'k', 's', 'C', 'l', 'e', 'a', 'r', 'e', 'd',
    };
    /* clang-format on */
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    bx_buf_free(&b);
}

/* Bytes hashes: 32-byte bin, the uint64 big-endian four times, so both the
 * last 8 bytes (vLLM's int rule) and the first 8 (AIBrix) give the value. */
static void test_hash_bytes_layout(void **state)
{
    (void)state;
    uint64_t h = 0x0102030405060708ull;
    bx_kvev_event ev = {
        .type = BX_KVEV_BLOCK_REMOVED, .block_hashes = &h, .n_hashes = 1, .medium = NULL};
    bx_kvev_enc_opts o = {.hash_enc = BX_KVEV_HASH_BYTES};
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_kvev_encode_event(&b, &ev, &o), 0);
    /* [ "BlockRemoved"(13 bytes), [bin8(32) ...], nil ] */
    assert_int_equal(b.len, 1 + 13 + 1 + 2 + 32 + 1);
    const unsigned char *p = (const unsigned char *)b.data + 15;
    assert_int_equal(p[0], 0xc4);
    assert_int_equal(p[1], 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(p[2 + i], (i % 8) + 1);
    assert_int_equal((unsigned char)b.data[b.len - 1], 0xc0);
    bx_buf_free(&b);
}

/* ----------------------------------------------- other producers' shapes */

static void test_decode_tolerant_shapes(void **state)
{
    (void)state;
    bx_buf b;
    bx_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_write);
    /* [7, [ older 7-field BlockStored (no lora_name), AIBrix-minimal 5-field one,
     *       newest 12-field one, 16-byte bin hash, BlockRemoved with group_idx ]] */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 7); /* int ts */
    msgpack_pack_array(&pk, 4);
    msgpack_pack_array(&pk, 7);
    pk_str(&pk, "BlockStored");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, 9);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_int(&pk, 4); /* lora_id */
    pk_str(&pk, "GPU");
    msgpack_pack_array(&pk, 5);
    pk_str(&pk, "BlockStored");
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int64(&pk, -5); /* parent as a negative int64 */
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int(&pk, 16);
    msgpack_pack_array(&pk, 12);
    pk_str(&pk, "BlockStored");
    msgpack_pack_array(&pk, 1);
    {
        unsigned char d[16];
        for (int i = 0; i < 16; i++)
            d[i] = (unsigned char)i;
        msgpack_pack_bin(&pk, 16); /* last 8 bytes: 08..0f */
        msgpack_pack_bin_body(&pk, d, 16);
    }
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int(&pk, 16);
    msgpack_pack_nil(&pk);
    pk_str(&pk, "GPU");
    pk_str(&pk, "adapter");
    msgpack_pack_array(&pk, 1); /* extra_keys: [["mm", 3]] */
    msgpack_pack_array(&pk, 2);
    pk_str(&pk, "mm");
    msgpack_pack_int(&pk, 3);
    msgpack_pack_int(&pk, 2); /* group_idx */
    pk_str(&pk, "full_attention");
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 4);
    pk_str(&pk, "BlockRemoved");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 9);
    msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 1);

    bx_kvev_batch out;
    bx_kvev_err err;
    int rc = decode_buf(&b, NULL, &out, &err);
    assert_int_equal(rc, 0);
    assert_true(out.ts == 7.0);
    assert_false(out.has_dp_rank);
    assert_int_equal(out.n_events, 4);
    assert_true(out.events[0].has_lora_id);
    assert_int_equal(out.events[0].lora_id, 4);
    assert_string_equal(out.events[0].medium, "GPU");
    assert_null(out.events[0].lora_name);
    assert_false(out.events[0].has_parent);
    assert_int_equal(out.events[0].n_tokens, 2);
    assert_true(out.events[1].has_parent);
    assert_true(out.events[1].parent_block_hash == (uint64_t)-5);
    assert_null(out.events[1].medium);
    assert_int_equal(out.events[1].block_size, 16);
    assert_true(out.events[2].block_hashes[0] == 0x08090a0b0c0d0e0full);
    assert_string_equal(out.events[2].lora_name, "adapter");
    assert_true(out.events[2].has_group_idx);
    assert_int_equal(out.events[2].group_idx, 2);
    assert_int_equal(out.events[3].type, BX_KVEV_BLOCK_REMOVED);
    assert_null(out.events[3].medium);
    assert_int_equal(out.events[3].group_idx, 1);
    bx_kvev_batch_free(&out);
    bx_buf_free(&b);
}

/* Map events with keys in any order and unknown keys ignored. */
static void test_decode_map_any_order(void **state)
{
    (void)state;
    bx_buf b;
    bx_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_write);
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "future_field");
    msgpack_pack_true(&pk);
    pk_str(&pk, "events");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 5);
    pk_str(&pk, "token_ids");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 77);
    pk_str(&pk, "block_size");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "extra_keys");
    msgpack_pack_nil(&pk);
    pk_str(&pk, "block_hashes");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 5);
    pk_str(&pk, "type");
    pk_str(&pk, "BlockStored");
    pk_str(&pk, "ts");
    msgpack_pack_double(&pk, 2.25);

    bx_kvev_batch out;
    assert_int_equal(decode_buf(&b, NULL, &out, NULL), 0);
    assert_true(out.ts == 2.25);
    assert_int_equal(out.n_events, 1);
    assert_int_equal(out.events[0].type, BX_KVEV_BLOCK_STORED);
    assert_int_equal(out.events[0].token_ids[0], 77);
    assert_true(out.events[0].block_hashes[0] == 5);
    assert_false(out.events[0].has_parent);
    bx_kvev_batch_free(&out);
    bx_buf_free(&b);
}

/* ------------------------------------------------------------ malformed */

static void expect_fail(const void *buf, size_t len, const bx_kvev_limits *l, int code)
{
    bx_kvev_batch out;
    bx_kvev_err err;
    memset(&out, 0x5a, sizeof(out));
    int rc = bx_kvev_decode(buf, len, l, &out, &err);
    assert_int_equal(rc, code);
    assert_true(err.msg[0] != '\0');
    assert_null(out.events);
    assert_int_equal(out.n_events, 0);
}

static void test_reject_bad_msgpack(void **state)
{
    (void)state;
    expect_fail("", 0, NULL, BX_KVEV_EMSGPACK);
    const unsigned char c1[] = {0xc1};
    expect_fail(c1, sizeof(c1), NULL, BX_KVEV_EMSGPACK);
    /* array32 of 2^32-1 elements in 5 bytes: rejected before any allocation */
    const unsigned char huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    expect_fail(huge, sizeof(huge), NULL, BX_KVEV_EMSGPACK);
    const unsigned char hugemap[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00};
    expect_fail(hugemap, sizeof(hugemap), NULL, BX_KVEV_EMSGPACK);
    const unsigned char hugestr[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    expect_fail(hugestr, sizeof(hugestr), NULL, BX_KVEV_EMSGPACK);
    /* nesting 64 deep */
    unsigned char deep[65];
    memset(deep, 0x91, 64);
    deep[64] = 0x00;
    expect_fail(deep, sizeof(deep), NULL, BX_KVEV_EMSGPACK);
    /* every strict prefix of a valid payload is truncated */
    for (size_t n = 0; n < sizeof(golden); n++)
        expect_fail(golden, n, NULL, BX_KVEV_EMSGPACK);
    /* a trailing byte */
    unsigned char extra[sizeof(golden) + 1];
    memcpy(extra, golden, sizeof(golden));
    extra[sizeof(golden)] = 0x00;
    expect_fail(extra, sizeof(extra), NULL, BX_KVEV_EMSGPACK);
}

/* Packs `[1.0, [<event>]]` where the event is written by fn. */
static void pack_one(bx_buf *b, void (*fn)(msgpack_packer *))
{
    bx_buf_reset(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_double(&pk, 1.0);
    msgpack_pack_array(&pk, 1);
    fn(&pk);
}

static void ev_unknown(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_str(pk, "BlockMoved");
    msgpack_pack_array(pk, 0);
}
static void ev_neg_token(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    pk_str(pk, "BlockStored");
    msgpack_pack_array(pk, 0);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, -1);
    msgpack_pack_int(pk, 16);
}
static void ev_big_token(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    pk_str(pk, "BlockStored");
    msgpack_pack_array(pk, 0);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, 1ull << 32);
    msgpack_pack_int(pk, 16);
}
static void ev_zero_bs(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    pk_str(pk, "BlockStored");
    msgpack_pack_array(pk, 0);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 0);
    msgpack_pack_int(pk, 0);
}
static void ev_short_stored(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    pk_str(pk, "BlockStored");
    msgpack_pack_array(pk, 0);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 0);
}
static void ev_str_hash(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "BlockRemoved");
    msgpack_pack_array(pk, 1);
    pk_str(pk, "abc");
    pk_str(pk, "GPU");
}
static void ev_bin_hash_too_long(msgpack_packer *pk)
{
    unsigned char d[65] = {0};
    msgpack_pack_array(pk, 2);
    pk_str(pk, "BlockRemoved");
    msgpack_pack_array(pk, 1);
    msgpack_pack_bin(pk, sizeof(d));
    msgpack_pack_bin_body(pk, d, sizeof(d));
}
static void ev_int_medium(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "BlockRemoved");
    msgpack_pack_array(pk, 0);
    msgpack_pack_int(pk, 1);
}
static void ev_nul_medium(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    pk_str(pk, "BlockRemoved");
    msgpack_pack_array(pk, 0);
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "G\0U", 3);
}
static void ev_dup_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pk_str(pk, "type");
    pk_str(pk, "BlockRemoved");
    pk_str(pk, "block_hashes");
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
    pk_str(pk, "block_hashes");
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 2);
}
static void ev_map_missing(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pk_str(pk, "type");
    pk_str(pk, "BlockStored");
    pk_str(pk, "block_hashes");
    msgpack_pack_array(pk, 0);
}
static void ev_map_no_type(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "block_hashes");
    msgpack_pack_array(pk, 0);
}
static void ev_scalar(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 3);
}
static void ev_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}

static void test_reject_bad_schema(void **state)
{
    (void)state;
    void (*bad[])(msgpack_packer *) = {
        ev_unknown,     ev_neg_token,         ev_big_token,  ev_zero_bs,    ev_short_stored,
        ev_str_hash,    ev_bin_hash_too_long, ev_int_medium, ev_nul_medium, ev_dup_key,
        ev_map_missing, ev_map_no_type,       ev_scalar,     ev_empty,
    };
    bx_buf b;
    bx_buf_init(&b);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pack_one(&b, bad[i]);
        expect_fail(b.data, b.len, NULL, BX_KVEV_ESCHEMA);
    }
    /* Wrong batch shapes. */
    const unsigned char not_batch[] = {0x05};
    expect_fail(not_batch, 1, NULL, BX_KVEV_ESCHEMA);
    const unsigned char one_elem[] = {0x91, 0x00};
    expect_fail(one_elem, 2, NULL, BX_KVEV_ESCHEMA);
    const unsigned char str_ts[] = {0x92, 0xa1, 'x', 0x90};
    expect_fail(str_ts, sizeof(str_ts), NULL, BX_KVEV_ESCHEMA);
    const unsigned char nan_ts[] = {0x92, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0x90};
    expect_fail(nan_ts, sizeof(nan_ts), NULL, BX_KVEV_ESCHEMA);
    const unsigned char events_map[] = {0x92, 0x00, 0x80};
    expect_fail(events_map, sizeof(events_map), NULL, BX_KVEV_ESCHEMA);
    const unsigned char str_dp[] = {0x93, 0x00, 0x90, 0xa1, 'x'};
    expect_fail(str_dp, sizeof(str_dp), NULL, BX_KVEV_ESCHEMA);
    const unsigned char map_no_ts[] = {0x81, 0xa6, 'e', 'v', 'e', 'n', 't', 's', 0x90};
    expect_fail(map_no_ts, sizeof(map_no_ts), NULL, BX_KVEV_ESCHEMA);

    /* An unknown tag is skipped, not fatal, when asked. */
    bx_kvev_limits l;
    bx_kvev_limits_default(&l);
    l.skip_unknown = true;
    pack_one(&b, ev_unknown);
    bx_kvev_batch out;
    assert_int_equal(decode_buf(&b, &l, &out, NULL), 0);
    assert_int_equal(out.n_events, 0);
    bx_kvev_batch_free(&out);
    bx_buf_free(&b);
}

static void test_limits(void **state)
{
    (void)state;
    bx_kvev_limits l;
    bx_kvev_limits_default(&l);
    bx_kvev_batch out;
    assert_int_equal(bx_kvev_decode((const char *)golden, sizeof(golden), &l, &out, NULL), 0);
    bx_kvev_batch_free(&out);

    l.max_events = 2; /* golden has 3 */
    expect_fail(golden, sizeof(golden), &l, BX_KVEV_ELIMIT);
    bx_kvev_limits_default(&l);
    l.max_hashes = 1; /* golden events have 2 hashes */
    expect_fail(golden, sizeof(golden), &l, BX_KVEV_ELIMIT);
    bx_kvev_limits_default(&l);
    l.max_tokens = 3; /* golden BlockStored has 4 tokens */
    expect_fail(golden, sizeof(golden), &l, BX_KVEV_ELIMIT);
    bx_kvev_limits_default(&l);
    l.max_str = 2; /* "GPU" */
    expect_fail(golden, sizeof(golden), &l, BX_KVEV_ELIMIT);
    bx_kvev_limits_default(&l);
    l.max_bytes = sizeof(golden) - 1;
    expect_fail(golden, sizeof(golden), &l, BX_KVEV_ELIMIT);
}

/* Every one-byte change of the golden payload decodes or fails cleanly
 * (run under ASan/UBSan in the sanitizer build). */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    unsigned char m[sizeof(golden)];
    const unsigned char vals[] = {0x00, 0x7f, 0x80, 0x9f, 0xc0, 0xc1, 0xc4,
                                  0xcf, 0xd9, 0xdc, 0xdd, 0xde, 0xdf, 0xff};
    size_t ok = 0, bad = 0;
    for (size_t i = 0; i < sizeof(golden); i++) {
        for (size_t v = 0; v < sizeof(vals); v++) {
            memcpy(m, golden, sizeof(golden));
            m[i] = vals[v];
            bx_kvev_batch out;
            bx_kvev_err err;
            int rc = bx_kvev_decode((const char *)m, sizeof(m), NULL, &out, &err);
            if (rc == 0) {
                ok++;
                bx_kvev_batch_free(&out);
            } else {
                bad++;
                assert_true(rc < 0);
                assert_true(err.msg[0] != '\0');
            }
        }
    }
    assert_true(ok > 0);
    assert_true(bad > 0);
}

static void test_encoder_args(void **state)
{
    (void)state;
    bx_buf b;
    bx_buf_init(&b);
    bx_kvev_event ev = {.type = 9};
    assert_int_equal(bx_kvev_encode_event(&b, &ev, NULL), BX_KVEV_EINVAL);
    ev = (bx_kvev_event){.type = BX_KVEV_BLOCK_REMOVED, .n_hashes = 3}; /* NULL hashes */
    assert_int_equal(bx_kvev_encode_event(&b, &ev, NULL), BX_KVEV_EINVAL);
    assert_int_equal(b.len, 0);
    assert_string_equal(bx_kvev_type_name(BX_KVEV_BLOCK_REMOVED), "BlockRemoved");
    assert_string_equal(bx_kvev_type_name(0), "?");
    /* A failing event in a batch leaves the buffer as it was. */
    assert_int_equal(bx_buf_appends(&b, "keep"), 0);
    bx_kvev_event evs[2] = {{.type = BX_KVEV_ALL_CLEARED}, {.type = 0}};
    bx_kvev_batch batch = {.ts = 1, .events = evs, .n_events = 2};
    assert_int_equal(bx_kvev_encode_batch(&b, &batch, NULL), BX_KVEV_EINVAL);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    bx_buf_free(&b);
    /* batch_free on a caller-built batch does nothing */
    bx_kvev_batch_free(&batch);
    assert_int_equal(batch.n_events, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_encodings),
        cmocka_unit_test(test_empty_batch_roundtrip),
        cmocka_unit_test(test_golden_legacy_array),
        cmocka_unit_test(test_golden_map_small),
        cmocka_unit_test(test_hash_bytes_layout),
        cmocka_unit_test(test_decode_tolerant_shapes),
        cmocka_unit_test(test_decode_map_any_order),
        cmocka_unit_test(test_reject_bad_msgpack),
        cmocka_unit_test(test_reject_bad_schema),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_encoder_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
