/* Tests for ctl_artifact: URL classification, local paths, hub ids, refused
 * schemes, and http downloads from a bx_http server run on a libuv loop in a
 * thread on 127.0.0.1 (content, cache hits with the server gone, checksum
 * mismatch, 404, size limit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bx_http.h"
#include "ctl/ctl_artifact.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BODY "brix lora adapter weights\n"
#define BODY_SHA "fab3a1bfdda4d9e1ec20faf76f478a70191581953651bd9fb745f1f671b58b33"
#define OTHER "other adapter\n"
#define OTHER_SHA "f241016113c5d246478ddedef4b4168a2c7db1fc854f448e202277c48af3cbfb"
#define WRONG_SHA "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- helpers ---- */

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    assert_int_equal(fclose(f), 0);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Regular files in dir: total count and how many look like temp files. */
static void count_files(const char *dir, int *files, int *temps)
{
    *files = *temps = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        (*files)++;
        if (strstr(de->d_name, ".tmp.")) (*temps)++;
    }
    assert_int_equal(closedir(d), 0);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    assert_true(strncmp(dir, "/tmp/brix-art-", 14) == 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- parse and local/hub resolution ---- */

static void expect_parse(const char *url, ctl_artifact_kind want, const char *out_want)
{
    ctl_artifact_kind k = 0;
    char out[256], err[256] = "";
    int rc = ctl_artifact_parse(url, &k, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("parse %s: %s", url, err);
    assert_int_equal(k, want);
    assert_string_equal(out, out_want);
}

static void expect_parse_err(const char *url, const char *needle)
{
    ctl_artifact_kind k = 0;
    char out[256], err[256] = "";
    assert_int_equal(ctl_artifact_parse(url, &k, out, sizeof(out), err, sizeof(err)), -1);
    if (!strstr(err, needle)) fail_msg("parse %s: \"%s\" lacks \"%s\"", url, err, needle);
}

static void test_parse(void **state)
{
    (void)state;
    expect_parse("/models/lora-a", CTL_ARTIFACT_LOCAL, "/models/lora-a");
    expect_parse("file:///models/lora%20a", CTL_ARTIFACT_LOCAL, "/models/lora a");
    expect_parse("FILE://localhost/x", CTL_ARTIFACT_LOCAL, "/x");
    expect_parse("huggingface://org/name", CTL_ARTIFACT_HUB, "org/name");
    expect_parse("hf://jeeejeee/llama32-3b-text2sql-spider/", CTL_ARTIFACT_HUB,
                 "jeeejeee/llama32-3b-text2sql-spider");
    expect_parse("org/name_v1.2", CTL_ARTIFACT_HUB, "org/name_v1.2");
    expect_parse("https://h.example/a/b.safetensors?sig=1", CTL_ARTIFACT_HTTP,
                 "https://h.example/a/b.safetensors?sig=1");
    expect_parse("http://127.0.0.1:8/x", CTL_ARTIFACT_HTTP, "http://127.0.0.1:8/x");

    expect_parse_err("s3://bucket/lora", "s3:// is not supported locally");
    expect_parse_err("gcs://bucket/lora", "gcs:// is not supported locally");
    expect_parse_err("gs://bucket/lora", "not supported locally");
    expect_parse_err("tos://bucket/lora", "not supported locally");
    expect_parse_err("ftp://h/x", "unsupported URL scheme \"ftp\"");
    expect_parse_err("relative/dir/x", "not an absolute path");
    expect_parse_err("lora", "not an absolute path");
    expect_parse_err("./org/name", "not an absolute path");
    expect_parse_err("org/-name", "not an absolute path");
    expect_parse_err("huggingface://org", "not a hub repo id");
    expect_parse_err("huggingface://org/a/b", "not a hub repo id");
    expect_parse_err("file://otherhost/x", "only local files");
    expect_parse_err("file:///a%2", "percent-escape");
    expect_parse_err("file:///a%00b", "percent-escape");
    expect_parse_err("http:///nohost", "no host");
    expect_parse_err("", "empty");
    expect_parse_err("/a b", "space or control");
    expect_parse_err("1http://x/y", "no valid URL scheme");

    char big[CTL_ARTIFACT_URL_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = 0;
    expect_parse_err(big, "longer than");

    /* A result that does not fit the caller's buffer is an error. */
    ctl_artifact_kind k;
    char small[4], err[128];
    assert_int_equal(ctl_artifact_parse("/abcdef", &k, small, sizeof(small), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not fit"));
}

static void test_local_and_hub(void **state)
{
    (void)state;
    char dir[] = "/tmp/brix-art-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256], spaced[256], url[300];
    snprintf(file, sizeof(file), "%s/adapter.bin", dir);
    snprintf(spaced, sizeof(spaced), "%s/my lora", dir);
    write_file(file, BODY);
    assert_int_equal(mkdir(spaced, 0755), 0);

    ctl_artifact_result r;
    char err[512];
    assert_int_equal(ctl_artifact_resolve(NULL, file, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, CTL_ARTIFACT_LOCAL);
    assert_string_equal(r.lora_path, file);
    assert_int_equal(r.bytes, strlen(BODY));

    /* Checksums of local files are checked; nothing is deleted. */
    assert_int_equal(ctl_artifact_resolve(NULL, file, BODY_SHA, &r, err, sizeof(err)), 0);
    assert_int_equal(ctl_artifact_resolve(NULL, file, WRONG_SHA, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sha256 mismatch"));
    assert_int_equal(access(file, F_OK), 0);
    assert_int_equal(ctl_artifact_resolve(NULL, file, "abc", &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "64 hex digits"));

    /* file:// with a percent-escaped directory name. */
    snprintf(url, sizeof(url), "file://%s/my%%20lora", dir);
    assert_int_equal(ctl_artifact_resolve(NULL, url, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, CTL_ARTIFACT_LOCAL);
    assert_string_equal(r.lora_path, spaced);
    assert_int_equal(r.bytes, 0);

    /* Missing. */
    snprintf(url, sizeof(url), "%s/nope", dir);
    assert_int_equal(ctl_artifact_resolve(NULL, url, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_string_equal(r.lora_path, "");
    snprintf(url, sizeof(url), "file://%s/nope", dir);
    assert_int_equal(ctl_artifact_resolve(NULL, url, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not exist"));

    /* Hub ids pass through without any I/O. */
    assert_int_equal(
        ctl_artifact_resolve(NULL, "huggingface://org/name", NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.kind, CTL_ARTIFACT_HUB);
    assert_string_equal(r.lora_path, "org/name");
    assert_int_equal(ctl_artifact_resolve(NULL, "org/name", NULL, &r, err, sizeof(err)), 0);
    assert_string_equal(r.lora_path, "org/name");

    assert_int_equal(ctl_artifact_resolve(NULL, "s3://b/k", NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not supported locally"));
    rm_rf(dir);
}

/* ---- http ---- */

typedef struct srv {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t th;
    bx_http_server *s;
    int port;
    atomic_int requests;
} srv;

static void handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    srv *s = ud;
    atomic_fetch_add(&s->requests, 1);
    int rc;
    if (strcmp(req->path, "/a/adapter.bin") == 0) {
        rc = bx_http_res_send(res, 200, "application/octet-stream", BODY, strlen(BODY));
    } else if (strcmp(req->path, "/b/other.bin") == 0) {
        rc = bx_http_res_send(res, 200, "application/octet-stream", OTHER, strlen(OTHER));
    } else if (strcmp(req->path, "/big") == 0) {
        static char big[4096];
        memset(big, 'x', sizeof(big));
        rc = bx_http_res_send(res, 200, "application/octet-stream", big, sizeof(big));
    } else {
        rc = bx_http_res_send(res, 404, "text/plain", "not found\n", 10);
    }
    assert_int_equal(rc, 0);
}

static void on_stop(uv_async_t *a)
{
    srv *s = a->data;
    bx_http_server_close(s->s, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void srv_thread(void *arg)
{
    srv *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void srv_start(srv *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(uv_async_init(&s->loop, &s->stop, on_stop), 0);
    s->stop.data = s;
    assert_int_equal(bx_http_server_init(&s->s, &s->loop, NULL, handler, s), 0);
    s->port = bx_http_server_listen(s->s, "127.0.0.1", 0, 0);
    assert_true(s->port > 0);
    assert_int_equal(uv_thread_create(&s->th, srv_thread, s), 0);
}

static void srv_stop(srv *s)
{
    assert_int_equal(uv_async_send(&s->stop), 0);
    assert_int_equal(uv_thread_join(&s->th), 0);
    assert_int_equal(uv_loop_close(&s->loop), 0);
}

static void test_http(void **state)
{
    (void)state;
    char dir[] = "/tmp/brix-art-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cache[256];
    snprintf(cache, sizeof(cache), "%s/cache/adapters", dir); /* created by resolve */
    ctl_artifact_opts o;
    ctl_artifact_opts_default(&o);
    o.cache_dir = cache;
    o.connect_timeout_ms = 5000;
    o.timeout_ms = 20000;

    srv s;
    srv_start(&s);
    char url[256], url2[256], url404[256], urlbig[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/a/adapter.bin", s.port);
    snprintf(url2, sizeof(url2), "http://127.0.0.1:%d/b/other.bin?sig=secret", s.port);
    snprintf(url404, sizeof(url404), "http://127.0.0.1:%d/missing", s.port);
    snprintf(urlbig, sizeof(urlbig), "http://127.0.0.1:%d/big", s.port);

    ctl_artifact_result r;
    char err[1024] = "";
    int files, temps;

    /* Download: content, place, name. */
    if (ctl_artifact_resolve(&o, url, NULL, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(r.kind, CTL_ARTIFACT_HTTP);
    assert_int_equal(r.cache_hit, 0);
    assert_int_equal(r.bytes, strlen(BODY));
    assert_int_equal(strncmp(r.lora_path, cache, strlen(cache)), 0);
    /* <cache>/<64 hex of sha256(URL)>-adapter.bin */
    const char *base = r.lora_path + strlen(cache);
    assert_int_equal(base[0], '/');
    assert_int_equal(strspn(base + 1, "0123456789abcdef"), 64);
    assert_string_equal(base + 65, "-adapter.bin");
    char first_path[CTL_ARTIFACT_PATH_MAX];
    snprintf(first_path, sizeof(first_path), "%s", r.lora_path);
    size_t len;
    const char *got = read_file(first_path, &len);
    assert_int_equal(len, strlen(BODY));
    assert_memory_equal(got, BODY, len);
    assert_int_equal(atomic_load(&s.requests), 1);

    /* Cache hit with the right checksum: no request. */
    assert_int_equal(ctl_artifact_resolve(&o, url, BODY_SHA, &r, err, sizeof(err)), 0);
    assert_int_equal(r.cache_hit, 1);
    assert_string_equal(r.lora_path, first_path);
    assert_int_equal(atomic_load(&s.requests), 1);

    /* Checksum mismatch on download: fails, nothing left behind, and the
     * query string (a secret) is not in the message. */
    assert_int_equal(ctl_artifact_resolve(&o, url2, WRONG_SHA, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sha256 mismatch"));
    assert_non_null(strstr(err, OTHER_SHA));
    assert_null(strstr(err, "secret"));
    assert_int_equal(atomic_load(&s.requests), 2);
    count_files(cache, &files, &temps);
    assert_int_equal(files, 1);
    assert_int_equal(temps, 0);

    /* The same URL with the right checksum (upper case accepted). */
    char upper[65];
    for (int i = 0; i < 64; i++) {
        char c = OTHER_SHA[i];
        upper[i] = (c >= 'a' && c <= 'f') ? (char)(c - 32) : c;
    }
    upper[64] = 0;
    if (ctl_artifact_resolve(&o, url2, upper, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(r.cache_hit, 0);
    got = read_file(r.lora_path, &len);
    assert_int_equal(len, strlen(OTHER));
    assert_memory_equal(got, OTHER, len);
    assert_non_null(strstr(r.lora_path, "-other.bin"));
    char second_path[CTL_ARTIFACT_PATH_MAX];
    snprintf(second_path, sizeof(second_path), "%s", r.lora_path);

    /* 404 names the status; nothing cached. */
    assert_int_equal(ctl_artifact_resolve(&o, url404, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "HTTP 404"));
    count_files(cache, &files, &temps);
    assert_int_equal(files, 2);
    assert_int_equal(temps, 0);

    /* Size limit. */
    o.max_bytes = 1000;
    assert_int_equal(ctl_artifact_resolve(&o, urlbig, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "size limit of 1000 bytes"));
    count_files(cache, &files, &temps);
    assert_int_equal(files, 2);
    assert_int_equal(temps, 0);
    o.max_bytes = 4096;
    assert_int_equal(ctl_artifact_resolve(&o, urlbig, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.bytes, 4096);
    assert_int_equal(unlink(r.lora_path), 0);

    srv_stop(&s);

    /* Server gone: cached URLs still resolve, with or without checksum. */
    err[0] = 0;
    if (ctl_artifact_resolve(&o, url, NULL, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(r.cache_hit, 1);
    assert_string_equal(r.lora_path, first_path);
    assert_int_equal(r.bytes, strlen(BODY));
    assert_int_equal(ctl_artifact_resolve(&o, url, BODY_SHA, &r, err, sizeof(err)), 0);
    assert_int_equal(r.cache_hit, 1);

    /* An uncached URL cannot be fetched. */
    assert_int_equal(ctl_artifact_resolve(&o, url404, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "download of"));
    assert_non_null(strstr(err, "127.0.0.1"));

    /* A cached file that does not match the wanted checksum is dropped and
     * fetched again, which fails now: the stale file is gone. */
    assert_int_equal(ctl_artifact_resolve(&o, url2, BODY_SHA, &r, err, sizeof(err)), -1);
    assert_int_equal(access(second_path, F_OK), -1);
    assert_int_equal(access(first_path, F_OK), 0);

    /* No cache directory. */
    o.cache_dir = "";
    assert_int_equal(ctl_artifact_resolve(&o, url, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cache directory"));

    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_local_and_hub),
        cmocka_unit_test(test_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
