/* The gateway's API keys (bx_apikey, used by gw_auth and the engine): key
 * files (comments, blanks, CR, bad lines, empty and unreadable files),
 * BRIX_API_KEYS-style lists, the check (right key, wrong key, a key's
 * prefix or extension, every one of several keys), Bearer parsing, the
 * public paths, and the gateway's config reading every source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bx_apikey.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_config.h"

static int has(const bx_apikeys *k, const char *key)
{
    return bx_apikeys_check(k, key, strlen(key));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void test_check(void **st)
{
    (void)st;
    bx_apikeys k;
    bx_apikeys_init(&k);
    char err[256];
    assert_false(has(&k, "anything")); /* empty set: nothing matches */
    assert_int_equal(bx_apikeys_add(&k, "sk-alpha", 8, err, sizeof(err)), 0);
    assert_int_equal(bx_apikeys_add(&k, "sk-beta-longer-key", 18, err, sizeof(err)), 0);
    assert_int_equal(bx_apikeys_add(&k, "z", 1, err, sizeof(err)), 0);
    assert_int_equal(k.n, 3);
    assert_true(has(&k, "sk-alpha"));
    assert_true(has(&k, "sk-beta-longer-key")); /* the second key: no early exit hides it */
    assert_true(has(&k, "z"));                  /* the last one too */
    assert_false(has(&k, "sk-alph"));           /* a prefix */
    assert_false(has(&k, "sk-alphaa"));         /* an extension */
    assert_false(has(&k, "SK-ALPHA"));          /* case matters */
    assert_false(has(&k, ""));
    assert_false(bx_apikeys_check(&k, "sk-alpha\0", 9)); /* length counts */
    /* the same key twice is kept once */
    assert_int_equal(bx_apikeys_add(&k, "z", 1, err, sizeof(err)), 0);
    assert_int_equal(k.n, 3);
    /* refused keys */
    assert_int_equal(bx_apikeys_add(&k, "", 0, err, sizeof(err)), -1);
    assert_int_equal(bx_apikeys_add(&k, "a b", 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "blank"));
    assert_int_equal(bx_apikeys_add(&k, "a\x01", 2, err, sizeof(err)), -1);
    assert_int_equal(bx_apikeys_add(&k, "\xc3\xa9", 2, err, sizeof(err)), -1);
    char big[BX_APIKEY_MAX_LEN + 2];
    memset(big, 'x', sizeof(big));
    assert_int_equal(bx_apikeys_add(&k, big, BX_APIKEY_MAX_LEN + 1, err, sizeof(err)), -1);
    assert_int_equal(bx_apikeys_add(&k, big, BX_APIKEY_MAX_LEN, err, sizeof(err)), 0);
    assert_int_equal(k.n, 4);
    /* a full set */
    bx_apikeys f;
    bx_apikeys_init(&f);
    for (int i = 0; i < BX_APIKEYS_MAX; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(bx_apikeys_add(&f, key, (size_t)n, err, sizeof(err)), 0);
    }
    assert_int_equal(bx_apikeys_add(&f, "one-more", 8, err, sizeof(err)), -1);
    assert_true(has(&f, "key-0"));
    assert_true(has(&f, "key-63"));
    assert_false(has(&f, "key-64"));
}

static void test_bearer(void **st)
{
    (void)st;
    bx_apikeys k;
    bx_apikeys_init(&k);
    char err[256];
    assert_int_equal(bx_apikeys_add(&k, "sk-1", 4, err, sizeof(err)), 0);
    assert_true(bx_apikeys_check_bearer(&k, "Bearer sk-1"));
    assert_true(bx_apikeys_check_bearer(&k, "bearer  sk-1 "));
    assert_false(bx_apikeys_check_bearer(&k, NULL));
    assert_false(bx_apikeys_check_bearer(&k, "sk-1"));
    assert_false(bx_apikeys_check_bearer(&k, "Basic sk-1"));
    assert_false(bx_apikeys_check_bearer(&k, "Bearer "));
    assert_false(bx_apikeys_check_bearer(&k, "Bearer sk-2"));
    assert_false(bx_apikeys_check_bearer(&k, "Bearer sk-1x"));
}

static void test_list(void **st)
{
    (void)st;
    bx_apikeys k;
    bx_apikeys_init(&k);
    char err[256];
    assert_int_equal(bx_apikeys_add_list(&k, " a1 ,b2,, c3 ,", err, sizeof(err)), 3);
    assert_true(has(&k, "a1"));
    assert_true(has(&k, "b2"));
    assert_true(has(&k, "c3"));
    assert_false(has(&k, " a1 "));
    assert_int_equal(bx_apikeys_add_list(&k, "", err, sizeof(err)), 0);
    assert_int_equal(bx_apikeys_add_list(&k, " , ", err, sizeof(err)), 0);
    assert_int_equal(bx_apikeys_add_list(&k, "ok,bad key", err, sizeof(err)), -1);
}

static void test_file_text(void **st)
{
    (void)st;
    bx_apikeys k;
    bx_apikeys_init(&k);
    char err[256];
    const char *t = "# keys for the gateway\n"
                    "\n"
                    "sk-one\r\n"
                    "   sk-two\t \n"
                    "  # indented comment\n"
                    "sk-#three\n" /* '#' inside a key is part of it */
                    "sk-last";    /* no final newline */
    assert_int_equal(bx_apikeys_parse_text(&k, t, strlen(t), err, sizeof(err)), 4);
    assert_true(has(&k, "sk-one"));
    assert_true(has(&k, "sk-two"));
    assert_true(has(&k, "sk-#three"));
    assert_true(has(&k, "sk-last"));
    assert_false(has(&k, "sk-one\r"));
    assert_false(has(&k, "# keys"));
    /* a comment after a key is an error naming the line */
    bx_apikeys b;
    bx_apikeys_init(&b);
    const char *bad = "sk-a\n\nsk-b # prod\n";
    assert_int_equal(bx_apikeys_parse_text(&b, bad, strlen(bad), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 3"));
    const char nul[] = "sk-a\nsk\0b\n";
    assert_int_equal(bx_apikeys_parse_text(&b, nul, sizeof(nul) - 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 2"));
    /* only comments: 0 keys read (the file loader makes that an error) */
    assert_int_equal(bx_apikeys_parse_text(&b, "# none\n\n", 8, err, sizeof(err)), 0);
}

static void test_file(void **st)
{
    (void)st;
    char path[] = "/tmp/brix-keys-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    bx_apikeys k;
    bx_apikeys_init(&k);
    char err[256];
    write_file(path, "# one key\nsk-file-1\n");
    assert_int_equal(bx_apikeys_load_file(&k, path, err, sizeof(err)), 1);
    assert_true(has(&k, "sk-file-1"));
    write_file(path, "# no key here\n\n");
    assert_int_equal(bx_apikeys_load_file(&k, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no API key"));
    write_file(path, "");
    assert_int_equal(bx_apikeys_load_file(&k, path, err, sizeof(err)), -1);
    unlink(path);
    assert_int_equal(bx_apikeys_load_file(&k, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(k.n, 1);
}

static void test_public_paths(void **st)
{
    (void)st;
    assert_true(gw_auth_public("/healthz"));
    assert_true(gw_auth_public("/readyz"));
    assert_false(gw_auth_public("/metrics"));
    assert_false(gw_auth_public("/v1/models"));
    assert_false(gw_auth_public("/healthz/"));
    assert_false(gw_auth_public("/readyz2"));
    assert_false(gw_auth_public(""));
}

static int parse(gw_config *c, int argc, const char **argv)
{
    gw_config_default(c);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = gw_config_parse(c, argc, (char **)argv, devnull, devnull);
    fclose(devnull);
    return rc;
}

/* Every source adds to one set: flags, files, the --config file, the env. */
static void test_config_sources(void **st)
{
    (void)st;
    char kpath[] = "/tmp/brix-keys-XXXXXX", cpath[] = "/tmp/brix-gwcfg-XXXXXX";
    int fd = mkstemp(kpath);
    assert_true(fd >= 0);
    close(fd);
    fd = mkstemp(cpath);
    assert_true(fd >= 0);
    close(fd);
    write_file(kpath, "k-file\n");
    char y[256];
    snprintf(y, sizeof(y), "api_keys: [k-yaml]\napi_key_file: %s\nmetrics_port: 9100\n", kpath);
    write_file(cpath, y);
    setenv("BRIX_API_KEYS", "k-env1,k-env2", 1);
    gw_config c;
    const char *argv[] = {"gateway", "--config",       cpath, "--api-key",
                          "k-flag",  "--api-key-file", kpath};
    assert_int_equal(parse(&c, 7, argv), 0);
    assert_int_equal(c.keys.n, 5); /* k-file twice: once */
    assert_true(has(&c.keys, "k-flag"));
    assert_true(has(&c.keys, "k-file"));
    assert_true(has(&c.keys, "k-yaml"));
    assert_true(has(&c.keys, "k-env1"));
    assert_true(has(&c.keys, "k-env2"));
    assert_false(has(&c.keys, "k-env1,k-env2"));
    assert_int_equal(c.metrics_port, 9100);
    assert_string_equal(c.metrics_host, "127.0.0.1");
    gw_config_free(&c);
    /* a bad env value or key file stops the start */
    setenv("BRIX_API_KEYS", "good,has space", 1);
    const char *argv2[] = {"gateway"};
    assert_int_equal(parse(&c, 1, argv2), -1);
    gw_config_free(&c);
    unsetenv("BRIX_API_KEYS");
    assert_int_equal(parse(&c, 1, argv2), 0);
    assert_int_equal(c.keys.n, 0);
    gw_config_free(&c);
    write_file(kpath, "# empty\n");
    const char *argv3[] = {"gateway", "--api-key-file", kpath};
    assert_int_equal(parse(&c, 3, argv3), -1);
    gw_config_free(&c);
    unlink(kpath);
    assert_int_equal(parse(&c, 3, argv3), -1);
    gw_config_free(&c);
    const char *argv4[] = {"gateway", "--api-key", ""};
    assert_int_equal(parse(&c, 3, argv4), -1);
    gw_config_free(&c);
    unlink(cpath);
}

/* An engine's key on a command line (vLLM --api-key K / --api-key=K, a sh
 * -c line's words), its redaction, header safety and --backend-api-key. */
static void test_engine_key(void **state)
{
    (void)state;
    assert_string_equal(bx_apikey_arg("--api-key", "sk-1"), "sk-1");
    assert_string_equal(bx_apikey_arg(NULL, "--api-key=sk-2"), "sk-2");
    assert_null(bx_apikey_arg("--api-keys", "sk-1"));
    assert_null(bx_apikey_arg(NULL, "--api-key"));
    assert_null(bx_apikey_arg(NULL, "--api-keyx=1"));
    char k[64];
    const char *w1[] = {"vllm", "serve", "m", "--api-key", "sk-a", NULL};
    assert_int_equal(bx_apikey_from_words(w1, (size_t)-1, k, sizeof(k)), 1);
    assert_string_equal(k, "sk-a");
    const char *w2[] = {
        "sh", "-c", "python3 -m vllm.entrypoints.openai.api_server  --api-key\tsk-b --port 8000"};
    assert_int_equal(bx_apikey_from_words(w2, 3, k, sizeof(k)), 1);
    assert_string_equal(k, "sk-b");
    const char *w3[] = {"vllm", "serve", "--api-key"}; /* no value */
    assert_int_equal(bx_apikey_from_words(w3, 3, k, sizeof(k)), 0);
    assert_string_equal(k, "");
    const char *w4[] = {"--api-key=sk-toolong-for-the-buffer"};
    assert_int_equal(bx_apikey_from_words(w4, 1, k, 8), 0);
    char r[64];
    bx_apikey_redact("--api-key=sk-a x sk-a", "sk-a", r, sizeof(r));
    assert_string_equal(r, "--api-key=<redacted> x <redacted>");
    bx_apikey_redact("plain", NULL, r, sizeof(r));
    assert_string_equal(r, "plain");
    bx_apikey_redact("sk-a", "sk-a", r, 5);
    assert_string_equal(r, "<red");
    assert_true(bx_apikey_header_safe("sk-1", 8));
    assert_false(bx_apikey_header_safe("sk-1\r\nX: y", 64));
    assert_false(bx_apikey_header_safe("a b", 64));
    assert_false(bx_apikey_header_safe("", 64));
    assert_false(bx_apikey_header_safe("12345678", 8));
    gw_config c;
    const char *argv[] = {"gateway", "--backend-api-key", "sk-e"};
    assert_int_equal(parse(&c, 3, argv), 0);
    assert_string_equal(c.backend_api_key, "sk-e");
    gw_config_free(&c);
    const char *argv2[] = {"gateway", "--backend-api-key", "bad key"};
    assert_int_equal(parse(&c, 3, argv2), -1);
    gw_config_free(&c);
    setenv("BRIX_BACKEND_API_KEY", "sk-env", 1);
    const char *argv3[] = {"gateway"};
    assert_int_equal(parse(&c, 1, argv3), 0);
    assert_string_equal(c.backend_api_key, "sk-env");
    gw_config_free(&c);
    unsetenv("BRIX_BACKEND_API_KEY");
}

int main(void)
{
    unsetenv("BRIX_API_KEYS");
    unsetenv("BRIX_BACKEND_API_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),          cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_list),           cmocka_unit_test(test_file_text),
        cmocka_unit_test(test_file),           cmocka_unit_test(test_public_paths),
        cmocka_unit_test(test_config_sources), cmocka_unit_test(test_engine_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
