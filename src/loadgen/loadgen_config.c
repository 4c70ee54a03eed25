/* loadgen_config: see loadgen_config.h. One table describes every flag (name
 * and metavar, kind, target, help); bx_flags parses argv and prints --help
 * from it, so the help can not forget a flag. Numbers are parsed strictly
 * (the whole value, finite, in range). */
#include "loadgen/loadgen_config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_flags.h"

/* The kinds this file sets itself (set_value); the rest are bx_flags'. */
enum {
    F_RATE = BX_FLAG_CUSTOM, /* a positive number or "inf" */
    F_ENDPOINT,
    F_HEADER,
};

/* BX_FLAG_CHOICE stores an int into these */
_Static_assert(sizeof(enum loadgen_wl_kind) == sizeof(int), "--workload is stored as an int");
_Static_assert(sizeof(enum loadgen_len_dist) == sizeof(int), "--len-dist is stored as an int");

#define OFF(f) offsetof(loadgen_config, f)
#define WOFF(f) (offsetof(loadgen_config, wl) + offsetof(loadgen_wl_params, f))

static const bx_flag loadgen_flags[] = {
    {"--url URL", BX_FLAG_STR_NONEMPTY, OFF(url),
     "server base URL (default http://127.0.0.1:8000)"},
    {"--endpoint chat|completions", F_ENDPOINT, OFF(chat),
     "POST /v1/chat/completions or /v1/completions (default chat)"},
    {"--model NAME", BX_FLAG_STR_NONEMPTY, OFF(model),
     "model sent in each request (default: the first of GET /v1/models)"},
    {"--stream", BX_FLAG_ON, OFF(stream), "stream the answers over SSE (default)"},
    {"--no-stream", BX_FLAG_OFF, OFF(stream), "ask for whole answers (TTFT = e2e)"},
    {"--api-key KEY", BX_FLAG_STR_NONEMPTY, OFF(api_key), "send Authorization: Bearer KEY"},
    {"--header K:V", F_HEADER, OFF(headers), "extra request header (repeatable)"},
    {"--user U", BX_FLAG_STR_NONEMPTY, OFF(user), "OpenAI `user` field sent with each request"},
    {"--timeout S", BX_FLAG_DBL_NONNEG, OFF(timeout_s),
     "per-request timeout in seconds, 0 = none (default 600)"},
    {"--rate R|inf", F_RATE, WOFF(rate),
     "Poisson arrivals per second (multi-turn: session starts); inf = all at once (default inf)"},
    {"--num-requests N", BX_FLAG_LONG, WOFF(num_requests),
     "requests to send (default 100 unless --duration is given)"},
    {"--duration S", BX_FLAG_DBL_NONNEG, WOFF(duration),
     "send arrivals for S seconds (with or without -n)"},
    {"--max-concurrency C", BX_FLAG_LONG, OFF(max_concurrency),
     "at most C requests in flight; later arrivals wait (default no cap)"},
    {"--trace FILE.jsonl", BX_FLAG_STR_NONEMPTY, OFF(trace),
     "replay a trace: "
     "{\"timestamp\",\"prompt_tokens\",\"output_tokens\",\"session\"?,\"prefix_group\"?}"},
    {"--workload random|shared-prefix|multi-turn", BX_FLAG_CHOICE, WOFF(kind),
     "kind of generated workload (default random)"},
    {"--seed N", BX_FLAG_U64, WOFF(seed), "seed of arrivals, lengths and text (default 0)"},
    {"--input-len N", BX_FLAG_INT, WOFF(input_len),
     "mean prompt tokens (shared-prefix: suffix; multi-turn: each user message) (default 256)"},
    {"--output-len N", BX_FLAG_INT, WOFF(output_len), "mean max_tokens per request (default 128)"},
    {"--len-dist fixed|uniform|normal", BX_FLAG_CHOICE, WOFF(len_dist),
     "distribution of lengths around their mean (default fixed)"},
    {"--len-spread F", BX_FLAG_DBL_NONNEG, WOFF(len_spread),
     "uniform: mean*(1+-F); normal: sd = F*mean (default 0.25)"},
    {"--num-prefix-groups G", BX_FLAG_INT, WOFF(num_prefix_groups),
     "shared-prefix: number of distinct prefixes (default 8)"},
    {"--prefix-len P", BX_FLAG_INT, WOFF(prefix_len),
     "shared-prefix: tokens of each prefix; trace: prefix_group prefix length (default 512)"},
    {"--num-sessions S", BX_FLAG_INT, WOFF(num_sessions),
     "multi-turn: sessions (default ceil(num-requests / turns))"},
    {"--turns T", BX_FLAG_INT, WOFF(turns), "multi-turn: turns per session (default 3)"},
    {"--think-time S", BX_FLAG_DBL_NONNEG, WOFF(think_time),
     "multi-turn: seconds between an answer and the next turn (default 0)"},
    {"--output FILE.jsonl", BX_FLAG_STR_NONEMPTY, OFF(output), "write one JSON line per request"},
    {"--summary-json FILE", BX_FLAG_STR_NONEMPTY, OFF(summary_json), "write the summary as JSON"},
    {"--no-progress", BX_FLAG_OFF, OFF(progress),
     "no progress bar (it is shown only when stderr is a terminal)"},
};
#define LOADGEN_NFLAGS (sizeof(loadgen_flags) / sizeof(loadgen_flags[0]))

void loadgen_config_default(loadgen_config *c)
{
    memset(c, 0, sizeof(*c));
    c->url = "http://127.0.0.1:8000";
    c->chat = 1;
    c->stream = 1;
    c->timeout_s = 600;
    c->progress = -1;
    c->wl.kind = LOADGEN_WL_RANDOM;
    c->wl.rate = INFINITY;
    c->wl.input_len = 256;
    c->wl.output_len = 128;
    c->wl.len_dist = LOADGEN_LEN_FIXED;
    c->wl.len_spread = 0.25;
    c->wl.num_prefix_groups = 8;
    c->wl.prefix_len = 512;
    c->wl.turns = 3;
}

void loadgen_config_free(loadgen_config *c)
{
    free(c->headers);
    c->headers = NULL;
    c->n_headers = 0;
}

static void print_help_tail(FILE *f)
{
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
    fprintf(f, "\nFlags take their value as the next argument or after '=' (--rate=10).\n"
               "Prompts are words of 3 letters, one brix token each. See docs/bench.md.\n");
}

int loadgen_config_add_header(loadgen_config *c, const char *v, const char *prog, FILE *err)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || strpbrk(v, "\r\n")) return BX_FLAG_BAD;
    if (c->n_headers == LOADGEN_MAX_HEADERS) {
        fprintf(err, "%s: at most %d --header flags\n", prog, LOADGEN_MAX_HEADERS);
        return BX_FLAG_FAIL;
    }
    if (!c->headers) {
        c->headers = calloc(LOADGEN_MAX_HEADERS, sizeof(*c->headers));
        if (!c->headers) {
            fprintf(err, "%s: out of memory\n", prog);
            return BX_FLAG_FAIL;
        }
    }
    c->headers[c->n_headers++] = v;
    return 0;
}

static int set_value(void *cfg, const bx_flag *fl, const char *v, FILE *err)
{
    loadgen_config *c = cfg;
    switch (fl->kind) {
    case F_RATE: {
        if (!strcmp(v, "inf")) {
            c->wl.rate = INFINITY;
            return 0;
        }
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(d) || !(d > 0)) return BX_FLAG_BAD;
        c->wl.rate = d;
        return 0;
    }
    case F_ENDPOINT:
        if (!strcmp(v, "chat"))
            c->chat = 1;
        else if (!strcmp(v, "completions"))
            c->chat = 0;
        else
            return BX_FLAG_BAD;
        return 0;
    case F_HEADER:
        return loadgen_config_add_header(c, v, "brix bench run", err);
    }
    return BX_FLAG_BAD;
}

static const bx_flags_spec loadgen_flags_spec = {
    .flags = loadgen_flags,
    .nflags = LOADGEN_NFLAGS,
    .prog = "brix bench run",
    .help_hint = "brix bench run --help",
    .int_max = 1000000000L,
    .usage = "usage: brix bench run [options]\n\n"
             "Open-loop load generator for OpenAI-compatible servers (vLLM, brix engine,\n"
             "brix gateway). Requests are sent at their scheduled times whatever the\n"
             "server's progress; results go to --output (JSONL) and a summary to stdout.\n\n"
             "options:\n",
    .name_width = 26,
    .wrap = 51,
    .help_tail = print_help_tail,
    .set = set_value,
};

/* Whether the row whose target is at off was given. */
static int given(const unsigned char *seen, size_t off)
{
    for (size_t i = 0; i < LOADGEN_NFLAGS; i++)
        if (seen[i] && loadgen_flags[i].off == off) return 1;
    return 0;
}

int loadgen_config_parse(loadgen_config *c, int argc, char **argv, FILE *out, FILE *err)
{
    unsigned char seen[LOADGEN_NFLAGS] = {0};
    int rc = bx_flags_parse(&loadgen_flags_spec, c, argc, argv, seen, out, err);
    if (rc != 0) return rc < 0 ? 2 : 1;
    int saw_n = given(seen, WOFF(num_requests)), saw_dur = given(seen, WOFF(duration)),
        saw_rate = given(seen, WOFF(rate));
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
        fprintf(err, "brix bench run: --url must start with http:// or https://\n");
        return 2;
    }
    if (c->trace && (saw_rate || c->wl.kind != LOADGEN_WL_RANDOM)) {
        fprintf(err, "brix bench run: --trace sets the arrivals and lengths; drop --rate and "
                     "--workload\n");
        return 2;
    }
    if ((saw_n && c->wl.num_requests == 0) || (saw_dur && c->wl.duration == 0)) {
        fprintf(err, "brix bench run: --num-requests and --duration must be positive\n");
        return 2;
    }
    if (!saw_n && !saw_dur && !c->trace &&
        !(c->wl.kind == LOADGEN_WL_MULTI_TURN && c->wl.num_sessions > 0))
        c->wl.num_requests = 100;
    return 0;
}
