/* kv_key: golden values are recomputed here with XXH3_128bits over byte
 * strings built by hand (the documented encoding), independent of
 * kv_key.c's own buffer handling; then the chain's prefix property,
 * namespace separation and the partial-block rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <xxhash.h>

#include "kv/kv_key.h"

/* Appends u32le(len(s)) || s to buf at *off. */
static void enc_field(uint8_t *buf, size_t *off, const char *s)
{
    size_t n = strlen(s);
    buf[(*off)++] = (uint8_t)n;
    buf[(*off)++] = (uint8_t)(n >> 8);
    buf[(*off)++] = (uint8_t)(n >> 16);
    buf[(*off)++] = (uint8_t)(n >> 24);
    memcpy(buf + *off, s, n);
    *off += n;
}

static kv_key xxh(const uint8_t *b, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(b, n);
    kv_key k = {h.high64, h.low64};
    return k;
}

/* bytes(H): hi big-endian then lo big-endian. */
static void be_key(kv_key k, uint8_t out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(k.hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(k.lo >> (56 - 8 * i));
    }
}

static kv_key root_by_hand(const char *m, const char *r, const char *a, const char *d,
                           const char *l, const char *s)
{
    uint8_t buf[512];
    size_t off = 0;
    memcpy(buf, "brixkv-ns1", 10);
    off = 10;
    enc_field(buf, &off, m);
    enc_field(buf, &off, r);
    enc_field(buf, &off, a);
    enc_field(buf, &off, d);
    enc_field(buf, &off, l);
    enc_field(buf, &off, s);
    return xxh(buf, off);
}

static kv_key block_by_hand(kv_key prev, const uint32_t *tok, size_t n)
{
    uint8_t buf[16 + 4 * 1024];
    be_key(prev, buf);
    for (size_t i = 0; i < n; i++) {
        buf[16 + 4 * i] = (uint8_t)tok[i];
        buf[16 + 4 * i + 1] = (uint8_t)(tok[i] >> 8);
        buf[16 + 4 * i + 2] = (uint8_t)(tok[i] >> 16);
        buf[16 + 4 * i + 3] = (uint8_t)(tok[i] >> 24);
    }
    return xxh(buf, 16 + 4 * n);
}

static kv_key std_root(void)
{
    kv_key r;
    assert_int_equal(
        kv_key_ns_root("meta-llama/Llama-3-8B", "main", "", "bf16", "lcnd16", "h0_7_l0_31", &r), 0);
    return r;
}

static void test_root_golden(void **st)
{
    (void)st;
    kv_key r = std_root();
    kv_key want = root_by_hand("meta-llama/Llama-3-8B", "main", "", "bf16", "lcnd16", "h0_7_l0_31");
    assert_true(kv_key_eq(r, want));
    /* NULL optional fields hash like "". */
    kv_key n;
    assert_int_equal(kv_key_ns_root("m", NULL, NULL, NULL, NULL, NULL, &n), 0);
    assert_true(kv_key_eq(n, root_by_hand("m", "", "", "", "", "")));
}

static void test_root_rejects_bad_args(void **st)
{
    (void)st;
    kv_key r;
    assert_int_equal(kv_key_ns_root(NULL, "a", "", "bf16", "l", "s", &r), -EINVAL);
    assert_int_equal(kv_key_ns_root("", "a", "", "bf16", "l", "s", &r), -EINVAL);
    assert_int_equal(kv_key_ns_root("m", "a", "", "bf16", "l", "s", NULL), -EINVAL);
}

static void test_root_encoding_unambiguous(void **st)
{
    (void)st;
    /* Moving a character across a field boundary changes the root. */
    kv_key a, b;
    assert_int_equal(kv_key_ns_root("ab", "c", "", "", "", "", &a), 0);
    assert_int_equal(kv_key_ns_root("a", "bc", "", "", "", "", &b), 0);
    assert_false(kv_key_eq(a, b));
    assert_int_equal(kv_key_ns_root("m", "", "x", "", "", "", &a), 0);
    assert_int_equal(kv_key_ns_root("m", "x", "", "", "", "", &b), 0);
    assert_false(kv_key_eq(a, b));
}

static void test_chain_golden(void **st)
{
    (void)st;
    kv_key r = std_root();
    uint32_t tok[40];
    for (uint32_t i = 0; i < 40; i++)
        tok[i] = 1000u * i + 0x01020304u; /* every byte position nonzero */
    kv_key k[4];
    assert_int_equal(kv_key_chain(&r, tok, 40, 16, k, 4), 2);
    kv_key h1 = block_by_hand(r, tok, 16);
    kv_key h2 = block_by_hand(h1, tok + 16, 16);
    assert_true(kv_key_eq(k[0], h1));
    assert_true(kv_key_eq(k[1], h2));
    /* Large blocks take the streaming path; same definition. */
    static uint32_t big[1024 + 7];
    for (uint32_t i = 0; i < 1031; i++)
        big[i] = i * 2654435761u;
    kv_key kb[2];
    assert_int_equal(kv_key_chain(&r, big, 1031, 1024, kb, 2), 1);
    assert_true(kv_key_eq(kb[0], block_by_hand(r, big, 1024)));
    assert_int_equal(kv_key_chain(&r, big, 1031, 257, kb, 2), 2);
    assert_true(kv_key_eq(kb[0], block_by_hand(r, big, 257)));
    assert_true(kv_key_eq(kb[1], block_by_hand(kb[0], big + 257, 257)));
}

static void test_chain_prefix_property(void **st)
{
    (void)st;
    kv_key r = std_root();
    uint32_t a[64], b[64];
    for (uint32_t i = 0; i < 64; i++)
        a[i] = b[i] = i + 7;
    b[16 + 5] ^= 1; /* one token of block 2 (index 1) differs */
    kv_key ka[4], kb[4], kshort[2];
    assert_int_equal(kv_key_chain(&r, a, 64, 16, ka, 4), 4);
    assert_int_equal(kv_key_chain(&r, b, 64, 16, kb, 4), 4);
    assert_true(kv_key_eq(ka[0], kb[0]));
    for (int i = 1; i < 4; i++)
        assert_false(kv_key_eq(ka[i], kb[i]));
    /* A shorter request with the same prefix yields the same leading keys. */
    assert_int_equal(kv_key_chain(&r, a, 32, 16, kshort, 2), 2);
    assert_true(kv_key_eq(kshort[0], ka[0]));
    assert_true(kv_key_eq(kshort[1], ka[1]));
    /* Continuing from a block key reproduces the rest of the chain. */
    kv_key tail[2];
    assert_int_equal(kv_key_chain(&ka[1], a + 32, 32, 16, tail, 2), 2);
    assert_true(kv_key_eq(tail[0], ka[2]));
    assert_true(kv_key_eq(tail[1], ka[3]));
    /* Identical blocks at different positions get different keys. */
    uint32_t same[32];
    for (int i = 0; i < 32; i++)
        same[i] = 5;
    kv_key ks[2];
    assert_int_equal(kv_key_chain(&r, same, 32, 16, ks, 2), 2);
    assert_false(kv_key_eq(ks[0], ks[1]));
}

static void test_namespace_separation(void **st)
{
    (void)st;
    uint32_t tok[48];
    for (uint32_t i = 0; i < 48; i++)
        tok[i] = i;
    const char *base[6] = {"llama-3-8b", "main", "", "bf16", "lcnd16", "h0_7_l0_31"};
    kv_key r0, k0[3];
    assert_int_equal(kv_key_ns_root(base[0], base[1], base[2], base[3], base[4], base[5], &r0), 0);
    assert_int_equal(kv_key_chain(&r0, tok, 48, 16, k0, 3), 3);
    const char *alt[6] = {"qwen-2-7b", "v2", "sql-lora", "fp8", "ncld16", "h8_15_l0_31"};
    for (int f = 0; f < 6; f++) {
        const char *v[6];
        memcpy(v, base, sizeof v);
        v[f] = alt[f];
        kv_key r, k[3];
        assert_int_equal(kv_key_ns_root(v[0], v[1], v[2], v[3], v[4], v[5], &r), 0);
        assert_false(kv_key_eq(r, r0));
        assert_int_equal(kv_key_chain(&r, tok, 48, 16, k, 3), 3);
        for (int i = 0; i < 3; i++)
            assert_false(kv_key_eq(k[i], k0[i]));
    }
}

static void test_partial_block_not_hashed(void **st)
{
    (void)st;
    kv_key r = std_root();
    uint32_t tok[47];
    for (uint32_t i = 0; i < 47; i++)
        tok[i] = i;
    kv_key k[4] = {{0, 0}, {0, 0}, {0, 0}, {0x5a5a, 0xa5a5}};
    assert_int_equal(kv_key_chain(&r, tok, 47, 16, k, 4), 2);
    assert_true(k[3].hi == 0x5a5a && k[3].lo == 0xa5a5); /* untouched */
    assert_int_equal(kv_key_chain(&r, tok, 15, 16, k, 4), 0);
    assert_int_equal(kv_key_chain(&r, tok, 47, 0, k, 4), 0);
    /* max caps the output. */
    k[1].hi = 0x77;
    k[1].lo = 0x88;
    assert_int_equal(kv_key_chain(&r, tok, 47, 16, k, 1), 1);
    assert_true(k[1].hi == 0x77 && k[1].lo == 0x88);
    /* The tokens after the last full block do not matter. */
    uint32_t t2[47];
    memcpy(t2, tok, sizeof t2);
    t2[40] = 99999;
    kv_key a[2], b[2];
    assert_int_equal(kv_key_chain(&r, tok, 47, 16, a, 2), 2);
    assert_int_equal(kv_key_chain(&r, t2, 47, 16, b, 2), 2);
    assert_true(kv_key_eq(a[1], b[1]));
}

static void test_hex_and_hash64(void **st)
{
    (void)st;
    kv_key k = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    char s[KV_KEY_HEX_LEN + 1];
    memset(s, 'x', sizeof s);
    kv_key_hex(k, s);
    assert_string_equal(s, "0123456789abcdeffedcba9876543210");
    /* Same as xxhash's canonical form of the hash. */
    XXH128_hash_t h = {k.lo, k.hi};
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    char s2[33];
    for (int i = 0; i < 16; i++)
        sprintf(s2 + 2 * i, "%02x", c.digest[i]);
    assert_string_equal(s, s2);
    kv_key k2 = k;
    assert_true(kv_key_hash64(k) == kv_key_hash64(k2));
    k2.lo ^= 1;
    assert_false(kv_key_eq(k, k2));
    assert_true(kv_key_hash64(k) != kv_key_hash64(k2));
}

/* The lazy iterator hands out exactly kv_key_chain's keys, in any step. */
static void test_iter(void **st)
{
    (void)st;
    uint32_t t[16 * 70 + 5];
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        t[i] = (uint32_t)(i * 2654435761u);
    kv_key root = {1, 2}, want[70], got[70];
    assert_int_equal(kv_key_chain(&root, t, sizeof(t) / sizeof(t[0]), 16, want, 70), 70);
    static const size_t steps[] = {1, 7, 64, 100};
    for (size_t s = 0; s < 4; s++) {
        kv_key_iter it;
        kv_key_iter_init(&it, &root, t, sizeof(t) / sizeof(t[0]), 16, 69);
        size_t n = 0, k;
        while ((k = kv_key_iter_next(&it, got + n, steps[s])) > 0)
            n += k;
        assert_int_equal(n, 69); /* max_blocks */
        assert_memory_equal(got, want, 69 * sizeof(kv_key));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iter),
        cmocka_unit_test(test_root_golden),
        cmocka_unit_test(test_root_rejects_bad_args),
        cmocka_unit_test(test_root_encoding_unambiguous),
        cmocka_unit_test(test_chain_golden),
        cmocka_unit_test(test_chain_prefix_property),
        cmocka_unit_test(test_namespace_separation),
        cmocka_unit_test(test_partial_block_not_hashed),
        cmocka_unit_test(test_hex_and_hash64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
