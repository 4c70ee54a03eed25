/* bench_config: see bench_config.h. One table describes every flag (name,
 * kind, target, help); the parser and --help both read it, so the help can
 * not forget a flag. Numbers are parsed strictly (the whole value, finite,
 * in range). */
#include "bench/bench_config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum bench_flag_kind {
    F_STR,
    F_INT,
    F_LONG,
    F_U64,
    F_DBL,
    F_RATE, /* a positive number or "inf" */
    F_ON,   /* no value: sets 1 */
    F_OFF,  /* no value: sets 0 */
    F_ENDPOINT,
    F_WORKLOAD,
    F_LENDIST,
    F_HEADER,
};

struct bench_flag {
    const char *name;
    enum bench_flag_kind kind;
    size_t off;
    const char *metavar;
    const char *help;
};

#define OFF(f) offsetof(bench_config, f)
#define WOFF(f) (offsetof(bench_config, wl) + offsetof(bench_wl_params, f))

static const struct bench_flag bench_flags[] = {
    {"--url", F_STR, OFF(url), "URL", "server base URL (default http://127.0.0.1:8000)"},
    {"--endpoint", F_ENDPOINT, OFF(chat), "chat|completions",
     "POST /v1/chat/completions or /v1/completions (default chat)"},
    {"--model", F_STR, OFF(model), "NAME",
     "model sent in each request (default: the first of GET /v1/models)"},
    {"--stream", F_ON, OFF(stream), NULL, "stream the answers over SSE (default)"},
    {"--no-stream", F_OFF, OFF(stream), NULL, "ask for whole answers (TTFT = e2e)"},
    {"--api-key", F_STR, OFF(api_key), "KEY", "send Authorization: Bearer KEY"},
    {"--header", F_HEADER, OFF(headers), "K:V", "extra request header (repeatable)"},
    {"--user", F_STR, OFF(user), "U", "OpenAI `user` field sent with each request"},
    {"--timeout", F_DBL, OFF(timeout_s), "S",
     "per-request timeout in seconds, 0 = none (default 600)"},
    {"--rate", F_RATE, WOFF(rate), "R|inf",
     "Poisson arrivals per second (multi-turn: session starts); inf = all at once (default inf)"},
    {"--num-requests", F_LONG, WOFF(num_requests), "N",
     "requests to send (default 100 unless --duration is given)"},
    {"--duration", F_DBL, WOFF(duration), "S", "send arrivals for S seconds (with or without -n)"},
    {"--max-concurrency", F_LONG, OFF(max_concurrency), "C",
     "at most C requests in flight; later arrivals wait (default no cap)"},
    {"--trace", F_STR, OFF(trace), "FILE.jsonl",
     "replay a trace: "
     "{\"timestamp\",\"prompt_tokens\",\"output_tokens\",\"session\"?,\"prefix_group\"?}"},
    {"--workload", F_WORKLOAD, WOFF(kind), "random|shared-prefix|multi-turn",
     "kind of generated workload (default random)"},
    {"--seed", F_U64, WOFF(seed), "N", "seed of arrivals, lengths and text (default 0)"},
    {"--input-len", F_INT, WOFF(input_len), "N",
     "mean prompt tokens (shared-prefix: suffix; multi-turn: each user message) (default 256)"},
    {"--output-len", F_INT, WOFF(output_len), "N", "mean max_tokens per request (default 128)"},
    {"--len-dist", F_LENDIST, WOFF(len_dist), "fixed|uniform|normal",
     "distribution of lengths around their mean (default fixed)"},
    {"--len-spread", F_DBL, WOFF(len_spread), "F",
     "uniform: mean*(1+-F); normal: sd = F*mean (default 0.25)"},
    {"--num-prefix-groups", F_INT, WOFF(num_prefix_groups), "G",
     "shared-prefix: number of distinct prefixes (default 8)"},
    {"--prefix-len", F_INT, WOFF(prefix_len), "P",
     "shared-prefix: tokens of each prefix; trace: prefix_group prefix length (default 512)"},
    {"--num-sessions", F_INT, WOFF(num_sessions), "S",
     "multi-turn: sessions (default ceil(num-requests / turns))"},
    {"--turns", F_INT, WOFF(turns), "T", "multi-turn: turns per session (default 3)"},
    {"--think-time", F_DBL, WOFF(think_time), "S",
     "multi-turn: seconds between an answer and the next turn (default 0)"},
    {"--output", F_STR, OFF(output), "FILE.jsonl", "write one JSON line per request"},
    {"--summary-json", F_STR, OFF(summary_json), "FILE", "write the summary as JSON"},
    {"--no-progress", F_OFF, OFF(progress), NULL,
     "no progress bar (it is shown only when stderr is a terminal)"},
};
#define BENCH_NFLAGS (sizeof(bench_flags) / sizeof(bench_flags[0]))

void bench_config_default(bench_config *c)
{
    memset(c, 0, sizeof(*c));
    c->url = "http://127.0.0.1:8000";
    c->chat = 1;
    c->stream = 1;
    c->timeout_s = 600;
    c->progress = -1;
    c->wl.kind = BENCH_WL_RANDOM;
    c->wl.rate = INFINITY;
    c->wl.input_len = 256;
    c->wl.output_len = 128;
    c->wl.len_dist = BENCH_LEN_FIXED;
    c->wl.len_spread = 0.25;
    c->wl.num_prefix_groups = 8;
    c->wl.prefix_len = 512;
    c->wl.turns = 3;
}

void bench_config_free(bench_config *c)
{
    free(c->headers);
    c->headers = NULL;
    c->n_headers = 0;
}

/* Help text in a 51-column right-hand column, broken at spaces. */
static void print_wrapped(FILE *f, const char *s)
{
    const size_t width = 51;
    for (;;) {
        size_t n = strlen(s);
        if (n <= width) {
            fprintf(f, "%s\n", s);
            return;
        }
        size_t cut = width;
        while (cut > 0 && s[cut] != ' ')
            cut--;
        if (cut == 0) cut = width;
        fprintf(f, "%.*s\n  %-26s ", (int)cut, s, "");
        s += cut;
        while (*s == ' ')
            s++;
    }
}

static void print_help(FILE *f)
{
    fprintf(f, "usage: brix bench run [options]\n\n"
               "Open-loop load generator for OpenAI-compatible servers (vLLM, brix engine,\n"
               "brix gateway). Requests are sent at their scheduled times whatever the\n"
               "server's progress; results go to --output (JSONL) and a summary to stdout.\n\n"
               "options:\n");
    for (size_t i = 0; i < BENCH_NFLAGS; i++) {
        const struct bench_flag *fl = &bench_flags[i];
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s", fl->name, fl->metavar ? " " : "",
                 fl->metavar ? fl->metavar : "");
        if (strlen(left) > 26)
            fprintf(f, "  %s\n  %-26s ", left, "");
        else
            fprintf(f, "  %-26s ", left);
        print_wrapped(f, fl->help);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
    fprintf(f, "\nFlags take their value as the next argument or after '=' (--rate=10).\n"
               "Prompts are words of 3 letters, one brix token each. See docs/bench.md.\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int set_value(bench_config *c, const struct bench_flag *fl, const char *v, FILE *err)
{
    char *base = (char *)c + fl->off;
    long l;
    double d;
    switch (fl->kind) {
    case F_STR:
        if (!*v) goto bad;
        *(const char **)base = v;
        return 0;
    case F_INT:
        if (parse_long(v, 0, 1000000000L, &l) != 0) goto bad;
        *(int *)base = (int)l;
        return 0;
    case F_LONG:
        if (parse_long(v, 0, 1000000000L, &l) != 0) goto bad;
        *(long *)base = l;
        return 0;
    case F_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-') goto bad;
        *(uint64_t *)base = (uint64_t)u;
        return 0;
    }
    case F_DBL:
        if (parse_double(v, &d) != 0 || d < 0) goto bad;
        *(double *)base = d;
        return 0;
    case F_RATE:
        if (!strcmp(v, "inf")) {
            *(double *)base = INFINITY;
            return 0;
        }
        if (parse_double(v, &d) != 0 || !(d > 0)) goto bad;
        *(double *)base = d;
        return 0;
    case F_ENDPOINT:
        if (!strcmp(v, "chat"))
            c->chat = 1;
        else if (!strcmp(v, "completions"))
            c->chat = 0;
        else
            goto bad;
        return 0;
    case F_WORKLOAD:
        if (!strcmp(v, "random"))
            c->wl.kind = BENCH_WL_RANDOM;
        else if (!strcmp(v, "shared-prefix"))
            c->wl.kind = BENCH_WL_SHARED_PREFIX;
        else if (!strcmp(v, "multi-turn"))
            c->wl.kind = BENCH_WL_MULTI_TURN;
        else
            goto bad;
        return 0;
    case F_LENDIST:
        if (!strcmp(v, "fixed"))
            c->wl.len_dist = BENCH_LEN_FIXED;
        else if (!strcmp(v, "uniform"))
            c->wl.len_dist = BENCH_LEN_UNIFORM;
        else if (!strcmp(v, "normal"))
            c->wl.len_dist = BENCH_LEN_NORMAL;
        else
            goto bad;
        return 0;
    case F_HEADER: {
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || strpbrk(v, "\r\n")) goto bad;
        if (c->n_headers == BENCH_MAX_HEADERS) {
            fprintf(err, "brix bench run: at most %d --header flags\n", BENCH_MAX_HEADERS);
            return 2;
        }
        if (!c->headers) {
            c->headers = calloc(BENCH_MAX_HEADERS, sizeof(*c->headers));
            if (!c->headers) {
                fprintf(err, "brix bench run: out of memory\n");
                return 2;
            }
        }
        c->headers[c->n_headers++] = v;
        return 0;
    }
    case F_ON:
    case F_OFF:
        break;
    }
bad:
    fprintf(err, "brix bench run: bad value '%s' for %s (expected %s)\n", v, fl->name,
            fl->metavar ? fl->metavar : "no value");
    return 2;
}

int bench_config_parse(bench_config *c, int argc, char **argv, FILE *out, FILE *err)
{
    int saw_n = 0, saw_dur = 0, saw_rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(out);
            return 1;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const struct bench_flag *fl = NULL;
        for (size_t k = 0; k < BENCH_NFLAGS; k++)
            if (strlen(bench_flags[k].name) == nlen && !strncmp(bench_flags[k].name, a, nlen))
                fl = &bench_flags[k];
        if (!fl) {
            fprintf(err, "brix bench run: unknown option '%s' (see brix bench run --help)\n", a);
            return 2;
        }
        if (fl->kind == F_ON || fl->kind == F_OFF) {
            if (eq) {
                fprintf(err, "brix bench run: %s takes no value\n", fl->name);
                return 2;
            }
            *(int *)((char *)c + fl->off) = fl->kind == F_ON;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(err, "brix bench run: %s needs a value (%s)\n", fl->name, fl->metavar);
                return 2;
            }
            v = argv[++i];
        }
        int rc = set_value(c, fl, v, err);
        if (rc) return rc;
        saw_n |= fl->off == WOFF(num_requests);
        saw_dur |= fl->off == WOFF(duration);
        saw_rate |= fl->off == WOFF(rate);
    }
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
        fprintf(err, "brix bench run: --url must start with http:// or https://\n");
        return 2;
    }
    if (c->trace && (saw_rate || c->wl.kind != BENCH_WL_RANDOM)) {
        fprintf(err, "brix bench run: --trace sets the arrivals and lengths; drop --rate and "
                     "--workload\n");
        return 2;
    }
    if ((saw_n && c->wl.num_requests == 0) || (saw_dur && c->wl.duration == 0)) {
        fprintf(err, "brix bench run: --num-requests and --duration must be positive\n");
        return 2;
    }
    if (!saw_n && !saw_dur && !c->trace &&
        !(c->wl.kind == BENCH_WL_MULTI_TURN && c->wl.num_sessions > 0))
        c->wl.num_requests = 100;
    return 0;
}
