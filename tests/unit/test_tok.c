/* bx_tok: the shared tokenizer's rules (see bx_tok.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_tok.h"

static void test_words_of_three_letters_are_one_token(void **st)
{
    (void)st;
    const char *t = "the cat sat on mat";
    /* "the" " cat" " sat" " on" " mat" */
    assert_int_equal(bx_tok_count(t, strlen(t)), 5);
}

static void test_long_word_split_in_four_byte_pieces(void **st)
{
    (void)st;
    const char *t = "abcdefghij"; /* abcd efgh ij */
    uint32_t ids[8], offs[8];
    size_t n = bx_tok_encode(t, strlen(t), ids, offs, 8);
    assert_int_equal(n, 3);
    assert_int_equal(offs[0], 0);
    assert_int_equal(offs[1], 4);
    assert_int_equal(offs[2], 8);
    assert_int_equal(ids[0], bx_tok_piece_id("abcd", 4));
    assert_int_equal(ids[2], bx_tok_piece_id("ij", 2));
}

static void test_leading_space_joins_next_word(void **st)
{
    (void)st;
    uint32_t a[4], b[4];
    assert_int_equal(bx_tok_encode(" cat", 4, a, NULL, 4), 1);
    assert_int_equal(bx_tok_encode("cat", 3, b, NULL, 4), 1);
    assert_int_not_equal(a[0], b[0]);
    assert_int_equal(a[0], bx_tok_piece_id(" cat", 4));
}

static void test_utf8_never_split(void **st)
{
    (void)st;
    /* "héllo": h, é(2 bytes), l, l, o = 6 bytes -> "hél" (4) + "lo" (2) */
    const char *t = "h\xc3\xa9llo";
    uint32_t offs[4];
    size_t n = bx_tok_encode(t, strlen(t), NULL, offs, 4);
    assert_int_equal(n, 2);
    assert_int_equal(offs[1], 4);
    /* a 4-byte emoji after 2 letters cannot share a piece with them */
    const char *e = "ab\xf0\x9f\x98\x80";
    n = bx_tok_encode(e, strlen(e), NULL, offs, 4);
    assert_int_equal(n, 2);
    assert_int_equal(offs[1], 2);
}

static void test_deterministic_and_ids_in_range(void **st)
{
    (void)st;
    const char *t = "Hello, world!\n\nThis is   spaced\ttext.";
    uint32_t a[64], b[64];
    size_t n1 = bx_tok_encode(t, strlen(t), a, NULL, 64);
    size_t n2 = bx_tok_encode(t, strlen(t), b, NULL, 64);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1 * sizeof(uint32_t));
    for (size_t i = 0; i < n1; i++) {
        assert_true(a[i] >= BX_TOK_FIRST_ID);
        assert_true(a[i] < BX_TOK_VOCAB);
    }
}

static void test_cap_smaller_than_count(void **st)
{
    (void)st;
    const char *t = "one two three four five";
    uint32_t ids[2] = {0, 0};
    size_t n = bx_tok_encode(t, strlen(t), ids, NULL, 2);
    assert_true(n > 2);
    assert_int_equal(ids[0], bx_tok_piece_id("one", 3));
    assert_int_equal(bx_tok_count("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_of_three_letters_are_one_token),
        cmocka_unit_test(test_long_word_split_in_four_byte_pieces),
        cmocka_unit_test(test_leading_space_joins_next_word),
        cmocka_unit_test(test_utf8_never_split),
        cmocka_unit_test(test_deterministic_and_ids_in_range),
        cmocka_unit_test(test_cap_smaller_than_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
