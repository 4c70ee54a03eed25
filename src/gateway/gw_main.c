/* gw_main: `brix gateway`: flags, the event loop, signals (INT and TERM
 * stop it, HUP reopens the access log). */
#include "gateway/gw_main.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <uv.h>

#include "common/bx_log.h"
#include "gateway/gw_config.h"
#include "gateway/gw_gateway.h"

static void gw_on_signal(uv_signal_t *h, int signum)
{
    bx_info("signal %d: stopping", signum);
    uv_stop(h->loop);
}

/* SIGHUP (logrotate's postrotate): the access log is opened again. */
static void gw_on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    gw_gateway_reopen_logs(h->data);
}

static void gw_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int gw_main(int argc, char **argv)
{
    gw_config cfg;
    gw_config_default(&cfg);
    int rc = gw_config_parse(&cfg, argc, argv, stdout, stderr);
    if (rc != 0) {
        gw_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    enum bx_log_level lvl;
    if (bx_log_parse_level(cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "brix gateway: unknown --log-level '%s'\n", cfg.log_level);
        gw_config_free(&cfg);
        return 2;
    }
    bx_log_init("gateway", lvl);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) return 1;
    gw_gateway *g = NULL;
    char err[512];
    if (gw_gateway_init(&g, &loop, &cfg, err, sizeof(err)) != 0) {
        bx_error("%s", err);
        uv_walk(&loop, gw_close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        gw_config_free(&cfg);
        return 1;
    }
    uv_signal_t sigint, sigterm, sighup;
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sighup);
    uv_signal_start(&sigint, gw_on_signal, SIGINT);
    uv_signal_start(&sigterm, gw_on_signal, SIGTERM);
    sighup.data = g;
    uv_signal_start(&sighup, gw_on_hup, SIGHUP);
    if (cfg.kubernetes)
        bx_info("listening on %s:%d, engines from Kubernetes, default strategy %s, %d worker(s), "
                "%d API key(s)",
                cfg.host, gw_gateway_port(g), cfg.strategy, cfg.workers, cfg.keys.n);
    else
        bx_info("listening on %s:%d, %d backends, default strategy %s, %d worker(s), %d API "
                "key(s)",
                cfg.host, gw_gateway_port(g), cfg.nbackends, cfg.strategy, cfg.workers, cfg.keys.n);
    if (gw_gateway_metrics_port(g) > 0)
        bx_info("/metrics without a key on %s:%d", cfg.metrics_host, gw_gateway_metrics_port(g));
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192)
        bx_warn("open-file limit %llu: about %llu requests can be in flight (two descriptors "
                "each); raise it (ulimit -n) for more",
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_signal_stop(&sighup); /* its data, g, goes now */
    gw_gateway_close(g);
    uv_walk(&loop, gw_close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) bx_warn("event loop closed with handles still open");
    gw_config_free(&cfg);
    return 0;
}
