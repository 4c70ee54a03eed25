/* loadgen_workload: see loadgen_workload.h. Everything derives from the run's
 * seed: one RNG stream draws arrivals and lengths in item order, and each
 * item's text comes from its own seed, so a prompt can be regenerated at send
 * time instead of being held in memory for the whole run. */
#include "loadgen/loadgen_workload.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_rand.h"

/* Three lowercase letters each: " xyz" is exactly one brix token. */
static const char loadgen_wordlist[][4] = {
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "day", "get", "has", "him", "his", "how", "man", "new", "now", "old",
    "see", "two", "way", "who", "boy", "did", "its", "let", "put", "say", "she", "too", "use",
    "act", "add", "age", "ago", "aid", "aim", "air", "art", "ask", "bad", "bag", "bar", "bed",
    "big", "bit", "box", "bus", "buy", "car", "cat", "cup", "cut", "dog", "dry", "due", "ear",
    "eat", "egg", "end", "eye", "far", "fat", "few", "fit", "fix", "fly", "fun", "gas", "god",
    "gun", "guy", "hat", "hit", "hot", "ice", "ill", "job", "key", "kid", "lab", "law", "lay",
    "leg", "lie", "lip", "lot", "low", "map", "mix", "mom", "net", "nor", "odd", "oil", "own",
    "pan", "pay", "pen", "per", "pet", "pie", "pig", "pin", "pop", "pot", "raw", "red", "rid",
    "row", "run", "sad", "sea", "set", "sex", "sir", "sit", "six", "sky", "son", "sun", "tax",
    "tea", "ten", "tie", "tip", "toe", "top", "toy", "try", "via", "war", "wet", "win", "yes",
    "yet", "zoo"};
#define LOADGEN_NWORDS (sizeof(loadgen_wordlist) / sizeof(loadgen_wordlist[0]))

/* ---------------- RNG ---------------- */

static uint64_t splitmix64(uint64_t *x)
{
    return bx_splitmix64(x);
}

uint64_t loadgen_mix(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0xD1B54A32D192ED03ULL);
    (void)splitmix64(&x);
    return splitmix64(&x);
}

void loadgen_rng_seed(loadgen_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t loadgen_rng_next(loadgen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double loadgen_rng_uniform(loadgen_rng *r)
{
    return (double)(loadgen_rng_next(r) >> 11) * 0x1.0p-53;
}

double loadgen_rng_exp(loadgen_rng *r, double rate)
{
    return -log1p(-loadgen_rng_uniform(r)) / rate;
}

double loadgen_rng_normal(loadgen_rng *r)
{
    /* Box-Muller; u1 in (0, 1] so log is finite. */
    double u1 = 1.0 - loadgen_rng_uniform(r);
    double u2 = loadgen_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---------------- lengths and text ---------------- */

int loadgen_sample_len(loadgen_rng *r, int mean, enum loadgen_len_dist d, double spread)
{
    double v = mean;
    if (d == LOADGEN_LEN_UNIFORM)
        v = mean * (1.0 - spread + 2.0 * spread * loadgen_rng_uniform(r));
    else if (d == LOADGEN_LEN_NORMAL)
        v = mean + mean * spread * loadgen_rng_normal(r);
    v = round(v);
    if (!(v >= 1)) v = 1;
    if (v > LOADGEN_MAX_LEN) v = LOADGEN_MAX_LEN;
    return (int)v;
}

int loadgen_words(bx_buf *out, uint64_t seed, int n)
{
    if (n <= 0) return 0;
    if (bx_buf_reserve(out, (size_t)n * 4) != 0) return -1;
    loadgen_rng r;
    loadgen_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        const char *w = loadgen_wordlist[loadgen_rng_next(&r) % LOADGEN_NWORDS];
        char piece[4] = {' ', w[0], w[1], w[2]};
        if (bx_buf_append(out, piece, 4) != 0) return -1;
    }
    return 0;
}

int loadgen_item_text(bx_buf *out, uint64_t base_seed, const loadgen_item *it)
{
    if (it->prefix_len > 0 &&
        loadgen_words(out, loadgen_mix(base_seed ^ 0x5052454649580000ULL, it->prefix_key),
                      it->prefix_len) != 0)
        return -1;
    return loadgen_words(out, it->seed, it->input_len);
}

/* ---------------- plans ---------------- */

static void errf(char *err, size_t errlen, const char *msg)
{
    if (errlen) snprintf(err, errlen, "%s", msg);
}

static void item_blank(loadgen_item *it)
{
    memset(it, 0, sizeof(*it));
    it->prefix_group = -1;
    it->session = -1;
    it->prev = -1;
    it->next = -1;
}

static int check_params(const loadgen_wl_params *w, char *err, size_t errlen)
{
    if (!(w->rate > 0)) return errf(err, errlen, "--rate must be positive or inf"), -1;
    if (w->num_requests < 0 || w->num_requests > LOADGEN_MAX_ITEMS)
        return errf(err, errlen, "--num-requests out of range"), -1;
    if (!(w->duration >= 0) || !isfinite(w->duration))
        return errf(err, errlen, "--duration must be a non-negative number"), -1;
    if (w->input_len < 0 || w->input_len > LOADGEN_MAX_LEN || w->output_len < 1 ||
        w->output_len > LOADGEN_MAX_LEN)
        return errf(err, errlen, "--input-len/--output-len out of range"), -1;
    if (!(w->len_spread >= 0 && w->len_spread <= 10))
        return errf(err, errlen, "--len-spread must be in [0, 10]"), -1;
    if (!(w->think_time >= 0) || !isfinite(w->think_time))
        return errf(err, errlen, "--think-time must be a non-negative number"), -1;
    if (w->prefix_len < 0 || w->prefix_len > LOADGEN_MAX_LEN)
        return errf(err, errlen, "--prefix-len out of range"), -1;
    return 0;
}

/* Number of arrivals: num_requests if given, cut by duration if given. */
static long count_arrivals(const loadgen_wl_params *w, long cap)
{
    if (w->duration <= 0) return cap;
    loadgen_rng r;
    loadgen_rng_seed(&r, w->seed);
    double t = 0;
    long n = 0;
    for (; n < cap; n++) {
        t += loadgen_rng_exp(&r, w->rate);
        if (t > w->duration) break;
    }
    return n;
}

int loadgen_plan_build(loadgen_plan *p, const loadgen_wl_params *w, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (check_params(w, err, errlen) != 0) return -1;
    int turns = w->kind == LOADGEN_WL_MULTI_TURN ? w->turns : 1;
    if (turns < 1 || turns > 10000) return errf(err, errlen, "--turns must be in [1, 10000]"), -1;
    if (w->kind == LOADGEN_WL_SHARED_PREFIX && (w->num_prefix_groups < 1 || w->prefix_len < 1))
        return errf(err, errlen,
                    "shared-prefix needs --num-prefix-groups >= 1 and --prefix-len >= 1"),
               -1;
    if (isinf(w->rate) && w->num_requests == 0 &&
        !(w->kind == LOADGEN_WL_MULTI_TURN && w->num_sessions > 0))
        return errf(err, errlen, "--rate inf needs --num-requests"), -1;

    long roots; /* arrivals drawn from the Poisson process */
    if (w->kind == LOADGEN_WL_MULTI_TURN) {
        long cap = w->num_sessions > 0   ? w->num_sessions
                   : w->num_requests > 0 ? (w->num_requests + turns - 1) / turns
                                         : LOADGEN_MAX_ITEMS / turns;
        if (w->num_sessions < 0 || cap > LOADGEN_MAX_ITEMS / turns)
            return errf(err, errlen, "too many sessions"), -1;
        roots = count_arrivals(w, cap);
    } else {
        roots = count_arrivals(w, w->num_requests > 0 ? w->num_requests : LOADGEN_MAX_ITEMS);
    }
    if (roots == LOADGEN_MAX_ITEMS / turns && w->num_requests == 0 && w->num_sessions == 0)
        return errf(err, errlen, "too many requests: lower --rate or --duration"), -1;
    if (roots <= 0) return errf(err, errlen, "the workload has no requests"), -1;

    size_t n = (size_t)roots * (size_t)turns;
    p->items = calloc(n, sizeof(*p->items));
    if (!p->items) return errf(err, errlen, "out of memory"), -1;
    p->n = n;
    p->num_sessions = w->kind == LOADGEN_WL_MULTI_TURN ? (int)roots : 0;

    loadgen_rng arr, len;
    loadgen_rng_seed(&arr, w->seed); /* same stream as count_arrivals */
    loadgen_rng_seed(&len, loadgen_mix(w->seed, 0x4C454E));
    double t = 0;
    for (long s = 0; s < roots; s++) {
        if (!isinf(w->rate)) t += loadgen_rng_exp(&arr, w->rate);
        for (int k = 0; k < turns; k++) {
            size_t idx = (size_t)s * (size_t)turns + (size_t)k;
            loadgen_item *it = &p->items[idx];
            item_blank(it);
            it->at = k == 0 ? t : 0;
            it->input_len = loadgen_sample_len(&len, w->input_len, w->len_dist, w->len_spread);
            if (w->input_len == 0) it->input_len = 0;
            it->output_len = loadgen_sample_len(&len, w->output_len, w->len_dist, w->len_spread);
            it->seed = loadgen_mix(w->seed, idx + 1);
            if (w->kind == LOADGEN_WL_SHARED_PREFIX) {
                it->prefix_group = (int)(loadgen_rng_next(&len) % (uint64_t)w->num_prefix_groups);
                it->prefix_key = (uint64_t)it->prefix_group + 1;
                it->prefix_len = w->prefix_len;
            }
            if (w->kind == LOADGEN_WL_MULTI_TURN) {
                it->session = (int)s;
                it->turn = k;
                it->think = k == 0 ? 0 : w->think_time;
                it->prev = k == 0 ? -1 : (long)idx - 1;
                it->next = k + 1 < turns ? (long)idx + 1 : -1;
            }
        }
    }
    return 0;
}

void loadgen_plan_free(loadgen_plan *p)
{
    free(p->items);
    memset(p, 0, sizeof(*p));
}

/* ---------------- traces ---------------- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001B3ULL;
    }
    return h ? h : 1;
}

static int key_of(json_t *v, uint64_t *out)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (json_is_string(v)) {
        *out = fnv1a(json_string_value(v), json_string_length(v));
        return 0;
    }
    if (json_is_integer(v)) {
        char b[32];
        int n = snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
        *out = fnv1a(b, (size_t)n);
        return 0;
    }
    return -1;
}

static int int_field(json_t *o, const char *name, int min, int *out)
{
    json_t *v = json_object_get(o, name);
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return -1;
    if (!(d >= min && d <= LOADGEN_MAX_LEN) || d != floor(d)) return -1;
    *out = (int)d;
    return 0;
}

int loadgen_trace_parse_line(const char *line, size_t len, loadgen_trace_line *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > LOADGEN_TRACE_MAX_LINE) return errf(err, errlen, "line longer than 64 KiB"), -1;
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        if (errlen) snprintf(err, errlen, "bad JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o)) {
        errf(err, errlen, "not a JSON object");
        goto out;
    }
    json_t *ts = json_object_get(o, "timestamp");
    if (!json_is_number(ts) || !(json_number_value(ts) >= 0) || !(json_number_value(ts) < 1e9)) {
        errf(err, errlen, "\"timestamp\" must be a number of seconds >= 0");
        goto out;
    }
    out->timestamp = json_number_value(ts);
    if (int_field(o, "prompt_tokens", 0, &out->prompt_tokens) != 0) {
        errf(err, errlen, "\"prompt_tokens\" must be an integer in [0, 1000000]");
        goto out;
    }
    if (int_field(o, "output_tokens", 1, &out->output_tokens) != 0) {
        errf(err, errlen, "\"output_tokens\" must be an integer in [1, 1000000]");
        goto out;
    }
    if (key_of(json_object_get(o, "session"), &out->session_key) != 0 ||
        key_of(json_object_get(o, "prefix_group"), &out->group_key) != 0) {
        errf(err, errlen, "\"session\"/\"prefix_group\" must be a string or an integer");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

struct trace_ent {
    loadgen_item it;
    uint64_t session_key;
    size_t line;
};

static int trace_cmp(const void *a, const void *b)
{
    const struct trace_ent *x = a, *y = b;
    if (x->it.at != y->it.at) return x->it.at < y->it.at ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Open-addressing map from a session key to (last item index, session, turns). */
struct sess_slot {
    uint64_t key;
    long last;
    int session;
    int turns;
};

static struct sess_slot *sess_find(struct sess_slot *tab, size_t cap, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL) & (cap - 1);
    while (tab[i].key != 0 && tab[i].key != key)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int link_sessions(loadgen_plan *p, const uint64_t *keys, char *err, size_t errlen)
{
    size_t cap = 16;
    while (cap < p->n * 2)
        cap *= 2;
    struct sess_slot *tab = calloc(cap, sizeof(*tab));
    if (!tab) return errf(err, errlen, "out of memory"), -1;
    int nsess = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (keys[i] == 0) continue;
        struct sess_slot *s = sess_find(tab, cap, keys[i]);
        loadgen_item *it = &p->items[i];
        if (s->key == 0) {
            s->key = keys[i];
            s->last = -1;
            s->session = nsess++;
        }
        it->session = s->session;
        it->turn = s->turns++;
        it->prev = s->last;
        if (s->last >= 0) p->items[s->last].next = (long)i;
        s->last = (long)i;
    }
    free(tab);
    p->num_sessions = nsess;
    return 0;
}

int loadgen_plan_from_trace(loadgen_plan *p, const char *text, size_t len,
                            const loadgen_wl_params *w, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    size_t cap = 0, n = 0, lineno = 0;
    struct trace_ent *ents = NULL;
    const char *s = text, *end = text + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        lineno++;
        size_t l = (size_t)(e - s);
        size_t k = 0;
        while (k < l && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
            k++;
        if (k < l) {
            loadgen_trace_line tl;
            char msg[200];
            if (loadgen_trace_parse_line(s, l, &tl, msg, sizeof(msg)) != 0) {
                if (errlen) snprintf(err, errlen, "trace line %zu: %s", lineno, msg);
                free(ents);
                return -1;
            }
            if (n == cap) {
                if (n >= (size_t)LOADGEN_MAX_ITEMS) {
                    free(ents);
                    return errf(err, errlen, "trace has too many lines"), -1;
                }
                size_t nc = cap ? cap * 2 : 1024;
                struct trace_ent *ne = realloc(ents, nc * sizeof(*ne));
                if (!ne) {
                    free(ents);
                    return errf(err, errlen, "out of memory"), -1;
                }
                ents = ne;
                cap = nc;
            }
            struct trace_ent *t = &ents[n];
            item_blank(&t->it);
            t->it.at = tl.timestamp;
            t->it.output_len = tl.output_tokens;
            if (tl.group_key) {
                t->it.prefix_key = tl.group_key;
                t->it.prefix_len =
                    tl.prompt_tokens < w->prefix_len ? tl.prompt_tokens : w->prefix_len;
                t->it.prefix_group = (int)(tl.group_key & 0x7FFFFFFF);
            }
            t->it.input_len = tl.prompt_tokens - t->it.prefix_len;
            t->it.seed = loadgen_mix(w->seed, lineno);
            t->session_key = tl.session_key;
            t->line = lineno;
            n++;
        }
        s = e + 1;
    }
    if (n == 0) {
        free(ents);
        return errf(err, errlen, "the trace has no requests"), -1;
    }
    qsort(ents, n, sizeof(*ents), trace_cmp);
    size_t keep = n;
    if (w->num_requests > 0 && (size_t)w->num_requests < keep) keep = (size_t)w->num_requests;
    if (w->duration > 0)
        while (keep > 0 && ents[keep - 1].it.at > w->duration)
            keep--;
    if (keep == 0) {
        free(ents);
        return errf(err, errlen, "no trace request falls within --duration"), -1;
    }
    p->items = calloc(keep, sizeof(*p->items));
    uint64_t *keys = calloc(keep, sizeof(*keys));
    if (!p->items || !keys) {
        free(ents);
        free(keys);
        loadgen_plan_free(p);
        return errf(err, errlen, "out of memory"), -1;
    }
    p->n = keep;
    for (size_t i = 0; i < keep; i++) {
        p->items[i] = ents[i].it;
        keys[i] = ents[i].session_key;
    }
    free(ents);
    int rc = link_sessions(p, keys, err, errlen);
    free(keys);
    if (rc != 0) loadgen_plan_free(p);
    return rc;
}

/* ---------------- conversations ---------------- */

void loadgen_conv_init(loadgen_conv *c)
{
    memset(c, 0, sizeof(*c));
}

int loadgen_conv_add(loadgen_conv *c, const char *text, size_t len)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        char **nm = realloc(c->msgs, nc * sizeof(*nm));
        if (!nm) return -1;
        c->msgs = nm;
        size_t *nl = realloc(c->lens, nc * sizeof(*nl));
        if (!nl) return -1;
        c->lens = nl;
        c->cap = nc;
    }
    char *m = malloc(len + 1);
    if (!m) return -1;
    memcpy(m, text, len);
    m[len] = '\0';
    c->msgs[c->n] = m;
    c->lens[c->n] = len;
    c->n++;
    return 0;
}

void loadgen_conv_free(loadgen_conv *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->msgs[i]);
    free(c->msgs);
    free(c->lens);
    memset(c, 0, sizeof(*c));
}
