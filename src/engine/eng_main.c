/* eng_main: `brix engine`: flags, the event loop, signals. */
#include "engine/eng_main.h"

#include <signal.h>
#include <stdio.h>
#include <uv.h>

#include "common/bx_buf.h"
#include "common/bx_log.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"

static void eng_on_signal(uv_signal_t *h, int signum)
{
    bx_info("signal %d: stopping", signum);
    uv_stop(h->loop);
}

static void eng_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* One warning naming every option accepted and not acted on (client
 * strings: escaped). */
static void eng_warn_ignored(const eng_config *c)
{
    if (!c->n_ignored) return;
    bx_buf b;
    bx_buf_init(&b);
    for (int i = 0; i < c->n_ignored; i++) {
        char e1[BX_LOG_ESC_MAX], e2[BX_LOG_ESC_MAX];
        bx_buf_printf(
            &b, "%s%s%s%s", i ? ", " : "",
            bx_log_escape(e1, sizeof(e1), c->ignored[i], BX_LOG_CSTR), c->ignored_val[i] ? " " : "",
            c->ignored_val[i] ? bx_log_escape(e2, sizeof(e2), c->ignored_val[i], BX_LOG_CSTR) : "");
    }
    bx_warn("options not known to the simulator, accepted and not acted on (vLLM's, or "
            "typos): %s",
            b.data ? b.data : "");
    bx_buf_free(&b);
}

int eng_main(int argc, char **argv)
{
    eng_config cfg;
    eng_config_default(&cfg);
    int rc = eng_config_parse(&cfg, argc, argv, stdout, stderr);
    if (rc != 0) return rc > 0 ? 0 : 2;
    enum bx_log_level lvl;
    if (bx_log_parse_level(cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "brix engine: unknown --log-level '%s'\n", cfg.log_level);
        return 2;
    }
    bx_log_init("engine", lvl);
    eng_warn_ignored(&cfg);
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) return 1;
    eng_server *srv = NULL;
    char err[512];
    if (eng_server_init(&srv, &loop, &cfg, err, sizeof(err)) != 0) {
        bx_error("%s", err);
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        return 1;
    }
    uv_signal_t sigint, sigterm;
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sigterm);
    uv_signal_start(&sigint, eng_on_signal, SIGINT);
    uv_signal_start(&sigterm, eng_on_signal, SIGTERM);
    bx_info("serving %s (profile %s, $%.3f per hour, time scale %g) on %s:%d",
            cfg.served_model_name ? cfg.served_model_name : cfg.model, cfg.profile,
            eng_server_price(srv), cfg.time_scale, cfg.host, eng_server_port(srv));
    uv_run(&loop, UV_RUN_DEFAULT);

    int status = eng_server_exit_status(srv);
    eng_server_close(srv);
    uv_walk(&loop, eng_close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) bx_warn("event loop closed with handles still open");
    return status;
}
