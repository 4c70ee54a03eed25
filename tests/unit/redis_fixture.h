/* Shared by the libbrixkv L2 unit tests (test_kv_l2_redis, test_brixkv_l2):
 * a throwaway redis-server on a free port (fork/exec, SIGKILLed by rs_stop),
 * a PATH check to skip without one, and a one-shot integer command.
 * Header-only, static: each test file gets its own copy. Include after
 * <cmocka.h> and <hiredis/hiredis.h>. */
#ifndef REDIS_FIXTURE_H
#define REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A throwaway redis-server on a free port (fork/exec, killed at teardown). */
typedef struct rsrv {
    pid_t pid;
    int port;
} rsrv;

static inline int redis_on_path(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/redis-server", (int)n, path);
        if (access(buf, X_OK) == 0) return 1;
        path = e ? e + 1 : NULL;
    }
    return 0;
}

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline redisContext *rs_connect(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Starts redis-server on port (0: a free one) and waits for PING. */
static inline void rs_start(rsrv *s, int port)
{
    s->port = port ? port : free_port();
    char p[16];
    snprintf(p, sizeof(p), "%d", s->port);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) {
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to ~5 s */
        redisContext *c = rs_connect(s->port);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return;
        }
        usleep(10000);
    }
    fail_msg("redis-server did not come up on port %d", s->port);
}

static inline void rs_stop(rsrv *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static inline long long rs_int(int port, const char *cmd)
{
    redisContext *c = rs_connect(port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

#define NEED_REDIS()                                                                               \
    do {                                                                                           \
        if (!redis_on_path()) {                                                                    \
            print_message("redis-server not on PATH: skipped\n");                                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif
