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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
