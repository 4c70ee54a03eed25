/* bx_blockhash: digests equal vLLM's sha256_cbor chain. The golden values
 * were computed with Python's hashlib over hand-written canonical CBOR:
 *   root  = sha256(0x61 '0')
 *   h1    = sha256(83 58 20 <root> 90 01..10 f6)          tokens 1..16
 *   h2    = sha256(83 58 20 <h1> 90 (19 03e8)x8 (1a 000186a0)x8 81 63 'sql') */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/sha.h>
#include <xxhash.h>

#include "common/bx_blockhash.h"

static void hex(const bx_blockhash *h, char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h->d[i]);
}

static void test_root_matches_python(void **st)
{
    (void)st;
    bx_blockhash r;
    char s[65];
    bx_blockhash_root("0", &r);
    hex(&r, s);
    assert_string_equal(s, "4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e");
}

static void test_chain_matches_python(void **st)
{
    (void)st;
    bx_blockhash r, h1, h2;
    char s[65];
    uint32_t t1[16], t2[16];
    for (int i = 0; i < 16; i++) {
        t1[i] = (uint32_t)i + 1;
        t2[i] = i < 8 ? 1000 : 100000;
    }
    bx_blockhash_root("0", &r);
    assert_int_equal(bx_blockhash_block(&r, t1, 16, NULL, &h1), 0);
    hex(&h1, s);
    assert_string_equal(s, "202da172482d928bbc42ab25b0151e2b895f13f41002e27b2ceabcfae6d332ea");
    assert_true(bx_blockhash_u64(&h1) == 0x2ceabcfae6d332eaULL);
    assert_int_equal(bx_blockhash_block(&h1, t2, 16, "sql", &h2), 0);
    assert_true(bx_blockhash_u64(&h2) == 0xfe918bfb5191c2a9ULL);
}

static void test_chain_helper_and_prefix_property(void **st)
{
    (void)st;
    bx_blockhash r;
    bx_blockhash_root("0", &r);
    uint32_t a[48], b[48];
    for (int i = 0; i < 48; i++)
        a[i] = b[i] = (uint32_t)(i * 7 + 300);
    b[40] = 9; /* differ only in the third block */
    uint64_t ka[3], kb[3];
    assert_int_equal(bx_blockhash_chain(&r, a, 48, 16, NULL, 3, ka, NULL), 3);
    assert_int_equal(bx_blockhash_chain(&r, b, 48, 16, NULL, 3, kb, NULL), 3);
    assert_true(ka[0] == kb[0] && ka[1] == kb[1]);
    assert_true(ka[2] != kb[2]);
    /* partial blocks are not hashed */
    assert_int_equal(bx_blockhash_chain(&r, a, 40, 16, NULL, 10, ka, NULL), 2);
    /* a LoRA has its own hash space */
    uint64_t kl[1];
    bx_blockhash_chain(&r, a, 16, 16, "sql", 1, kl, NULL);
    assert_true(kl[0] != kb[0]);
    /* another seed, another chain */
    bx_blockhash r2;
    bx_blockhash_root("1", &r2);
    bx_blockhash_chain(&r2, a, 16, 16, NULL, 1, kl, NULL);
    assert_true(kl[0] != ka[0]);
}

/* xxhash_cbor: the same CBOR items as sha256_cbor (whose digests are golden
 * above), with a 16-byte parent, hashed by XXH3-128 in canonical order. The
 * expected digests are built here byte by byte. Token ids cross every CBOR
 * integer size boundary, so the hand-written encoder is checked too. */
static void xx(const unsigned char *b, size_t n, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(b, n));
    memcpy(out, c.digest, 16);
}

static void test_xxhash_cbor(void **st)
{
    (void)st;
    bx_blockhash_algo a;
    assert_int_equal(bx_blockhash_algo_parse("xxhash_cbor", &a), 0);
    assert_int_equal(a, BX_BLOCKHASH_XXHASH_CBOR);
    assert_int_equal(bx_blockhash_algo_parse("xxhash", &a), -1);
    bx_blockhash r, h1;
    bx_blockhash_root_algo(BX_BLOCKHASH_XXHASH_CBOR, "0", &r);
    assert_int_equal(bx_blockhash_len(&r), 16);
    uint8_t want[16];
    const unsigned char seed[] = {0x61, '0'};
    xx(seed, sizeof(seed), want);
    assert_memory_equal(r.d, want, 16);

    const uint32_t t[16] = {0, 23, 24, 255, 256, 65535, 65536, 4294967295u,
                            1, 2,  3,  4,   5,   6,     7,     128000};
    unsigned char b[128];
    size_t n = 0;
    b[n++] = 0x83;
    b[n++] = 0x50; /* bytes(16) */
    memcpy(b + n, r.d, 16);
    n += 16;
    b[n++] = 0x90; /* array(16) */
    const unsigned char ints[] = {0x00, 0x17, 0x18, 0x18, 0x18, 0xff, 0x19, 0x01, 0x00,
                                  0x19, 0xff, 0xff, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x1a,
                                  0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05,
                                  0x06, 0x07, 0x1a, 0x00, 0x01, 0xf4, 0x00};
    memcpy(b + n, ints, sizeof(ints));
    n += sizeof(ints);
    b[n++] = 0xf6; /* null: no extra keys */
    assert_int_equal(bx_blockhash_block(&r, t, 16, NULL, &h1), 0);
    xx(b, n, want);
    assert_memory_equal(h1.d, want, 16);
    uint64_t lo = 0;
    for (int i = 8; i < 16; i++)
        lo = lo << 8 | want[i];
    assert_true(bx_blockhash_u64(&h1) == lo);

    /* the same bytes with the sha256 parent give the sha256 digest */
    bx_blockhash rs, hs;
    bx_blockhash_root("0", &rs);
    assert_int_equal(bx_blockhash_block(&rs, t, 16, NULL, &hs), 0);
    unsigned char bs[160];
    size_t m = 0;
    bs[m++] = 0x83;
    bs[m++] = 0x58;
    bs[m++] = 0x20;
    memcpy(bs + m, rs.d, 32);
    m += 32;
    memcpy(bs + m, b + 18, n - 18);
    m += n - 18;
    uint8_t sd[32];
    SHA256(bs, m, sd);
    assert_memory_equal(hs.d, sd, 32);
}

static void test_limits(void **st)
{
    (void)st;
    bx_blockhash r, o;
    uint32_t t[300] = {0};
    bx_blockhash_root("0", &r);
    assert_int_equal(bx_blockhash_block(&r, t, 300, NULL, &o), -1);
    assert_int_equal(bx_blockhash_chain(&r, t, 10, 0, NULL, 1, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_matches_python),
        cmocka_unit_test(test_chain_matches_python),
        cmocka_unit_test(test_chain_helper_and_prefix_property),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_xxhash_cbor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
