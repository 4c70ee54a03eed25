/* gw_alog, the gateway's access log (issue 13, finding 9: one synchronous
 * stderr line per request wrote 851 MB in 5 minutes on the request loop):
 * lines wait in a buffer until it fills, a timer fires or the log closes;
 * after a rename and a reopen (logrotate, SIGHUP) the later lines go to a
 * new file; sampling keeps every error; client strings stay on one line;
 * writes to a pipe are cut at line ends within PIPE_BUF. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gateway/gw_alog.h"

typedef struct fx {
    char dir[64];
    char path[128];
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_gw_alog.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/access.log", f->dir);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    char p[160];
    snprintf(p, sizeof(p), "%s/access.log", f->dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/access.log.1", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The file's text (static buffer; "" when absent). */
static const char *slurp(const char *path)
{
    static char b[1 << 20];
    b[0] = '\0';
    FILE *fp = fopen(path, "rb");
    if (!fp) return b;
    size_t n = fread(b, 1, sizeof(b) - 1, fp);
    fclose(fp);
    b[n] = '\0';
    return b;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static gw_alog_rec rec(const char *model, int status, int ok)
{
    return (gw_alog_rec){.id = "brx-1",
                         .path = "/v1/completions",
                         .model = model,
                         .engine = "127.0.0.1:1",
                         .strategy = "random",
                         .status = status,
                         .ok = ok,
                         .ttft_ms = 1.5,
                         .ms = 2.5,
                         .prompt_tokens = 3,
                         .completion_tokens = 4};
}

static void test_buffered_until_flush(void **st)
{
    fx *f = *st;
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 1, NULL, err, sizeof(err)), 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    for (int i = 0; i < 10; i++) {
        gw_alog_rec r = rec("m", 200, 1);
        gw_alog_request(&a, &r);
    }
    assert_string_equal(slurp(f->path), ""); /* nothing written per request */
    assert_int_equal(a.writes, 0);
    gw_alog_flush(&a);
    assert_int_equal(a.writes, 1); /* ten lines, one write */
    const char *t = slurp(f->path);
    assert_int_equal(count(t, "\n"), 10);
    assert_non_null(strstr(t, " id=brx-1 status=200 path=/v1/completions model=\"m\" user=- "
                              "engine=127.0.0.1:1 strategy=random ttft_ms=1.5 ms=2.5 "
                              "tokens=3+4\n"));
    gw_alog_close(&a);
}

static void test_full_buffer_writes(void **st)
{
    fx *f = *st;
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 1, NULL, err, sizeof(err)), 0);
    char line[201];
    memset(line, 'x', 199);
    line[199] = '\n';
    line[200] = '\0';
    for (int i = 0; i < 1000; i++) /* 200 kB through a 64 KiB buffer */
        gw_alog_append(&a, line, 200);
    assert_true(a.writes >= 2 && a.writes <= 4);
    gw_alog_close(&a); /* writes the rest */
    const char *t = slurp(f->path);
    assert_int_equal(strlen(t), 200000);
    assert_int_equal(count(t, line), 1000); /* every line whole */
}

static void test_reopen_after_rename(void **st)
{
    fx *f = *st;
    unsigned gen = 0;
    gw_alog a;
    char err[256], moved[160];
    snprintf(moved, sizeof(moved), "%s.1", f->path);
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 1, &gen, err, sizeof(err)), 0);
    gw_alog_append(&a, "before-rename\n", 14);
    gw_alog_flush(&a);
    assert_int_equal(rename(f->path, moved), 0);   /* logrotate */
    gw_alog_append(&a, "before-hup\n", 11);        /* still the old file's */
    __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED); /* SIGHUP */
    gw_alog_append(&a, "after-hup\n", 10);
    gw_alog_close(&a);
    assert_string_equal(slurp(moved), "before-rename\nbefore-hup\n");
    assert_string_equal(slurp(f->path), "after-hup\n");
}

static void test_reopen_failure_keeps_old_file(void **st)
{
    fx *f = *st;
    unsigned gen = 0;
    gw_alog a;
    char err[256], moved[160];
    snprintf(moved, sizeof(moved), "%s.1", f->path);
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 1, &gen, err, sizeof(err)), 0);
    assert_int_equal(rename(f->path, moved), 0);
    /* a directory where the file was: it cannot be opened again, even by
     * root (a read-only folder would not stop root) */
    assert_int_equal(mkdir(f->path, 0700), 0);
    __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);
    gw_alog_append(&a, "kept\n", 5);
    gw_alog_close(&a);
    assert_int_equal(rmdir(f->path), 0);
    assert_string_equal(slurp(moved), "kept\n");
}

static void test_sampling_keeps_errors(void **st)
{
    fx *f = *st;
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 10, NULL, err, sizeof(err)), 0);
    for (int i = 0; i < 100; i++) {
        gw_alog_rec r = rec("m", 200, 1);
        gw_alog_request(&a, &r);
        if (i % 20 == 0) {
            r = rec("nope", 404, 0);
            gw_alog_request(&a, &r);
            r = rec("m", 200, 0); /* cut short (engine died mid-answer) */
            gw_alog_request(&a, &r);
            r = rec("m", 503, 0);
            gw_alog_request(&a, &r);
        }
    }
    gw_alog_close(&a);
    const char *t = slurp(f->path);
    assert_int_equal(count(t, "status=404"), 5);
    assert_int_equal(count(t, "status=503"), 5);
    assert_int_equal(count(t, "status=200"), 10 + 5);
}

static void test_client_strings_escaped(void **st)
{
    fx *f = *st;
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, NULL, f->path, 1, NULL, err, sizeof(err)), 0);
    gw_alog_rec r = rec("x\nreq forged \"y\" status=200", 404, 0);
    r.user = "eve\r\n";
    char huge[8000];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    gw_alog_request(&a, &r);
    r.model = huge; /* cut, the line stays bounded */
    gw_alog_request(&a, &r);
    gw_alog_close(&a);
    const char *t = slurp(f->path);
    assert_int_equal(count(t, "\n"), 2);
    assert_non_null(
        strstr(t, " model=\"x\\nreq forged \\\"y\\\" status=200\" user=\"eve\\r\\n\" "));
    const char *second = strchr(t, '\n') + 1;
    assert_true(strlen(second) < 600);
    assert_non_null(strstr(second, "AAA...\" user="));
}

static void test_off(void **st)
{
    (void)st;
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, NULL, "off", 1, NULL, err, sizeof(err)), 0);
    gw_alog_rec r = rec("m", 500, 0);
    gw_alog_request(&a, &r);
    gw_alog_flush(&a);
    assert_int_equal(a.lines, 0);
    gw_alog_close(&a);
    assert_int_equal(gw_alog_init(&a, NULL, "/nonexistent-dir/x.log", 1, NULL, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
    gw_alog_close(&a); /* harmless after a failed init */
}

/* "-" on a pipe (stderr under a supervisor): pieces of at most PIPE_BUF
 * bytes, each ending a line, so lines of several workers never mix. */
static void test_pipe_pieces(void **st)
{
    (void)st;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stderr);
    int saved = dup(2);
    assert_int_equal(dup2(p[1], 2), 2);
    gw_alog a;
    char err[256];
    int rc = gw_alog_init(&a, NULL, "-", 1, NULL, err, sizeof(err));
    char line[101];
    memset(line, 'p', 99);
    line[99] = '\n';
    for (int i = 0; i < 200 && rc == 0; i++) /* 20 kB: fits the pipe */
        gw_alog_append(&a, line, 100);
    gw_alog_flush(&a);
    uint64_t writes = a.writes;
    gw_alog_close(&a);
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    assert_int_equal(rc, 0);
    assert_true(writes >= 20000 / PIPE_BUF + 1);
    static char buf[32768];
    size_t got = 0;
    ssize_t n;
    while ((n = read(p[0], buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    assert_int_equal(got, 20000);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(buf[i], i % 100 == 99 ? '\n' : 'p');
}

static void on_stop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* A lone line is written by the timer, without more traffic or a close. */
static void test_timer_flush(void **st)
{
    fx *f = *st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_alog a;
    char err[256];
    assert_int_equal(gw_alog_init(&a, &loop, f->path, 1, NULL, err, sizeof(err)), 0);
    gw_alog_append(&a, "lonely\n", 7);
    assert_int_equal(a.timer_on, 1);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    uv_timer_start(&stop, on_stop, GW_ALOG_FLUSH_MS + 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(slurp(f->path), "lonely\n");
    assert_int_equal(a.timer_on, 0); /* idle: no timer runs */
    gw_alog_close(&a);
    uv_close((uv_handle_t *)&stop, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buffered_until_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_buffer_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_failure_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampling_keeps_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_strings_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_flush, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
