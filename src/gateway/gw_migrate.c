/* gw_migrate: see gw_migrate.h. */
#include "gateway/gw_migrate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_jscan.h"
#include "common/bx_prompt.h"
#include "common/bx_tok.h"

void gw_mig_init(gw_mig *m, gw_api api)
{
    memset(m, 0, sizeof(*m));
    m->api = api;
    m->prompt_tokens = -1;
    m->created = -1;
    bx_buf_init(&m->text);
}

void gw_mig_free(gw_mig *m)
{
    bx_buf_free(&m->text);
}

/* ---------- scanning a chunk ---------- */

static int gw_mig_key(const bx_jscan_member *m, const char *k)
{
    size_t n = strlen(k);
    return m->key_len == n && memcmp(m->key, k, n) == 0;
}

/* The first element of an array's text (at '['), when it is an object:
 * its members; *count: 0 for an empty array, else 1 (more is not told). */
static bx_jscan_rc gw_mig_first(const char *arr, size_t len, bx_jscan_member *out, size_t max,
                                size_t *n, int *count)
{
    size_t i = 1;
    while (i < len && (arr[i] == ' ' || arr[i] == '\t' || arr[i] == '\n' || arr[i] == '\r'))
        i++;
    *n = 0;
    *count = 0;
    if (i < len && arr[i] == ']') return BX_JSCAN_OK;
    if (i >= len || arr[i] != '{') return BX_JSCAN_UNSURE;
    size_t used;
    *count = 1;
    return bx_jscan_object_head(arr + i, len - i, out, max, n, &used);
}

static int gw_mig_usage_fast(const bx_jscan_member *u, gw_mig_chunk *ch)
{
    bx_jscan_member m[16];
    size_t n;
    if (bx_jscan_object(u->val, u->val_len, m, 16, &n) != BX_JSCAN_OK) return -1;
    ch->usage = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (gw_mig_key(&m[i], "prompt_tokens") && bx_jscan_int(&m[i], &v) == 0)
            ch->usage_prompt = v;
        else if (gw_mig_key(&m[i], "completion_tokens") && bx_jscan_int(&m[i], &v) == 0)
            ch->usage_completion = v;
    }
    return 0;
}

/* The scan without a tree: -1 when unsure (escaped strings included). */
static int gw_mig_scan_fast(const char *data, size_t len, gw_mig_chunk *ch)
{
    bx_jscan_member top[16];
    size_t n;
    if (bx_jscan_object(data, len, top, 16, &n) != BX_JSCAN_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        const bx_jscan_member *t = &top[i];
        if (gw_mig_key(t, "id") && t->type == BX_JSCAN_STRING) {
            if (t->escaped) return -1;
            ch->id = t->val;
            ch->id_len = t->val_len;
        } else if (gw_mig_key(t, "model") && t->type == BX_JSCAN_STRING) {
            if (t->escaped) return -1;
            ch->model = t->val;
            ch->model_len = t->val_len;
        } else if (gw_mig_key(t, "created")) {
            int64_t v;
            if (bx_jscan_int(t, &v) == 0) ch->created = v;
        } else if (gw_mig_key(t, "error")) {
            ch->error = 1;
        } else if (gw_mig_key(t, "usage") && t->type == BX_JSCAN_OBJECT) {
            if (gw_mig_usage_fast(t, ch) != 0) return -1;
        } else if (gw_mig_key(t, "choices") && t->type == BX_JSCAN_ARRAY) {
            bx_jscan_member c[16], d[16];
            size_t nc, nd;
            if (gw_mig_first(t->val, t->val_len, c, 16, &nc, &ch->choices) != BX_JSCAN_OK)
                return -1;
            for (size_t j = 0; j < nc; j++) {
                const bx_jscan_member *x = &c[j];
                if (gw_mig_key(x, "finish_reason")) {
                    ch->finish = x->type != BX_JSCAN_NULL;
                } else if (gw_mig_key(x, "text") && x->type == BX_JSCAN_STRING) {
                    if (x->escaped) return -1;
                    ch->text = x->val;
                    ch->text_len = x->val_len;
                } else if (gw_mig_key(x, "delta") && x->type == BX_JSCAN_OBJECT) {
                    if (bx_jscan_object(x->val, x->val_len, d, 16, &nd) != BX_JSCAN_OK) return -1;
                    for (size_t k = 0; k < nd; k++) {
                        if (gw_mig_key(&d[k], "role")) ch->role = 1;
                        if (gw_mig_key(&d[k], "content") && d[k].type == BX_JSCAN_STRING) {
                            if (d[k].escaped) return -1;
                            ch->text = d[k].val;
                            ch->text_len = d[k].val_len;
                        }
                    }
                }
            }
        }
    }
    return 0;
}

static void gw_mig_scan_tree(json_t *o, gw_mig_chunk *ch)
{
    json_t *v = json_object_get(o, "id");
    if (json_is_string(v)) {
        ch->id = json_string_value(v);
        ch->id_len = json_string_length(v);
    }
    v = json_object_get(o, "model");
    if (json_is_string(v)) {
        ch->model = json_string_value(v);
        ch->model_len = json_string_length(v);
    }
    v = json_object_get(o, "created");
    if (json_is_integer(v)) ch->created = json_integer_value(v);
    if (json_object_get(o, "error")) ch->error = 1;
    v = json_object_get(o, "usage");
    if (json_is_object(v)) {
        ch->usage = 1;
        json_t *p = json_object_get(v, "prompt_tokens");
        json_t *k = json_object_get(v, "completion_tokens");
        if (json_is_integer(p)) ch->usage_prompt = json_integer_value(p);
        if (json_is_integer(k)) ch->usage_completion = json_integer_value(k);
    }
    v = json_object_get(o, "choices");
    if (!json_is_array(v)) return;
    ch->choices = (int)json_array_size(v);
    json_t *c = json_array_get(v, 0);
    if (!json_is_object(c)) return;
    json_t *f = json_object_get(c, "finish_reason");
    ch->finish = f && !json_is_null(f);
    json_t *t = json_object_get(c, "text");
    json_t *d = json_object_get(c, "delta");
    if (json_is_object(d)) {
        if (json_object_get(d, "role")) ch->role = 1;
        t = json_object_get(d, "content");
    }
    if (json_is_string(t)) {
        ch->text = json_string_value(t);
        ch->text_len = json_string_length(t);
    }
}

int gw_mig_scan(const char *data, size_t len, gw_mig_chunk *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->created = ch->usage_prompt = ch->usage_completion = -1;
    if (gw_mig_scan_fast(data, len, ch) == 0) return 0;
    memset(ch, 0, sizeof(*ch));
    ch->created = ch->usage_prompt = ch->usage_completion = -1;
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    ch->root = o;
    gw_mig_scan_tree(o, ch);
    return 0;
}

void gw_mig_chunk_free(gw_mig_chunk *ch)
{
    json_decref((json_t *)ch->root);
    ch->root = NULL;
}

/* ---------- the stream ---------- */

/* Counts one chunk's tokens and keeps its text. */
static void gw_mig_count(gw_mig *m, const gw_mig_chunk *ch)
{
    if (ch->text && ch->text_len) {
        if (ch->usage_completion < 0) m->sent++;
        if (!m->too_long) {
            if (m->text.len + ch->text_len > GW_MIG_TEXT_MAX ||
                bx_buf_append(&m->text, ch->text, ch->text_len) != 0)
                m->too_long = 1;
        }
    }
    /* the engine's own count (continuous usage stats, the final chunk) */
    if (ch->usage_completion >= 0 && ch->usage_completion <= INT32_MAX - m->leg_base)
        m->sent = m->leg_base + (int32_t)ch->usage_completion;
    if (ch->finish) m->finished = 1;
    if (ch->usage && ch->choices == 0) m->usage_sent = 1;
}

static void gw_mig_keep_head(gw_mig *m, const gw_mig_chunk *ch)
{
    if (m->have_head || !ch->id || ch->id_len >= sizeof(m->id) || !ch->model ||
        ch->model_len >= sizeof(m->model))
        return;
    memcpy(m->id, ch->id, ch->id_len);
    m->id[ch->id_len] = '\0';
    memcpy(m->model, ch->model, ch->model_len);
    m->model[ch->model_len] = '\0';
    m->created = ch->created;
    m->have_head = 1;
}

/* The usage object as counted over every leg. */
static int gw_mig_usage_set(const gw_mig *m, json_t *u, int64_t engine_prompt)
{
    int64_t p = m->prompt_tokens >= 0 ? m->prompt_tokens : engine_prompt;
    if (p < 0) p = 0;
    return json_object_set_new(u, "prompt_tokens", json_integer(p)) ||
           json_object_set_new(u, "completion_tokens", json_integer(m->sent)) ||
           json_object_set_new(u, "total_tokens", json_integer(p + m->sent));
}

static int gw_mig_rewrite(gw_mig *m, const char *data, size_t len, const gw_mig_chunk *ch,
                          bx_buf *out)
{
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return bx_buf_append(out, data, len) ? -1 : GW_MIG_REWRITTEN;
    }
    int rc = 0;
    if (m->have_head) {
        rc |= json_object_set_new(o, "id", json_string(m->id));
        rc |= json_object_set_new(o, "model", json_string(m->model));
        if (m->created >= 0) rc |= json_object_set_new(o, "created", json_integer(m->created));
    }
    json_t *u = json_object_get(o, "usage");
    if (json_is_object(u)) rc |= gw_mig_usage_set(m, u, ch->usage_prompt);
    char *s = rc ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return -1;
    rc = bx_buf_appends(out, s);
    free(s);
    return rc ? -1 : GW_MIG_REWRITTEN;
}

int gw_mig_event(gw_mig *m, const char *data, size_t len, bx_buf *out)
{
    gw_mig_chunk ch;
    if (gw_mig_scan(data, len, &ch) != 0) return GW_MIG_FORWARD;
    int act = GW_MIG_FORWARD;
    if (ch.error && ch.choices == 0) {
        act = GW_MIG_ERROR;
    } else if (m->leg == 0) {
        gw_mig_keep_head(m, &ch);
        if (ch.usage_prompt >= 0 && ch.usage_prompt <= INT32_MAX)
            m->prompt_tokens = (int32_t)ch.usage_prompt;
        gw_mig_count(m, &ch);
    } else if (ch.role && !(ch.text && ch.text_len) && !ch.finish && !ch.usage) {
        act = GW_MIG_DROP; /* the role chunk: the client has had one */
    } else {
        gw_mig_count(m, &ch);
        act = gw_mig_rewrite(m, data, len, &ch, out);
    }
    gw_mig_chunk_free(&ch);
    return act;
}

int gw_mig_complete(const gw_mig *m, int32_t max_tokens)
{
    return m->finished || (max_tokens > 0 && m->sent >= max_tokens);
}

void gw_mig_next_leg(gw_mig *m)
{
    m->leg++;
    m->leg_base = m->sent;
}

/* ---------- the continuation's body ---------- */

static char *gw_mig_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return NULL;
}

/* max_tokens-like key k less the tokens sent: 0, 1 (absent), -1 (nothing
 * left, or not an integer). */
static int gw_mig_less(json_t *o, const char *k, int32_t sent, int floor0)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_integer(v)) return -1;
    json_int_t left = json_integer_value(v) - sent;
    if (left < 1) {
        if (!floor0) return -1;
        left = 0;
    }
    return json_object_set_new(o, k, json_integer(left)) ? -1 : 0;
}

/* prompt + text, for a completion's prompt of any accepted shape. */
static json_t *gw_mig_prompt(const json_t *p, const char *text, size_t len)
{
    if (json_is_string(p)) {
        size_t pl = json_string_length(p);
        char *s = malloc(pl + len + 1);
        if (!s) return NULL;
        memcpy(s, json_string_value(p), pl);
        memcpy(s + pl, text, len);
        json_t *r = json_stringn(s, pl + len);
        free(s);
        return r;
    }
    if (!json_is_array(p) || json_array_size(p) == 0) return NULL;
    const json_t *first = json_array_get(p, 0);
    if (!json_is_integer(first)) {
        if (json_array_size(p) != 1) return NULL;
        json_t *inner = gw_mig_prompt(first, text, len);
        return inner ? json_pack("[o]", inner) : NULL;
    }
    /* token ids: the text's ids as brix's tokenizer cuts it */
    size_t n = bx_tok_count(text, len);
    uint32_t *ids = n ? malloc(n * sizeof(*ids)) : NULL;
    if (n && !ids) return NULL;
    bx_tok_encode(text, len, ids, NULL, n);
    json_t *r = json_copy((json_t *)p);
    for (size_t i = 0; r && i < n; i++)
        if (json_array_append_new(r, json_integer(ids[i])) != 0) {
            json_decref(r);
            r = NULL;
        }
    free(ids);
    return r;
}

/* The chat continuation: the partial answer as the open final message. */
static int gw_mig_messages(json_t *o, const char *text, size_t len)
{
    json_t *msgs = json_object_get(o, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) return -1;
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    json_t *role = json_object_get(last, "role");
    json_t *cont = json_object_get(o, "continue_final_message");
    if (json_is_true(cont) && json_is_string(role) &&
        !strcmp(json_string_value(role), "assistant")) { /* it was a continuation already */
        json_t *c = json_object_get(last, "content");
        if (!json_is_string(c)) return -1;
        json_t *m = gw_mig_prompt(c, text, len);
        if (!m || json_object_set_new(last, "content", m)) return -1;
    } else {
        json_t *m = json_pack("{s:s,s:s%}", "role", "assistant", "content", text, len);
        if (!m || json_array_append_new(msgs, m)) return -1;
    }
    return json_object_set_new(o, "continue_final_message", json_true()) ||
           json_object_set_new(o, "add_generation_prompt", json_false());
}

static int32_t gw_mig_prompt_count(gw_api api, const json_t *o)
{
    bx_tokvec v = {0};
    char err[128];
    int rc = api == GW_API_CHAT
                 ? bx_prompt_chat(&v, json_object_get(o, "messages"), err, sizeof(err))
                 : bx_prompt_completion(&v, json_object_get(o, "prompt"), err, sizeof(err));
    int32_t n = rc == 0 ? (int32_t)v.n : -1;
    bx_tokvec_free(&v);
    return n;
}

void gw_mig_count_prompt(gw_mig *m, const char *body, size_t len)
{
    if (m->prompt_tokens >= 0) return;
    json_t *o = json_loadb(body, len, 0, NULL);
    if (json_is_object(o)) m->prompt_tokens = gw_mig_prompt_count(m->api, o);
    json_decref(o);
}

char *gw_mig_body(gw_mig *m, const char *body, size_t len, size_t *out_len, char *err,
                  size_t errlen)
{
    if (m->api != GW_API_CHAT && m->api != GW_API_COMPLETIONS)
        return gw_mig_fail(err, errlen, "not a chat or completion");
    if (m->too_long) return gw_mig_fail(err, errlen, "the answer is too long to continue");
    json_t *o = json_loadb(body, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return gw_mig_fail(err, errlen, "the request is not a JSON object");
    }
    const char *why = NULL;
    json_t *n = json_object_get(o, "n");
    if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
        why = "more than one choice";
    else if (json_is_true(json_object_get(o, "echo")))
        why = "echo";
    else if (json_array_size(json_object_get(o, "tools")) > 0)
        why = "tools (a tool call's arguments are not text to continue)";
    if (!why && m->prompt_tokens < 0) m->prompt_tokens = gw_mig_prompt_count(m->api, o);
    const char *text = m->text.data ? m->text.data : "";
    if (!why && m->text.len > 0) { /* else nothing was said yet: the request as it was */
        if (m->api == GW_API_CHAT) {
            if (gw_mig_messages(o, text, m->text.len) != 0) why = "messages";
        } else {
            json_t *p = gw_mig_prompt(json_object_get(o, "prompt"), text, m->text.len);
            if (!p || json_object_set_new(o, "prompt", p)) why = "prompt";
        }
    }
    if (!why) {
        int a = gw_mig_less(o, "max_tokens", m->sent, 0);
        int b = m->api == GW_API_CHAT ? gw_mig_less(o, "max_completion_tokens", m->sent, 0) : 1;
        if (a < 0 || b < 0)
            why = "no tokens left";
        else if (a == 1 && b == 1 && m->api == GW_API_COMPLETIONS) {
            if (m->sent >= 16) /* vLLM's completions default */
                why = "no tokens left";
            else if (json_object_set_new(o, "max_tokens", json_integer(16 - m->sent)))
                why = "memory";
        }
        if (!why && gw_mig_less(o, "min_tokens", m->sent, 1) < 0) why = "min_tokens";
    }
    char *s = why ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (why) return gw_mig_fail(err, errlen, why);
    if (!s) return gw_mig_fail(err, errlen, "out of memory");
    *out_len = strlen(s);
    return s;
}

/* ---------- the end the gateway writes itself ---------- */

int gw_mig_frame(bx_buf *out, const char *event, const char *data, size_t len)
{
    if (event && *event &&
        (bx_buf_appends(out, "event: ") || bx_buf_appends(out, event) || bx_buf_appends(out, "\n")))
        return -1;
    for (;;) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        if (bx_buf_appends(out, "data: ") || bx_buf_append(out, data, n) ||
            bx_buf_appends(out, "\n"))
            return -1;
        if (!nl) break;
        data += n + 1;
        len -= n + 1;
    }
    return bx_buf_appends(out, "\n");
}

int gw_mig_tail(gw_mig *m, int include_usage, bx_buf *out)
{
    if (include_usage && !m->usage_sent) {
        json_t *u = json_object();
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", m->id, "object",
                              m->api == GW_API_CHAT ? "chat.completion.chunk" : "text_completion",
                              "created", (json_int_t)(m->created >= 0 ? m->created : 0), "model",
                              m->model, "choices", "usage", u);
        if (!o) return -1;
        char *s = gw_mig_usage_set(m, u, -1) ? NULL : json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!s) return -1;
        int rc =
            bx_buf_appends(out, "data: ") || bx_buf_appends(out, s) || bx_buf_appends(out, "\n\n");
        free(s);
        if (rc) return -1;
        m->usage_sent = 1;
    }
    return bx_buf_appends(out, "data: [DONE]\n\n") ? -1 : 0;
}
