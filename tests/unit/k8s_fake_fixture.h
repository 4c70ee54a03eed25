/* Shared by the unit tests that run against the fake Kubernetes API server
 * (tests/k8s/fake_apiserver.py, a test fixture): k8s_fake_start starts it
 * on a free port (python3; found beside the tests, ../k8s/, or at
 * $BRIX_FAKE_APISERVER), k8s_fake_stop stops it, k8s_fake_http is a
 * blocking request to it (the test's own view of the API, or its
 * control endpoints under /fake). Header-only; include after <cmocka.h>. Tests call
 * K8S_NEED_FAKE() first: skipped, with a message, when it did not start. */
#ifndef K8S_FAKE_FIXTURE_H
#define K8S_FAKE_FIXTURE_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t k8s_fake_pid;
static char k8s_fake_url[64];
static char k8s_fake_dir[] = "/tmp/k8s_fake_XXXXXX";

/* The repository's root (from this file's path), with a trailing '/'. */
static inline int k8s_fake_root(char *out, size_t cap)
{
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/");
    if (!cut) return -1;
    snprintf(out, cap, "%.*s", (int)(cut - f), f);
    return 0;
}

/* 0 when the fake runs (k8s_fake_url set); 0 too when it cannot (no python3
 * or fake: the tests skip); -1 when it failed to start. extra: more flags
 * of the fake, NULL-terminated (may be NULL). */
static inline int k8s_fake_start(const char *token, const char *const *extra)
{
    char py[2048], root[1024];
    const char *env = getenv("BRIX_FAKE_APISERVER");
    if (env && env[0])
        snprintf(py, sizeof(py), "%s", env);
    else if (k8s_fake_root(root, sizeof(root)) == 0)
        snprintf(py, sizeof(py), "%stests/k8s/fake_apiserver.py", root);
    else
        return 0;
    if (access(py, R_OK) != 0 || system("python3 -c '' 2>/dev/null") != 0) return 0;
    if (!mkdtemp(k8s_fake_dir)) return -1;
    char portfile[128];
    snprintf(portfile, sizeof(portfile), "%s/port", k8s_fake_dir);
    k8s_fake_pid = fork();
    if (k8s_fake_pid == 0) {
        char log[128];
        snprintf(log, sizeof(log), "%s/fake.log", k8s_fake_dir);
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(127);
        const char *argv[32] = {"python3",     py,       "--port",  "0",
                                "--port-file", portfile, "--token", token};
        size_t n = 8;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200 && !k8s_fake_url[0]; i++) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port > 0)
            snprintf(k8s_fake_url, sizeof(k8s_fake_url), "http://127.0.0.1:%d", port);
        else
            usleep(50000);
    }
    return k8s_fake_url[0] ? 0 : -1;
}

static inline void k8s_fake_stop(void)
{
    if (k8s_fake_pid <= 0) return;
    kill(k8s_fake_pid, SIGTERM);
    waitpid(k8s_fake_pid, NULL, 0);
    k8s_fake_pid = 0;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", k8s_fake_dir);
    if (system(cmd) != 0) return;
}

#define K8S_NEED_FAKE()                                                                            \
    do {                                                                                           \
        if (!k8s_fake_url[0]) {                                                                    \
            print_message("skipped: no fake API server (tests/k8s/fake_apiserver.py) or no "       \
                          "python3\n");                                                            \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static inline size_t k8s_fake_write(char *p, size_t sz, size_t n, void *ud)
{
    FILE *f = ud;
    return fwrite(p, sz, n, f);
}

/* A blocking request (token given; body NULL: none; ctype NULL: JSON).
 * Returns the HTTP code (0: no answer) and *out (may be NULL) the parsed
 * body (NULL when none or not JSON; the caller's). */
static inline long k8s_fake_http(const char *token, const char *method, const char *path,
                                 const char *body, const char *ctype, json_t **out)
{
    char url[1024], auth[256], ct[128];
    snprintf(url, sizeof(url), "%s%s", k8s_fake_url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(curl_slist_append(NULL, auth), ct);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, k8s_fake_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    long code = 0;
    if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    fclose(mem);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (out) *out = buf && len ? json_loadb(buf, len, 0, NULL) : NULL;
    free(buf);
    return code;
}

/* Applies a YAML file of the repository (path from its root) by POST; the
 * HTTP code. */
static inline long k8s_fake_apply_file(const char *token, const char *rel, const char *coll)
{
    char root[1024], path[2048];
    if (k8s_fake_root(root, sizeof(root)) != 0) return 0;
    snprintf(path, sizeof(path), "%s%s", root, rel);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(f);
    fclose(mem);
    long code = k8s_fake_http(token, "POST", coll, buf, "application/yaml", NULL);
    free(buf);
    return code;
}

#endif
