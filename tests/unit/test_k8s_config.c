/* k8s_config: kubeconfig resolution over the shapes kubectl writes (YAML
 * from `kubectl config set-*`, JSON from `kubectl config view --raw -o
 * json`), the merge of a $KUBECONFIG list, and the in-cluster files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/k8s_config.h"

/* Written by kubectl 1.32: set-cluster (one with --embed-certs of a CA
 * file holding "CA PEM\n"), set-credentials (a token, embedded client
 * cert and key, an exec plugin), set-context, use-context. */
static const char kubectl_yaml[] = "apiVersion: v1\n"
                                   "clusters:\n"
                                   "- cluster:\n"
                                   "    insecure-skip-tls-verify: true\n"
                                   "    server: https://dev.example:443/\n"
                                   "  name: dev\n"
                                   "- cluster:\n"
                                   "    certificate-authority-data: Q0EgUEVNCg==\n"
                                   "    server: https://10.0.0.1:6443\n"
                                   "  name: prod\n"
                                   "contexts:\n"
                                   "- context:\n"
                                   "    cluster: prod\n"
                                   "    namespace: team\n"
                                   "    user: alice\n"
                                   "  name: a\n"
                                   "- context:\n"
                                   "    cluster: dev\n"
                                   "    user: bob\n"
                                   "  name: b\n"
                                   "- context:\n"
                                   "    cluster: dev\n"
                                   "    user: ex\n"
                                   "  name: e\n"
                                   "current-context: a\n"
                                   "kind: Config\n"
                                   "preferences: {}\n"
                                   "users:\n"
                                   "- name: alice\n"
                                   "  user:\n"
                                   "    token: tok-alice\n"
                                   "- name: bob\n"
                                   "  user:\n"
                                   "    client-certificate-data: Q0EgUEVNCg==\n"
                                   "    client-key-data: Q0EgUEVNCg==\n"
                                   "- name: ex\n"
                                   "  user:\n"
                                   "    exec:\n"
                                   "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                   "      args: null\n"
                                   "      command: aws\n"
                                   "      env: null\n"
                                   "      interactiveMode: IfAvailable\n"
                                   "      provideClusterInfo: false\n";

/* `kubectl config view --raw -o json --minify` of the same file. */
static const char kubectl_json[] =
    "{\"kind\":\"Config\",\"apiVersion\":\"v1\",\"preferences\":{},"
    "\"clusters\":[{\"name\":\"prod\",\"cluster\":{\"server\":\"https://10.0.0.1:6443\","
    "\"certificate-authority-data\":\"Q0EgUEVNCg==\"}}],"
    "\"users\":[{\"name\":\"alice\",\"user\":{\"token\":\"tok-alice\"}}],"
    "\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"prod\",\"user\":\"alice\","
    "\"namespace\":\"team\"}}],\"current-context\":\"a\"}";

static void check_context_a(const k8s_config *c)
{
    assert_string_equal(c->server, "https://10.0.0.1:6443");
    assert_string_equal(c->ns, "team");
    assert_string_equal(c->token, "tok-alice");
    assert_int_equal(c->ca_len, 7);
    assert_memory_equal(c->ca_data, "CA PEM\n", 7);
    assert_null(c->ca_file);
    assert_false(c->insecure);
    assert_null(c->cert_data);
}

static void test_yaml_current_context(void **state)
{
    (void)state;
    k8s_config c;
    char err[256];
    assert_int_equal(k8s_config_parse_kubeconfig(kubectl_yaml, strlen(kubectl_yaml), NULL, NULL, &c,
                                                 err, sizeof(err)),
                     0);
    check_context_a(&c);
    k8s_config_free(&c);
}

static void test_json_view_raw(void **state)
{
    (void)state;
    k8s_config c;
    char err[256];
    assert_int_equal(k8s_config_parse_kubeconfig(kubectl_json, strlen(kubectl_json), NULL, NULL, &c,
                                                 err, sizeof(err)),
                     0);
    check_context_a(&c);
    k8s_config_free(&c);
}

static void test_client_cert_insecure(void **state)
{
    (void)state;
    k8s_config c;
    char err[256];
    assert_int_equal(k8s_config_parse_kubeconfig(kubectl_yaml, strlen(kubectl_yaml), "b", NULL, &c,
                                                 err, sizeof(err)),
                     0);
    assert_string_equal(c.server, "https://dev.example:443"); /* trailing slash dropped */
    assert_string_equal(c.ns, "default");
    assert_true(c.insecure);
    assert_null(c.token);
    assert_int_equal(c.cert_len, 7);
    assert_memory_equal(c.cert_data, "CA PEM\n", 7);
    assert_int_equal(c.key_len, 7);
    k8s_config_free(&c);
}

static void test_exec_refused(void **state)
{
    (void)state;
    k8s_config c;
    char err[256];
    assert_int_equal(k8s_config_parse_kubeconfig(kubectl_yaml, strlen(kubectl_yaml), "e", NULL, &c,
                                                 err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "exec"));
    assert_non_null(strstr(err, "not supported"));
    assert_null(c.server);
}

static void test_errors(void **state)
{
    (void)state;
    k8s_config c;
    char err[256];
    static const struct {
        const char *doc, *ctx, *want;
    } cases[] = {
        {"", NULL, "not a mapping"},
        {"[1]", NULL, "not a mapping"},
        {"clusters: []", NULL, "no current-context"},
        {"current-context: x", NULL, "context \"x\" not found"},
        {"contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x", NULL,
         "cluster \"c\" not found"},
        {"contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
         "clusters: [{name: c, cluster: {server: 'https://h'}}]",
         NULL, "user \"u\" not found"},
        {"contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n"
         "clusters: [{name: c, cluster: {server: 'ftp://h'}}]",
         NULL, "http(s) URL"},
        {"contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n"
         "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '@@'}}]",
         NULL, "bad certificate-authority-data"},
        {"contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
         "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
         "users: [{name: u, user: {client-certificate: c.pem}}]",
         NULL, "needs its key"},
        {"{a: [", NULL, "kubeconfig:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(k8s_config_parse_kubeconfig(cases[i].doc, strlen(cases[i].doc),
                                                     cases[i].ctx, NULL, &c, err, sizeof(err)),
                         -1);
        if (!strstr(err, cases[i].want)) fail_msg("case %zu: got \"%s\"", i, err);
    }
}

static void test_relative_paths(void **state)
{
    (void)state;
    static const char doc[] =
        "current-context: x\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority: ca.crt}}]\n"
        "users: [{name: u, user: {client-certificate: /abs/c.pem, client-key: k.pem, "
        "tokenFile: t}}]\n";
    k8s_config c;
    char err[256];
    assert_int_equal(
        k8s_config_parse_kubeconfig(doc, strlen(doc), NULL, "/etc/kube", &c, err, sizeof(err)), 0);
    assert_string_equal(c.ca_file, "/etc/kube/ca.crt");
    assert_string_equal(c.cert_file, "/abs/c.pem");
    assert_string_equal(c.key_file, "/etc/kube/k.pem");
    assert_string_equal(c.token_file, "/etc/kube/t");
    k8s_config_free(&c);
}

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

/* $KUBECONFIG a:b: the first file to name a thing wins, a missing file is
 * skipped, each file's relative paths are relative to it. */
static void test_merge_list(void **state)
{
    (void)state;
    char dir[] = "/tmp/k8s_cfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], list[800];
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    write_file(a, "current-context: one\n"
                  "users: [{name: u, user: {token: from-a}}]\n");
    write_file(b, "current-context: two\n"
                  "contexts: [{name: one, context: {cluster: c, user: u}}]\n"
                  "clusters: [{name: c, cluster: {server: 'https://b', certificate-authority: "
                  "ca}}]\n"
                  "users: [{name: u, user: {token: from-b}}]\n");
    snprintf(list, sizeof(list), "%s/missing:%s:%s", dir, a, b);
    k8s_config c;
    char err[256];
    assert_int_equal(k8s_config_kubeconfig(list, NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://b");
    assert_string_equal(c.token, "from-a");
    char want[300];
    snprintf(want, sizeof(want), "%s/ca", dir);
    assert_string_equal(c.ca_file, want);
    k8s_config_free(&c);
    snprintf(list, sizeof(list), "%s/missing", dir);
    assert_int_equal(k8s_config_kubeconfig(list, NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no file found"));
    unlink(a);
    unlink(b);
    rmdir(dir);
}

static void test_incluster(void **state)
{
    (void)state;
    char dir[] = "/tmp/k8s_sa_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tok[256], ca[256], ns[256];
    snprintf(tok, sizeof(tok), "%s/token", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(ns, sizeof(ns), "%s/namespace", dir);
    write_file(tok, "sa-token\n");
    write_file(ns, "aibrix-system\n");
    k8s_incluster_paths p = {tok, ca, ns};
    k8s_config c;
    char err[256];
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(k8s_config_incluster(&p, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(k8s_config_incluster(&p, &c, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.token, "sa-token");
    assert_string_equal(c.token_file, tok);
    assert_string_equal(c.ca_file, ca);
    assert_string_equal(c.ns, "aibrix-system");
    k8s_config_free(&c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    unlink(ns);
    assert_int_equal(k8s_config_incluster(&p, &c, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    assert_string_equal(c.ns, "default");
    k8s_config_free(&c);
    unlink(tok);
    assert_int_equal(k8s_config_incluster(&p, &c, err, sizeof(err)), -1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_current_context),
        cmocka_unit_test(test_json_view_raw),
        cmocka_unit_test(test_client_cert_insecure),
        cmocka_unit_test(test_exec_refused),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_merge_list),
        cmocka_unit_test(test_incluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
