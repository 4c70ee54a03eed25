/* bx_log_escape: a client's string cannot end a log line or forge another
 * (issue 13, finding 6: a newline in "model" forged a gateway log line).
 * Control bytes, quotes, backslashes, DEL and high bytes are escaped, long
 * strings are cut at a whole escape with "...", and bx_log_write keeps a
 * message on one line even when a caller forgot to escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bx_log.h"

static const char *esc(const char *s)
{
    static char b[BX_LOG_ESC_MAX];
    return bx_log_escape(b, sizeof(b), s, BX_LOG_CSTR);
}

static void test_plain_and_special(void **st)
{
    (void)st;
    assert_string_equal(esc("llama-3.1-8b/instruct:v2"), "llama-3.1-8b/instruct:v2");
    assert_string_equal(esc(""), "");
    assert_string_equal(esc(NULL), "-");
    assert_string_equal(esc("x\nreq forged"), "x\\nreq forged");
    assert_string_equal(esc("a\rb\tc"), "a\\rb\\tc");
    assert_string_equal(esc("say \"hi\""), "say \\\"hi\\\"");
    assert_string_equal(esc("back\\slash"), "back\\\\slash");
    assert_string_equal(esc("\x01\x1b[31m\x7f"), "\\x01\\x1b[31m\\x7f");
    /* every high byte, valid UTF-8 or not, is \xNN: nothing reaches a
     * terminal or a log parser as raw bytes */
    assert_string_equal(esc("caf\xc3\xa9"), "caf\\xc3\\xa9");
    assert_string_equal(esc("\xff\xfe"), "\\xff\\xfe");
}

static void test_length_and_nul(void **st)
{
    (void)st;
    char b[64];
    /* len bytes, NULs included: a NUL cannot hide the rest either */
    assert_string_equal(bx_log_escape(b, sizeof(b), "ab\0cd", 5), "ab\\x00cd");
    assert_string_equal(bx_log_escape(b, sizeof(b), "abcdef", 3), "abc");
    /* cap 0: nothing written, a usable "" returned */
    assert_string_equal(bx_log_escape(b, 0, "abc", BX_LOG_CSTR), "");
}

static void test_truncation(void **st)
{
    (void)st;
    char b[12];
    /* exactly fits: 11 bytes and the NUL */
    assert_string_equal(bx_log_escape(b, sizeof(b), "0123456789a", BX_LOG_CSTR), "0123456789a");
    /* one more: cut with the mark, still within cap */
    assert_string_equal(bx_log_escape(b, sizeof(b), "0123456789ab", BX_LOG_CSTR), "01234567...");
    /* an escape is never split: "\x0" would read as another byte */
    assert_string_equal(bx_log_escape(b, sizeof(b), "012345\x01\x02zz", BX_LOG_CSTR), "012345...");
    char big[5000];
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char out[BX_LOG_ESC_MAX];
    bx_log_escape(out, sizeof(out), big, BX_LOG_CSTR);
    assert_true(strlen(out) < sizeof(out));
    assert_null(strchr(out, '\n'));
    assert_string_equal(out + strlen(out) - 3, "...");
    /* the unterminated form writes no more than cap bytes */
    char raw[8];
    memset(raw, '#', sizeof(raw));
    size_t n = bx_log_escape_into(raw, 6, "\n\n\n\n", BX_LOG_CSTR);
    assert_true(n <= 6);
    assert_int_equal(raw[6], '#');
    assert_memory_equal(raw, "\\n...", 5);
}

/* Every byte value alone: the output holds only printable ASCII. */
static void test_every_byte(void **st)
{
    (void)st;
    for (int c = 0; c < 256; c++) {
        char in[1] = {(char)c}, out[8];
        bx_log_escape(out, sizeof(out), in, 1);
        for (const char *p = out; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') assert_int_equal(strlen(out), 1);
    }
}

/* bx_log_write: an argument with a newline (nobody escaped it) still makes
 * one line; the message's own quotes stay as they are. */
static void test_write_one_line(void **st)
{
    (void)st;
    char path[] = "/tmp/test_log_escape.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    bx_log_init("t", BX_LOG_INFO);
    bx_info("model \"%s\" done", "x\nINFO forged\r\x1b[2J");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[512] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* one line */
    assert_non_null(strstr(buf, "model \"x\\x0aINFO forged\\x0d\\x1b[2J\" done"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_special), cmocka_unit_test(test_length_and_nul),
        cmocka_unit_test(test_truncation),        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_write_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
