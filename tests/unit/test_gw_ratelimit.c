/* Tests for gw_ratelimit against a real redis-server that each test starts
 * on a free loopback port (no persistence) and kills at teardown. The keys
 * are checked with a plain synchronous hiredis connection, so they must be
 * exactly AIBrix's. A fake clock pins the 60 s window so no test depends on
 * where in the minute it runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "gateway/gw_ratelimit.h"

typedef struct fx {
    pid_t redis;
    int port;
    redisContext *sync;
    uv_loop_t loop;
    uv_timer_t tick;
    gw_ratelimit *rl;
    int64_t now;                   /* fake unix seconds */
    int health_calls, health_last; /* the limiter's on_health reports */
} fx;

typedef struct result {
    int called;
    gw_rl_verdict v;
    int retry;
} result;

/* ---- redis-server ------------------------------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts redis-server on f->port and connects f->sync (bounded wait). */
static int redis_start(fx *f)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", f->port);
    char *argv[] = {"redis-server", "--port", port,          "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no",     "--daemonize", "no",     NULL};
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) { /* child: dies with the test, even if the test crashes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp("redis-server", argv);
        _exit(127);
    }
    f->redis = pid;
    for (int i = 0; i < 250; i++) { /* up to ~5 s */
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", f->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            if (ok) {
                f->sync = c;
                return 0;
            }
        }
        if (c) redisFree(c);
        sleep_ms(20);
    }
    return -1;
}

static void redis_kill(fx *f)
{
    if (f->sync) redisFree(f->sync);
    f->sync = NULL;
    if (f->redis > 0) {
        kill(f->redis, SIGCONT);
        kill(f->redis, SIGKILL);
        waitpid(f->redis, NULL, 0);
    }
    f->redis = 0;
}

static redisReply *cmd(fx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->sync, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static void set_user(fx *f, const char *name, const char *json)
{
    redisReply *r = cmd(f, "SET aibrix-users/%s %s", name, json);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* The counter as AIBrix names it, computed here independently. */
static void counter_name(fx *f, const char *user, const char *what, char *out, size_t cap)
{
    snprintf(out, cap, "aibrix:%s_%s_CURRENT:%d", user, what, (int)((f->now / 60) % 64));
}

/* GET of the counter: -1 when the key is missing. */
static long long get_counter(fx *f, const char *user, const char *what)
{
    char key[512];
    counter_name(f, user, what, key, sizeof(key));
    redisReply *r = cmd(f, "GET %s", key);
    long long v = -1;
    if (r->type == REDIS_REPLY_STRING) v = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return v;
}

static void set_counter(fx *f, const char *user, const char *what, long long v)
{
    char key[512];
    counter_name(f, user, what, key, sizeof(key));
    freeReplyObject(cmd(f, "SET %s %lld", key, v));
}

static long long ttl_of(fx *f, const char *user, const char *what)
{
    char key[512];
    counter_name(f, user, what, key, sizeof(key));
    redisReply *r = cmd(f, "TTL %s", key);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
    freeReplyObject(r);
    return v;
}

/* ---- loop helpers ------------------------------------------------------ */

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

typedef int (*pred_fn)(fx *f, void *arg);

/* Runs the loop until pred holds or max_ms of loop time passed. */
static int run_until(fx *f, pred_fn pred, void *arg, uint64_t max_ms)
{
    uv_update_time(&f->loop);
    uint64_t deadline = uv_now(&f->loop) + max_ms;
    uv_timer_start(&f->tick, tick_cb, 2, 2);
    int ok = 0;
    while (!(ok = pred(f, arg)) && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return ok;
}

static int p_called(fx *f, void *arg)
{
    (void)f;
    return ((result *)arg)->called > 0;
}

static int p_connected(fx *f, void *arg)
{
    (void)arg;
    return gw_ratelimit_connected(f->rl);
}

static int p_down(fx *f, void *arg)
{
    (void)arg;
    return !gw_ratelimit_connected(f->rl);
}

static int p_reconnected(fx *f, void *arg)
{
    gw_ratelimit_stats st;
    gw_ratelimit_stats_get(f->rl, &st);
    return st.reconnects > *(uint64_t *)arg;
}

static int p_idle(fx *f, void *arg)
{
    (void)arg;
    gw_ratelimit_stats st;
    gw_ratelimit_stats_get(f->rl, &st);
    return st.inflight == 0;
}

static void on_verdict(void *ud, gw_rl_verdict v, int retry)
{
    result *r = ud;
    r->called++;
    r->v = v;
    r->retry = retry;
}

static void on_health(void *ud, int up)
{
    fx *f = ud;
    f->health_calls++;
    f->health_last = up;
}

static int64_t fake_now(void *ud)
{
    return *(int64_t *)ud;
}

static void opts_for_test(fx *f, gw_ratelimit_opts *o)
{
    gw_ratelimit_opts_default(o);
    o->now_s = fake_now;
    o->now_ud = &f->now;
    o->reconnect_min_ms = 20;
    o->reconnect_max_ms = 200;
    o->connect_timeout_ms = 500;
    o->on_health = on_health;
    o->health_ud = f;
}

static void start_rl(fx *f, const gw_ratelimit_opts *o)
{
    char err[128];
    assert_int_equal(gw_ratelimit_init(&f->rl, &f->loop, "127.0.0.1", f->port, o, err, sizeof(err)),
                     0);
    assert_true(run_until(f, p_connected, NULL, 5000));
}

/* One check, run to its answer; asserts the answer is never synchronous. */
static result check(fx *f, const char *user)
{
    result r = {0};
    gw_ratelimit_req *req = gw_ratelimit_check(f->rl, user, on_verdict, &r);
    assert_non_null(req);
    assert_int_equal(r.called, 0);
    assert_true(run_until(f, p_called, &r, 5000));
    assert_int_equal(r.called, 1);
    return r;
}

static gw_ratelimit_stats stats(fx *f)
{
    gw_ratelimit_stats st;
    gw_ratelimit_stats_get(f->rl, &st);
    return st;
}

/* ---- fixture ----------------------------------------------------------- */

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    f->port = free_port();
    /* A fixed time 17 s into some minute: Retry-After is then 43. */
    f->now = ((int64_t)time(NULL) / 60) * 60 + 17;
    if (f->port <= 0 || redis_start(f) != 0) {
        redis_kill(f);
        free(f);
        return -1;
    }
    if (uv_loop_init(&f->loop) != 0 || uv_timer_init(&f->loop, &f->tick) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->redis > 0) kill(f->redis, SIGCONT);
    if (f->rl) gw_ratelimit_close(f->rl);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* everything closes; nothing may stay */
    int rc = uv_loop_close(&f->loop);
    redis_kill(f);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- tests ------------------------------------------------------------- */

static void test_pure_helpers(void **state)
{
    (void)state;
    char k[128];
    assert_int_equal(gw_ratelimit_user_key("alice", k, sizeof(k)), 18);
    assert_string_equal(k, "aibrix-users/alice");
    /* 1700000000 / 60 = 28333333, % 64 = 21 */
    assert_true(gw_ratelimit_counter_key("alice", 0, 1700000000, k, sizeof(k)) > 0);
    assert_string_equal(k, "aibrix:alice_RPM_CURRENT:21");
    assert_true(gw_ratelimit_counter_key("alice", 1, 1700000000, k, sizeof(k)) > 0);
    assert_string_equal(k, "aibrix:alice_TPM_CURRENT:21");
    assert_int_equal(gw_ratelimit_counter_key("alice", 1, 1700000000, k, 10), -1);
    assert_int_equal(gw_ratelimit_retry_after(1700000000), 40); /* 1700000000 % 60 = 20 */
    assert_int_equal(gw_ratelimit_retry_after(1699999980), 60);
    assert_int_equal(gw_ratelimit_retry_after(1700000039), 1);

    int64_t rpm = 0, tpm = 0;
    const char *zeros = "{\"name\":\"u\",\"rpm\":0,\"tpm\":0}";
    assert_int_equal(gw_ratelimit_parse_user(zeros, strlen(zeros), &rpm, &tpm), 0);
    assert_int_equal(rpm, 100);
    assert_int_equal(tpm, 100000);
    const char *rpm5 = "{\"name\":\"u\",\"rpm\":5}";
    assert_int_equal(gw_ratelimit_parse_user(rpm5, strlen(rpm5), &rpm, &tpm), 0);
    assert_int_equal(rpm, 5);
    assert_int_equal(tpm, 5000);
    const char *both = "{\"rpm\":7,\"tpm\":9}";
    assert_int_equal(gw_ratelimit_parse_user(both, strlen(both), &rpm, &tpm), 0);
    assert_int_equal(rpm, 7);
    assert_int_equal(tpm, 9);
    const char *bad[] = {"", "[]", "{\"rpm\":\"3\"}", "{\"rpm\":1", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_ratelimit_parse_user(bad[i], strlen(bad[i]), &rpm, &tpm), -1);
}

static void test_rpm_limit(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "alice", "{\"name\":\"alice\",\"rpm\":3,\"tpm\":0}");

    for (int i = 0; i < 3; i++)
        assert_int_equal(check(f, "alice").v, GW_RL_ALLOW);
    result r = check(f, "alice");
    assert_int_equal(r.v, GW_RL_REJECT_RPM);
    assert_true(r.retry >= 1 && r.retry <= 60);
    assert_int_equal(r.retry, 43);
    /* A rejected request is not counted. */
    assert_int_equal(check(f, "alice").v, GW_RL_REJECT_RPM);

    assert_int_equal(get_counter(f, "alice", "RPM"), 3);
    long long ttl = ttl_of(f, "alice", "RPM");
    assert_true(ttl >= 1 && ttl <= 60);
    assert_int_equal(get_counter(f, "alice", "TPM"), -1); /* only read so far */

    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.allowed, 3);
    assert_int_equal(st.rejected_rpm, 2);
    assert_int_equal(st.redis_errors, 0);
    assert_int_equal(st.cache_misses, 1); /* one GET of the record, then cached */
    assert_int_equal(st.cache_hits, 4);

    /* The next window starts from zero. */
    f->now += 60;
    assert_int_equal(check(f, "alice").v, GW_RL_ALLOW);
    assert_int_equal(get_counter(f, "alice", "RPM"), 1);
}

static void test_tpm_limit(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "bob", "{\"name\":\"bob\",\"rpm\":100,\"tpm\":50}");

    assert_int_equal(check(f, "bob").v, GW_RL_ALLOW);
    gw_ratelimit_account(f->rl, "bob", 30);
    assert_int_equal(check(f, "bob").v, GW_RL_ALLOW); /* 30 < 50 */
    gw_ratelimit_account(f->rl, "bob", 25);
    result r = check(f, "bob"); /* 55 >= 50 */
    assert_int_equal(r.v, GW_RL_REJECT_TPM);
    assert_int_equal(r.retry, 43);

    assert_int_equal(get_counter(f, "bob", "TPM"), 55);
    long long ttl = ttl_of(f, "bob", "TPM");
    assert_true(ttl >= 1 && ttl <= 60);
    /* AIBrix's order: the RPM counter grew before the TPM check refused. */
    assert_int_equal(get_counter(f, "bob", "RPM"), 3);
    assert_int_equal(stats(f).rejected_tpm, 1);

    /* Nothing to account: no change. */
    gw_ratelimit_account(f->rl, "bob", 0);
    gw_ratelimit_account(f->rl, "", 10);
    assert_int_equal(check(f, "bob").v, GW_RL_REJECT_TPM);
    assert_int_equal(get_counter(f, "bob", "TPM"), 55);
}

static void test_default_limits(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "carol", "{\"name\":\"carol\",\"rpm\":0,\"tpm\":0}");

    set_counter(f, "carol", "RPM", 99);
    assert_int_equal(check(f, "carol").v, GW_RL_ALLOW); /* 99 < 100, now 100 */
    assert_int_equal(get_counter(f, "carol", "RPM"), 100);
    assert_int_equal(check(f, "carol").v, GW_RL_REJECT_RPM);

    set_counter(f, "carol", "RPM", 0);
    set_counter(f, "carol", "TPM", 99999);
    assert_int_equal(check(f, "carol").v, GW_RL_ALLOW); /* tpm 100 * 1000 */
    set_counter(f, "carol", "TPM", 100000);
    assert_int_equal(check(f, "carol").v, GW_RL_REJECT_TPM);

    /* A record that is not JSON: the Redis-down policy (fail open). */
    set_user(f, "dave", "not-json");
    assert_int_equal(check(f, "dave").v, GW_RL_FAIL_OPEN);
    assert_int_equal(stats(f).bad_records, 1);
    assert_int_equal(get_counter(f, "dave", "RPM"), -1);
}

static void test_unknown_user(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o); /* default policy: no limit */

    for (int i = 0; i < 3; i++)
        assert_int_equal(check(f, "ghost").v, GW_RL_ALLOW);
    assert_int_equal(get_counter(f, "ghost", "RPM"), -1); /* nothing written */
    gw_ratelimit_account(f->rl, "ghost", 100);
    assert_int_equal(check(f, "ghost").v, GW_RL_ALLOW);
    assert_int_equal(get_counter(f, "ghost", "TPM"), -1);
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.unknown_users, 4);
    assert_int_equal(st.cache_misses, 1); /* the miss is cached too */

    /* No user header: allowed without Redis. */
    assert_int_equal(check(f, "").v, GW_RL_ALLOW);
    assert_int_equal(check(f, NULL).v, GW_RL_ALLOW);

    gw_ratelimit_close(f->rl);
    o.unknown = GW_RL_UNKNOWN_REJECT;
    start_rl(f, &o);
    assert_int_equal(check(f, "ghost").v, GW_RL_REJECT_UNKNOWN);
    char longname[GW_RL_USER_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_int_equal(check(f, longname).v, GW_RL_REJECT_UNKNOWN);
    assert_int_equal(stats(f).rejected_unknown, 2);

    gw_ratelimit_close(f->rl);
    o.unknown = GW_RL_UNKNOWN_DEFAULTS;
    start_rl(f, &o);
    set_counter(f, "ghost2", "RPM", 99);
    assert_int_equal(check(f, "ghost2").v, GW_RL_ALLOW);
    assert_int_equal(check(f, "ghost2").v, GW_RL_REJECT_RPM); /* default 100 */
    assert_int_equal(get_counter(f, "ghost2", "RPM"), 100);
}

static void test_cache_bounds_user_reads(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.user_cache_ms = 60000;
    o.user_cache_max = 8; /* smaller than the users below: old ones evicted */
    start_rl(f, &o);
    set_user(f, "erin", "{\"name\":\"erin\",\"rpm\":1}");
    assert_int_equal(check(f, "erin").v, GW_RL_ALLOW);
    /* Deleted in Redis, still cached: the limit still applies. */
    freeReplyObject(cmd(f, "DEL aibrix-users/erin"));
    assert_int_equal(check(f, "erin").v, GW_RL_REJECT_RPM);

    char name[32];
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        assert_int_equal(check(f, name).v, GW_RL_ALLOW);
    }
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.cache_misses, 65);

    /* Without a cache every check reads the record again. */
    gw_ratelimit_close(f->rl);
    o.user_cache_ms = 0;
    start_rl(f, &o);
    set_user(f, "frank", "{\"name\":\"frank\",\"rpm\":5}");
    assert_int_equal(check(f, "frank").v, GW_RL_ALLOW);
    freeReplyObject(cmd(f, "DEL aibrix-users/frank"));
    assert_int_equal(check(f, "frank").v, GW_RL_ALLOW); /* unknown now: no limit */
    assert_int_equal(stats(f).unknown_users, 1);
    assert_int_equal(get_counter(f, "frank", "RPM"), 1);
}

static void test_redis_killed_fail_open_then_recovers(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "gina", "{\"name\":\"gina\",\"rpm\":2}");
    assert_int_equal(check(f, "gina").v, GW_RL_ALLOW);

    assert_int_equal(f->health_calls, 1);
    assert_int_equal(f->health_last, 1);

    redis_kill(f);
    for (int i = 0; i < 5; i++) /* over the limit, but Redis is gone: allowed */
        assert_int_equal(check(f, "gina").v, GW_RL_FAIL_OPEN);
    gw_ratelimit_account(f->rl, "gina", 10); /* dropped, counted */
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.redis_errors, 6);
    assert_int_equal(st.fail_open, 5); /* every fail-open answer counted */
    assert_int_equal(st.allowed, 6);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.up, 0);
    assert_false(gw_ratelimit_connected(f->rl));
    assert_int_equal(f->health_calls, 2);
    assert_int_equal(f->health_last, 0);

    assert_int_equal(redis_start(f), 0); /* same port, empty data */
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(f->health_calls, 3);
    assert_int_equal(f->health_last, 1);
    assert_int_equal(stats(f).up, 1);
    set_user(f, "gina", "{\"name\":\"gina\",\"rpm\":2}");
    assert_int_equal(check(f, "gina").v, GW_RL_ALLOW);
    assert_int_equal(check(f, "gina").v, GW_RL_ALLOW);
    assert_int_equal(check(f, "gina").v, GW_RL_REJECT_RPM);
    assert_int_equal(get_counter(f, "gina", "RPM"), 2);
    assert_true(stats(f).reconnects >= 2);
}

static void test_redis_killed_fail_closed(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.fail_open = 0;
    start_rl(f, &o);
    set_user(f, "hank", "{\"name\":\"hank\",\"rpm\":10}");
    assert_int_equal(check(f, "hank").v, GW_RL_ALLOW);
    redis_kill(f);
    assert_int_equal(check(f, "hank").v, GW_RL_ERROR);
    assert_int_equal(check(f, "hank").v, GW_RL_ERROR);
    assert_int_equal(check(f, "").v, GW_RL_ALLOW); /* no user: no Redis needed */
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.redis_errors, 2);
    assert_true(run_until(f, p_idle, NULL, 5000));
}

/* A stopped Redis: the check that finds it hung times out and its late
 * reply is dropped safely; a PING answered on the same connection once the
 * server runs again brings the limiter back without reconnecting, and a
 * hang longer than the probe's deadline ends in a new connection. */
static void test_timeout_and_late_reply(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.fail_open = 0;
    o.timeout_ms = 50;
    start_rl(f, &o);
    set_user(f, "ivy", "{\"name\":\"ivy\",\"rpm\":10}");
    assert_int_equal(check(f, "ivy").v, GW_RL_ALLOW);

    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    assert_int_equal(check(f, "ivy").v, GW_RL_ERROR);
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.inflight, 1); /* still waiting for its reply */
    assert_false(gw_ratelimit_connected(f->rl));
    uint64_t reconnects = st.reconnects;
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_idle, NULL, 5000)); /* late reply read and dropped */
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(stats(f).reconnects, reconnects); /* the same connection */
    /* The late GET did not go on to count the request. */
    assert_int_equal(get_counter(f, "ivy", "RPM"), 1);
    assert_int_equal(check(f, "ivy").v, GW_RL_ALLOW);
    assert_int_equal(get_counter(f, "ivy", "RPM"), 2);

    /* Stopped past the probe's deadline (connect_timeout_ms): the limiter
     * reconnects (the stopped server's kernel still accepts) and keeps
     * answering without Redis meanwhile. */
    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    assert_int_equal(check(f, "ivy").v, GW_RL_ERROR);
    assert_true(run_until(f, p_reconnected, &reconnects, 5000));
    assert_int_equal(check(f, "ivy").v, GW_RL_ERROR);
    assert_int_equal(stats(f).timeouts, 2);
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(check(f, "ivy").v, GW_RL_ALLOW);
    assert_true(run_until(f, p_idle, NULL, 5000));
}

/* Issue 13, finding 7: with Redis hung every request paid the check's
 * timeout (+51 ms), and the fail-open answers were counted nowhere. Now
 * only the check that discovers the hang waits for its deadline; from then
 * on the limiter knows Redis is down and answers every check on the loop's
 * next turn, each counted, until Redis answers a PING again. */
static void test_hung_redis_answered_at_once(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.timeout_ms = 50;
    start_rl(f, &o);
    set_user(f, "lena", "{\"name\":\"lena\",\"rpm\":1000}");
    assert_int_equal(check(f, "lena").v, GW_RL_ALLOW);
    assert_int_equal(f->health_calls, 1);
    assert_int_equal(f->health_last, 1);

    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    assert_int_equal(check(f, "lena").v, GW_RL_FAIL_OPEN); /* waited its deadline */
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.fail_open, 1);
    assert_int_equal(st.up, 0);
    assert_int_equal(st.downs, 1);
    assert_false(gw_ratelimit_connected(f->rl));
    assert_int_equal(f->health_calls, 2);
    assert_int_equal(f->health_last, 0);

    /* 100 more: not one waits for a deadline; a single loop turn (which
     * runs only timers already due) answers them all. */
    enum { N = 100 };
    result rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++) {
        assert_non_null(gw_ratelimit_check(f->rl, "lena", on_verdict, &rs[i]));
        assert_int_equal(rs[i].called, 0); /* never from inside the call */
    }
    uv_run(&f->loop, UV_RUN_NOWAIT);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].called, 1);
        assert_int_equal(rs[i].v, GW_RL_FAIL_OPEN);
    }
    gw_ratelimit_account(f->rl, "lena", 10); /* not queued on the hung server */
    st = stats(f);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.fail_open, 1 + N);
    assert_int_equal(st.redis_errors, 1 + N + 1);
    assert_int_equal(st.allowed, 2 + N);

    /* It runs again: up within a generous bound, and limits apply. */
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(f->health_calls, 3);
    assert_int_equal(f->health_last, 1);
    assert_int_equal(stats(f).up, 1);
    assert_int_equal(check(f, "lena").v, GW_RL_ALLOW);
    assert_int_equal(get_counter(f, "lena", "RPM"), 2); /* the late GET counted nothing */
    assert_int_equal(get_counter(f, "lena", "TPM"), -1);
}

/* The same with --ratelimit-fail-closed: every answer is ERROR (503), at
 * once after the first, and counted. */
static void test_hung_redis_fail_closed_at_once(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.fail_open = 0;
    o.timeout_ms = 50;
    start_rl(f, &o);
    set_user(f, "mona", "{\"name\":\"mona\",\"rpm\":1000}");
    assert_int_equal(check(f, "mona").v, GW_RL_ALLOW);
    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    assert_int_equal(check(f, "mona").v, GW_RL_ERROR);
    enum { N = 20 };
    result rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++)
        assert_non_null(gw_ratelimit_check(f->rl, "mona", on_verdict, &rs[i]));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].called, 1);
        assert_int_equal(rs[i].v, GW_RL_ERROR);
    }
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.errors, 1 + N);
    assert_int_equal(st.fail_open, 0);
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(check(f, "mona").v, GW_RL_ALLOW);
}

/* Checks already sent when Redis hangs are answered together when the
 * first of them reaches its deadline, not each at its own. */
static void test_waiting_checks_answered_together(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.timeout_ms = 50;
    start_rl(f, &o);
    set_user(f, "nina", "{\"name\":\"nina\",\"rpm\":1000}");
    assert_int_equal(check(f, "nina").v, GW_RL_ALLOW);
    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    enum { N = 10 };
    result rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++) {
        assert_non_null(gw_ratelimit_check(f->rl, "nina", on_verdict, &rs[i]));
        uv_run(&f->loop, UV_RUN_NOWAIT); /* each sent, one after another */
    }
    assert_true(run_until(f, p_down, NULL, 5000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].called, 1);
        assert_int_equal(rs[i].v, GW_RL_FAIL_OPEN);
    }
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.timeouts, 1); /* one ran out its deadline; the rest did not wait */
    assert_int_equal(st.fail_open, N);
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_true(run_until(f, p_idle, NULL, 5000));
}

/* With no traffic, the health PING notices a hang (and the recovery). */
static void test_ping_notices_hang_without_traffic(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.ping_interval_ms = 30;
    start_rl(f, &o);
    assert_int_equal(kill(f->redis, SIGSTOP), 0);
    assert_true(run_until(f, p_down, NULL, 5000));
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.downs, 1);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(f->health_last, 0);
    assert_int_equal(check(f, "olga").v, GW_RL_FAIL_OPEN);
    assert_int_equal(stats(f).timeouts, 0);
    assert_int_equal(kill(f->redis, SIGCONT), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(f->health_last, 1);
}

/* A server busy in a script answers BUSY at once: that is an outage too
 * (marked down without any deadline), and SCRIPT KILL ends it. */
static void test_busy_server_marked_down(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "pia", "{\"name\":\"pia\",\"rpm\":1000}");
    assert_int_equal(check(f, "pia").v, GW_RL_ALLOW);
    freeReplyObject(cmd(f, "CONFIG SET lua-time-limit 20"));

    /* A script that never ends, sent on a connection of its own. */
    struct timeval tv = {5, 0};
    redisContext *busy = redisConnectWithTimeout("127.0.0.1", f->port, tv);
    assert_true(busy && !busy->err);
    assert_int_equal(redisAppendCommand(busy, "EVAL %s 0", "while true do end"), REDIS_OK);
    int done = 0;
    while (!done)
        assert_int_equal(redisBufferWrite(busy, &done), REDIS_OK);
    int is_busy = 0;
    for (int i = 0; i < 250 && !is_busy; i++) { /* blocks until the script passed 20 ms */
        redisReply *r = cmd(f, "PING");
        is_busy = r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSY", 4);
        freeReplyObject(r);
    }
    assert_true(is_busy);

    assert_int_equal(check(f, "pia").v, GW_RL_FAIL_OPEN);
    assert_false(gw_ratelimit_connected(f->rl));
    gw_ratelimit_stats st = stats(f);
    assert_int_equal(st.timeouts, 0); /* no deadline was waited for */
    assert_int_equal(st.downs, 1);
    assert_int_equal(check(f, "pia").v, GW_RL_FAIL_OPEN);

    freeReplyObject(cmd(f, "SCRIPT KILL"));
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(busy, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    redisFree(busy);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(check(f, "pia").v, GW_RL_ALLOW);
}

static void test_cancel_and_close(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    start_rl(f, &o);
    set_user(f, "jack", "{\"name\":\"jack\",\"rpm\":10}");

    result a = {0}, b = {0};
    gw_ratelimit_req *ra = gw_ratelimit_check(f->rl, "jack", on_verdict, &a);
    assert_non_null(ra);
    gw_ratelimit_cancel(ra);
    assert_true(run_until(f, p_idle, NULL, 5000));
    assert_int_equal(a.called, 0);

    /* Close with a check in flight: answered once with ERROR. */
    assert_non_null(gw_ratelimit_check(f->rl, "jack", on_verdict, &b));
    gw_ratelimit_close(f->rl);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.v, GW_RL_ERROR);
    f->rl = NULL;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(b.called, 1);

    /* Unreachable Redis at start: not an error; checks answer fail-open. */
    char err[128];
    int dead = free_port();
    assert_int_equal(gw_ratelimit_init(&f->rl, &f->loop, "127.0.0.1", dead, &o, err, sizeof(err)),
                     0);
    assert_int_equal(check(f, "jack").v, GW_RL_FAIL_OPEN);
    assert_int_equal(stats(f).redis_errors, 1);
    /* A host name goes through uv_getaddrinfo. */
    gw_ratelimit_close(f->rl);
    assert_int_equal(
        gw_ratelimit_init(&f->rl, &f->loop, "localhost", f->port, &o, err, sizeof(err)), 0);
    assert_true(run_until(f, p_connected, NULL, 5000));
    assert_int_equal(check(f, "jack").v, GW_RL_ALLOW);
    gw_ratelimit *bad = (gw_ratelimit *)1;
    assert_int_equal(gw_ratelimit_init(&bad, &f->loop, "", 1, &o, err, sizeof(err)), -1);
    assert_null(bad);
    assert_int_equal(gw_ratelimit_init(&bad, &f->loop, "127.0.0.1", 0, &o, err, sizeof(err)), -1);
}

static void count_open(uv_handle_t *h, void *arg)
{
    fx *f = ((void **)arg)[0];
    int *n = ((void **)arg)[1];
    if (h != (uv_handle_t *)&f->tick && !uv_is_closing(h)) (*n)++;
}

static void sleep_loop_cb(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop for about ms (the limiter's timers keep going). */
static void run_for(fx *f, uint64_t ms)
{
    uv_timer_t t;
    int fired = 0;
    assert_int_equal(uv_timer_init(&f->loop, &t), 0);
    t.data = &fired;
    uv_timer_start(&t, sleep_loop_cb, ms, 0);
    while (!fired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* The gateway's exit after Redis died: the limiter is mid-reconnect (a
 * context connecting to a dead port, or a backoff timer) with checks that
 * timed out still waiting for hiredis's NULL reply, plus one unanswered
 * check. Close must answer that one, and leave none of its handles open:
 * the gateway then closes every remaining handle with a NULL callback, which
 * would leak whatever the limiter meant to free in its own callbacks. The
 * teardown runs the loop to the end and requires an empty loop; ASan's leak
 * check covers the memory. */
static void test_close_after_redis_died(void **state)
{
    fx *f = *state;
    gw_ratelimit_opts o;
    opts_for_test(f, &o);
    o.timeout_ms = 20;
    start_rl(f, &o);
    set_user(f, "kate", "{\"name\":\"kate\",\"rpm\":2}");
    assert_int_equal(check(f, "kate").v, GW_RL_ALLOW);
    assert_int_equal(check(f, "kate").v, GW_RL_ALLOW);
    assert_int_equal(check(f, "kate").v, GW_RL_REJECT_RPM);

    redis_kill(f);
    for (int i = 0; i < 4; i++) { /* fail-open while it keeps reconnecting */
        run_for(f, 15);
        assert_int_equal(check(f, "kate").v, GW_RL_FAIL_OPEN);
        gw_ratelimit_account(f->rl, "kate", 5);
    }
    assert_false(gw_ratelimit_connected(f->rl));
    assert_true(stats(f).redis_errors >= 4);

    result last = {0};
    assert_non_null(gw_ratelimit_check(f->rl, "kate", on_verdict, &last));
    gw_ratelimit_close(f->rl);
    f->rl = NULL;
    assert_int_equal(last.called, 1);
    assert_int_equal(last.v, GW_RL_ERROR);

    int open = 0;
    void *arg[2] = {f, &open};
    uv_walk(&f->loop, count_open, arg);
    assert_int_equal(open, 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(last.called, 1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure_helpers),
        cmocka_unit_test_setup_teardown(test_rpm_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpm_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_bounds_user_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_killed_fail_open_then_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_killed_fail_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_late_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_redis_answered_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_redis_fail_closed_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_checks_answered_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_notices_hang_without_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_server_marked_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_after_redis_died, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
