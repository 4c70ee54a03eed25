/* gw_config: flags, a YAML --config file, and flags overriding the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/gw_config.h"

static int parse(gw_config *c, int argc, const char **argv)
{
    gw_config_default(c);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = gw_config_parse(c, argc, (char **)argv, devnull, devnull);
    fclose(devnull);
    return rc;
}

static void test_flags(void **st)
{
    (void)st;
    gw_config c;
    const char *argv[] = {"gateway",
                          "--port",
                          "9000",
                          "--backend",
                          "http://a:1",
                          "--backend=http://b:2",
                          "--strategy",
                          "random",
                          "--api-key",
                          "k1",
                          "--ratelimit-fail-closed"};
    assert_int_equal(parse(&c, 11, argv), 0);
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.nbackends, 2);
    assert_string_equal(c.backends[1], "http://b:2");
    assert_string_equal(c.strategy, "random");
    assert_int_equal(c.keys.n, 1);
    assert_int_equal(c.ratelimit_fail_closed, 1);
    gw_config_free(&c);
    const char *bad1[] = {"gateway", "--port", "-3"};
    assert_int_equal(parse(&c, 3, bad1), -1);
    const char *bad2[] = {"gateway", "--strategy", "nope"};
    assert_int_equal(parse(&c, 3, bad2), -1);
    const char *bad3[] = {"gateway", "--wat"};
    assert_int_equal(parse(&c, 2, bad3), -1);
    /* AIBrix's names and weighted lists; a list of strategies without scores is refused */
    const char *list[] = {"gateway", "--strategy", "prefix-cache:2,least-request"};
    assert_int_equal(parse(&c, 3, list), 0);
    assert_string_equal(c.strategy, "prefix-cache:2,least-request");
    gw_config_free(&c);
    const char *alias[] = {"gateway", "--strategy", "slo-pack-load"};
    assert_int_equal(parse(&c, 3, alias), 0);
    gw_config_free(&c);
    const char *bad4[] = {"gateway", "--strategy", "random,least-request"};
    assert_int_equal(parse(&c, 3, bad4), -1);
    gw_config_free(&c);
    /* AIBrix's ROUTING_ALGORITHM: the default, below the flag */
    setenv("ROUTING_ALGORITHM", "prefix-cache:3,least-request", 1);
    const char *none[] = {"gateway"};
    assert_int_equal(parse(&c, 1, none), 0);
    assert_string_equal(c.strategy, "prefix-cache:3,least-request");
    gw_config_free(&c);
    assert_int_equal(parse(&c, 3, alias), 0);
    assert_string_equal(c.strategy, "slo-pack-load");
    gw_config_free(&c);
    setenv("ROUTING_ALGORITHM", "bogus", 1);
    assert_int_equal(parse(&c, 1, none), -1);
    gw_config_free(&c);
    unsetenv("ROUTING_ALGORITHM");
}

/* --kubernetes instead of --backend; its two settings need it. */
static void test_kubernetes_flags(void **st)
{
    (void)st;
    gw_config c;
    const char *ok[] = {"gateway",   "--kubernetes", "--kubeconfig",
                        "/k/a:/k/b", "--namespace",  "models"};
    assert_int_equal(parse(&c, 6, ok), 0);
    assert_int_equal(c.kubernetes, 1);
    assert_string_equal(c.kubeconfig, "/k/a:/k/b");
    assert_string_equal(c.k8s_namespace, "models");
    gw_config_free(&c);
    const char *both[] = {"gateway", "--kubernetes", "--backend", "http://a:1"};
    assert_int_equal(parse(&c, 4, both), -1);
    gw_config_free(&c);
    const char *alone[] = {"gateway", "--namespace", "models"};
    assert_int_equal(parse(&c, 3, alone), -1);
    gw_config_free(&c);
    const char *kc[] = {"gateway", "--kubeconfig", "/k/a"};
    assert_int_equal(parse(&c, 3, kc), -1);
    gw_config_free(&c);
}

static void test_yaml_file_then_flags(void **st)
{
    (void)st;
    char path[] = "/tmp/brix-gwcfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "port: 7000\nstrategy: prefix-cache\nbackends:\n  - http://127.0.0.1:8001\n"
                    "  - http://127.0.0.1:8002\nscrape_interval_ms: 250\n"
                    "ratelimit_fail_closed: true\napi_keys: [a, b]\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    gw_config c;
    const char *argv[] = {"gateway", "--config", path, "--port", "7100"};
    assert_int_equal(parse(&c, 5, argv), 0);
    assert_int_equal(c.port, 7100); /* the flag wins */
    assert_string_equal(c.strategy, "prefix-cache");
    assert_int_equal(c.nbackends, 2);
    assert_string_equal(c.backends[0], "http://127.0.0.1:8001");
    assert_int_equal(c.scrape_interval_ms, 250);
    assert_int_equal(c.ratelimit_fail_closed, 1);
    assert_int_equal(c.keys.n, 2);
    gw_config_free(&c);
    FILE *f = fopen(path, "w");
    fputs("colour: blue\n", f);
    fclose(f);
    const char *argv2[] = {"gateway", "--config", path};
    assert_int_equal(parse(&c, 3, argv2), -1);
    gw_config_free(&c);
    f = fopen(path, "w");
    fputs("port: [1, 2]\n", f);
    fclose(f);
    assert_int_equal(parse(&c, 3, argv2), -1);
    gw_config_free(&c);
    unlink(path);
    const char *argv3[] = {"gateway", "--config", "/nonexistent/brix.yaml"};
    assert_int_equal(parse(&c, 3, argv3), -1);
    gw_config_free(&c);
}

int main(void)
{
    unsetenv("BRIX_API_KEYS"); /* its keys would add to the counts above */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_kubernetes_flags),
        cmocka_unit_test(test_yaml_file_then_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
