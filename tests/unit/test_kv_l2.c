/* kv_l2 without a store: the value header round trip and every corrupted
 * field rejected (magic, version, flags, length, checksum, key, truncation),
 * node address lists, and the consistent-hash ring (keys spread over the
 * nodes, and adding a fifth node moves about 1/5 of the keys, all of them
 * to the new node). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kv/kv_l2.h"

#define PL 300

static void mkval(uint8_t *v, const kv_key *k)
{
    for (int i = 0; i < PL; i++)
        v[KV_L2_HDR_BYTES + i] = (uint8_t)(i * 7 + 3);
    kv_l2_hdr_encode(v, k, v + KV_L2_HDR_BYTES, PL);
}

static void test_header(void **st)
{
    (void)st;
    kv_key k = {0x1122334455667788ULL, 0x99aabbccddeeff00ULL};
    uint8_t v[KV_L2_HDR_BYTES + PL];
    const uint8_t *p = NULL;
    mkval(v, &k);
    assert_int_equal(kv_l2_value_verify(v, sizeof(v), &k, PL, &p), 0);
    assert_ptr_equal(p, v + KV_L2_HDR_BYTES);
    assert_memory_equal(v, "BXKV", 4);

    /* one flipped bit anywhere in the header or payload is rejected */
    for (size_t off = 0; off < sizeof(v); off++) {
        mkval(v, &k);
        v[off] ^= 0x10;
        assert_int_equal(kv_l2_value_verify(v, sizeof(v), &k, PL, &p), -EBADMSG);
    }
    mkval(v, &k);
    kv_key other = {k.hi, k.lo + 1};
    assert_int_equal(kv_l2_value_verify(v, sizeof(v), &other, PL, &p), -EBADMSG); /* key */
    assert_int_equal(kv_l2_value_verify(v, sizeof(v), &k, PL - 1, &p), -EBADMSG); /* length */
    assert_int_equal(kv_l2_value_verify(v, sizeof(v) - 1, &k, PL, &p), -EBADMSG); /* truncated */
    assert_int_equal(kv_l2_value_verify(v, 10, &k, PL, &p), -EBADMSG);
    assert_int_equal(kv_l2_value_verify(NULL, 0, &k, PL, &p), -EBADMSG);
    /* a self-consistent header for a shorter payload is still the wrong length */
    uint8_t s[KV_L2_HDR_BYTES + 10];
    kv_l2_hdr_encode(s, &k, v + KV_L2_HDR_BYTES, 10);
    memcpy(s + KV_L2_HDR_BYTES, v + KV_L2_HDR_BYTES, 10);
    assert_int_equal(kv_l2_value_verify(s, sizeof(s), &k, 10, &p), 0);
    assert_int_equal(kv_l2_value_verify(s, sizeof(s), &k, PL, &p), -EBADMSG);
    /* an empty payload is a valid value */
    kv_l2_hdr_encode(s, &k, NULL, 0);
    assert_int_equal(kv_l2_value_verify(s, KV_L2_HDR_BYTES, &k, 0, &p), 0);
}

/* The header of a payload given in pieces equals the contiguous one, for
 * any split (empty pieces included); a changed piece changes it. */
static void test_header_iov(void **st)
{
    (void)st;
    kv_key k = {7, 8};
    uint8_t v[KV_L2_HDR_BYTES + PL], h[KV_L2_HDR_BYTES];
    mkval(v, &k);
    uint8_t *pl = v + KV_L2_HDR_BYTES;
    static const size_t cuts[][3] = {{0, 0, PL}, {1, 150, PL}, {100, 100, PL}, {299, 300, PL}};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        brixkv_iov iov[3] = {{pl, cuts[c][0]},
                             {pl + cuts[c][0], cuts[c][1] - cuts[c][0]},
                             {pl + cuts[c][1], cuts[c][2] - cuts[c][1]}};
        kv_l2_hdr_encode_iov(h, &k, iov, 3, PL);
        assert_memory_equal(h, v, KV_L2_HDR_BYTES);
    }
    brixkv_iov one = {pl, PL};
    kv_l2_hdr_encode_iov(h, &k, &one, 1, PL);
    assert_memory_equal(h, v, KV_L2_HDR_BYTES);
    pl[200] ^= 1;
    brixkv_iov two[2] = {{pl, 10}, {pl + 10, PL - 10}};
    kv_l2_hdr_encode_iov(h, &k, two, 2, PL);
    assert_memory_not_equal(h, v, KV_L2_HDR_BYTES);
    memcpy(v, h, KV_L2_HDR_BYTES);
    const uint8_t *p;
    assert_int_equal(kv_l2_value_verify(v, sizeof(v), &k, PL, &p), 0);
}

/* Verify-and-copy: a good value lands in the pieces; a flipped payload bit,
 * the wrong key or pieces not summing to the length are refused. */
static void test_copy_out(void **st)
{
    (void)st;
    kv_key k = {3, 4}, other = {3, 5};
    uint8_t v[KV_L2_HDR_BYTES + PL], out[PL + 8];
    mkval(v, &k);
    memset(out, 0, sizeof(out));
    brixkv_iov pieces[3] = {{out, 7}, {out + 7, 0}, {out + 7, PL - 7}};
    assert_int_equal(kv_l2_value_copy_out(v, sizeof(v), &k, PL, pieces, 3), 0);
    assert_memory_equal(out, v + KV_L2_HDR_BYTES, PL);
    assert_int_equal(kv_l2_value_copy_out(v, sizeof(v), &other, PL, pieces, 3), -EBADMSG);
    brixkv_iov shorter = {out, PL - 1}, longer = {out, PL + 8};
    assert_int_equal(kv_l2_value_copy_out(v, sizeof(v), &k, PL, &shorter, 1), -EBADMSG);
    assert_int_equal(kv_l2_value_copy_out(v, sizeof(v), &k, PL, &longer, 1), -EBADMSG);
    v[KV_L2_HDR_BYTES + 5] ^= 4;
    assert_int_equal(kv_l2_value_copy_out(v, sizeof(v), &k, PL, pieces, 3), -EBADMSG);
    assert_int_equal(kv_l2_value_copy_out(v, 20, &k, PL, pieces, 3), -EBADMSG);
}

static void test_addrs(void **st)
{
    (void)st;
    kv_l2_addr a[4];
    char err[256];
    assert_int_equal(kv_l2_addrs_parse("127.0.0.1:6379", a, 4, err, sizeof(err)), 1);
    assert_string_equal(a[0].host, "127.0.0.1");
    assert_int_equal(a[0].port, 6379);
    assert_int_equal(kv_l2_addrs_parse("r1:7000, r2:7001 ,[::1]:7002", a, 4, err, sizeof(err)), 3);
    assert_string_equal(a[1].host, "r2");
    assert_int_equal(a[1].port, 7001);
    assert_string_equal(a[2].host, "::1");
    const char *bad[] = {"",     "host",  "host:",    ":6379",   "h:0",      "h:65536", "h:12x",
                         "h:1,", "a b:1", "::1:6379", "h:1,h:1", "h:123456", "h:1,,h:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(kv_l2_addrs_parse(bad[i], a, 4, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "l2_redis"));
    }
    assert_int_equal(kv_l2_addrs_parse("a:1,b:1,c:1,d:1,e:1", a, 4, err, sizeof(err)), -EINVAL);
}

static kv_key key_of(uint64_t i)
{
    kv_key k = {i * 0x9e3779b97f4a7c15ULL + 7, ~i * 0xff51afd7ed558ccdULL};
    return k;
}

static void test_ring(void **st)
{
    (void)st;
    kv_l2_addr a[5];
    for (int i = 0; i < 5; i++) {
        snprintf(a[i].host, sizeof(a[i].host), "10.0.0.%d", i + 1);
        a[i].port = 6379;
    }
    kv_l2_ring r4, r5;
    assert_int_equal(kv_l2_ring_build(&r4, a, 4), 0);
    assert_int_equal(kv_l2_ring_build(&r5, a, 5), 0);
    assert_int_equal(r4.npts, 4 * KV_L2_VNODES);
    enum { N = 20000 };
    unsigned per[5] = {0}, moved = 0;
    for (uint64_t i = 0; i < N; i++) {
        kv_key k = key_of(i);
        unsigned n4 = kv_l2_ring_node(&r4, &k), n5 = kv_l2_ring_node(&r5, &k);
        assert_true(n4 < 4);
        per[n4]++;
        if (n4 != n5) {
            assert_int_equal(n5, 4); /* a key only ever moves to the new node */
            moved++;
        }
        assert_int_equal(kv_l2_ring_node(&r4, &k), n4); /* stable */
    }
    for (int i = 0; i < 4; i++) /* each node holds roughly a quarter */
        assert_true(per[i] > N / 4 * 7 / 10 && per[i] < N / 4 * 13 / 10);
    assert_true(moved > N / 5 * 6 / 10 && moved < N / 5 * 14 / 10); /* ~1/5 */
    kv_l2_ring_free(&r4);
    kv_l2_ring_free(&r5);
    kv_l2_ring one;
    assert_int_equal(kv_l2_ring_build(&one, a, 1), 0);
    kv_key k = key_of(1);
    assert_int_equal(kv_l2_ring_node(&one, &k), 0);
    kv_l2_ring_free(&one);
    assert_int_equal(kv_l2_ring_build(&one, a, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),   cmocka_unit_test(test_header_iov),
        cmocka_unit_test(test_copy_out), cmocka_unit_test(test_addrs),
        cmocka_unit_test(test_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
