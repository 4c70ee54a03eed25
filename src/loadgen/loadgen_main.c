/* loadgen_main: `brix bench <subcommand>`. `run`: parse the flags
 * (loadgen_config), find the model when --model is not given (GET /v1/models),
 * build the plan (loadgen_workload: generated or from --trace), execute it
 * (loadgen_run), then print the summary (loadgen_stats) and write the files.
 * `profile`: AIBrix's GPU profiling (loadgen_profile_cmd.c).
 *
 * Exit status: 0 when the run completed (failed requests are results, not
 * errors: they are counted in the summary), 1 when it could not run or its
 * output could not be written, 2 on a usage error. */
#include "loadgen/loadgen.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_client.h"
#include "loadgen/loadgen_config.h"
#include "loadgen/loadgen_profile.h"
#include "loadgen/loadgen_run.h"
#include "loadgen/loadgen_stats.h"
#include "loadgen/loadgen_workload.h"
#include "common/bx_buf.h"
#include "common/bx_log.h"

#define LOADGEN_TRACE_MAX_BYTES (1024L * 1024 * 1024) /* a trace file is read whole */

static void loadgen_usage(FILE *f)
{
    fprintf(f, "usage: brix bench <command> [options]\n\n"
               "commands:\n"
               "  run        open-loop load generator for OpenAI-compatible servers\n"
               "  profile    AIBrix's GPU profile: rate sweeps over input x output lengths\n\n"
               "'brix bench <command> --help' lists its options.\n");
}

static int build_plan(const loadgen_config *cfg, loadgen_plan *plan)
{
    char err[512];
    if (!cfg->trace) {
        if (loadgen_plan_build(plan, &cfg->wl, err, sizeof(err)) != 0) {
            fprintf(stderr, "brix bench run: %s\n", err);
            return 2;
        }
        return 0;
    }
    bx_buf text;
    bx_buf_init(&text);
    int rc = 0;
    if (loadgen_read_file(cfg->trace, LOADGEN_TRACE_MAX_BYTES, &text, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix bench run: %s\n", err);
        rc = 1;
    } else if (loadgen_plan_from_trace(plan, text.data ? text.data : "", text.len, &cfg->wl, err,
                                       sizeof(err)) != 0) {
        fprintf(stderr, "brix bench run: %s: %s\n", cfg->trace, err);
        rc = 2;
    }
    bx_buf_free(&text);
    return rc;
}

static const char *wl_name(const loadgen_config *cfg)
{
    if (cfg->trace) return "trace";
    switch (cfg->wl.kind) {
    case LOADGEN_WL_SHARED_PREFIX:
        return "shared-prefix";
    case LOADGEN_WL_MULTI_TURN:
        return "multi-turn";
    case LOADGEN_WL_RANDOM:
        break;
    }
    return "random";
}

static int write_summary_json(const char *path, const loadgen_config *cfg, const loadgen_summary *s)
{
    json_t *j = loadgen_summary_json(s);
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:I, s:I}", "url", cfg->url, "endpoint",
                  cfg->chat ? "chat" : "completions", "model", cfg->model, "stream", cfg->stream,
                  "workload", wl_name(cfg), "rate",
                  isinf(cfg->wl.rate) || cfg->trace ? json_null() : json_real(cfg->wl.rate), "seed",
                  (json_int_t)cfg->wl.seed, "max_concurrency", (json_int_t)cfg->max_concurrency);
    int rc = -1;
    if (j && c && json_object_set_new(j, "config", c) == 0) {
        c = NULL;
        rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 ? 0 : -1;
    }
    json_decref(c);
    json_decref(j);
    if (rc != 0) fprintf(stderr, "brix bench run: cannot write %s\n", path);
    return rc;
}

/* Each request in flight holds a socket: lift the soft descriptor limit to
 * the hard one (often 1024 -> 1M) so thousands of concurrent requests fit. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        bx_warn("bench: cannot raise the open-file limit: %s", strerror(errno));
}

static int loadgen_cmd_run(int argc, char **argv)
{
    loadgen_config cfg;
    loadgen_config_default(&cfg);
    int prc = loadgen_config_parse(&cfg, argc, argv, stdout, stderr);
    if (prc != 0) {
        loadgen_config_free(&cfg);
        return prc == 1 ? 0 : 2;
    }
    bx_log_init("bench", BX_LOG_INFO);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "brix bench run: curl_global_init failed\n");
        loadgen_config_free(&cfg);
        return 1;
    }
    int rc = 1;
    char model[512];
    loadgen_plan plan = {0};
    FILE *jsonl = NULL;
    loadgen_result *res = NULL;
    size_t nres = 0;
    if (!cfg.model) {
        if (loadgen_discover_model(&cfg, "brix bench run", model, sizeof(model)) != 0) goto out;
        cfg.model = model;
    }
    rc = build_plan(&cfg, &plan);
    if (rc != 0) goto out;
    rc = 1;
    if (cfg.output && !(jsonl = fopen(cfg.output, "w"))) {
        fprintf(stderr, "brix bench run: cannot write %s: %s\n", cfg.output, strerror(errno));
        goto out;
    }
    fprintf(stderr, "brix bench run: %zu requests (%s, %s), model %s, %s%s\n", plan.n,
            wl_name(&cfg), cfg.chat ? "chat" : "completions", cfg.model, cfg.url,
            cfg.stream ? "" : " (no streaming)");
    double duration = 0;
    int run_rc = loadgen_run_exec(&cfg, &plan, jsonl, &res, &nres, &duration);
    if (jsonl) {
        int bad = fclose(jsonl) != 0;
        jsonl = NULL;
        if (bad) {
            fprintf(stderr, "brix bench run: cannot write %s\n", cfg.output);
            run_rc = -1;
        }
    }
    if (!res) {
        fprintf(stderr, "brix bench run: the run could not be set up\n");
        goto out;
    }
    loadgen_summary sum;
    if (loadgen_summary_compute(&sum, res, nres, duration) != 0) {
        fprintf(stderr, "brix bench run: out of memory\n");
        goto out;
    }
    loadgen_summary_print(&sum, stdout);
    fflush(stdout);
    if (cfg.summary_json && write_summary_json(cfg.summary_json, &cfg, &sum) != 0) goto out;
    rc = run_rc == 0 ? 0 : 1;
out:
    if (jsonl) fclose(jsonl);
    for (size_t i = 0; i < nres; i++)
        loadgen_result_free(&res[i]);
    free(res);
    loadgen_plan_free(&plan);
    loadgen_config_free(&cfg);
    curl_global_cleanup();
    return rc;
}

int loadgen_main(int argc, char **argv)
{
    if (argc < 2) {
        loadgen_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        loadgen_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run")) return loadgen_cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "profile")) return loadgen_profile_main(argc - 1, argv + 1);
    fprintf(stderr, "brix bench: unknown command '%s'\n\n", argv[1]);
    loadgen_usage(stderr);
    return 2;
}
