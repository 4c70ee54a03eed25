/* eng_req: see eng_req.h. Field rules follow vLLM's protocol.py: unknown
 * fields are ignored, known fields of the wrong type are a 400. */
#include "engine/eng_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_chat.h"
#include "common/bx_json.h"
#include "common/bx_prompt.h"
#include "common/bx_tok.h"

static int eng_req_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int eng_req_int(const json_t *o, const char *k, json_int_t lo, json_int_t hi, int32_t *out,
                       char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "'%s' must be an integer between %lld and %lld", k, (long long)lo,
                 (long long)hi);
        return -1;
    }
    *out = (int32_t)json_integer_value(v);
    return 0;
}

static int eng_req_bool(const json_t *o, const char *k, int *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "'%s' must be a boolean", k);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int eng_req_embed_inputs(eng_req *r, const json_t *in, bx_tokvec *v, char *err,
                                size_t errlen)
{
    const json_t *one[1] = {in};
    size_t n = 1;
    int list = 0;
    if (json_is_array(in) && json_array_size(in) > 0 && !json_is_integer(json_array_get(in, 0))) {
        n = json_array_size(in);
        list = 1;
    }
    if (json_is_array(in) && json_array_size(in) == 0)
        return eng_req_fail(err, errlen, "'input' must not be empty");
    if (n > ENG_REQ_MAX_INPUTS) return eng_req_fail(err, errlen, "too many inputs");
    r->input_off = calloc(n + 1, sizeof(*r->input_off));
    if (!r->input_off) return eng_req_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *x = list ? json_array_get(in, i) : one[0];
        r->input_off[i] = (int32_t)v->n;
        if (json_is_string(x)) {
            if (bx_tokvec_add_text(v, json_string_value(x), json_string_length(x)) != 0)
                return eng_req_fail(err, errlen, "input is too long");
        } else if (json_is_array(x) && json_array_size(x) > 0) {
            if (bx_tokvec_add_ids(v, x) != 0)
                return eng_req_fail(err, errlen, "input token ids must be integers in vocab");
        } else {
            return eng_req_fail(err, errlen,
                                "'input' must be a string, a list of strings, or token ids");
        }
    }
    r->input_off[n] = (int32_t)v->n;
    r->num_inputs = (int32_t)n;
    return 0;
}

/* The seed prompt and word offset of a continued chat answer (eng_req.h). */
static int eng_req_continued(eng_req *r, const json_t *msgs, char *err, size_t errlen)
{
    size_t n = json_array_size(msgs);
    const json_t *last = json_object_get(json_array_get(msgs, n - 1), "content");
    if (json_is_string(last))
        r->gen_offset = (int32_t)bx_tok_count(json_string_value(last), json_string_length(last));
    if (n < 2) return 0; /* nothing before it: the prompt's own words */
    json_t *head = json_array();
    if (!head) return eng_req_fail(err, errlen, "out of memory");
    for (size_t i = 0; i + 1 < n; i++)
        json_array_append(head, json_array_get(msgs, i));
    bx_tokvec v = {0};
    int rc = bx_prompt_chat(&v, head, err, errlen);
    json_decref(head);
    r->seed_ids = v.ids;
    r->num_seed_ids = (int32_t)v.n;
    return rc;
}

int eng_req_parse(enum eng_api api, const char *body, size_t len, eng_req *r, char *err,
                  size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->api = api;
    r->max_tokens = -1;
    r->root = bx_json_parse_object(body, len, 0, err, errlen);
    if (!r->root) return -1;
    const json_t *o = r->root;
    const json_t *m = json_object_get(o, "model");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) return eng_req_fail(err, errlen, "'model' must be a string");
        r->model = json_string_value(m);
    }
    const json_t *u = json_object_get(o, "user");
    if (u && json_is_string(u)) r->user = json_string_value(u);
    if (api == ENG_API_EMBEDDINGS) {
        const json_t *in = json_object_get(o, "input");
        if (!in) return eng_req_fail(err, errlen, "'input' is required");
        bx_tokvec v = {0};
        int rc = eng_req_embed_inputs(r, in, &v, err, errlen);
        r->ids = v.ids;
        r->num_ids = (int32_t)v.n;
        if (rc != 0) return -1;
        const json_t *fmt = json_object_get(o, "encoding_format");
        if (fmt && !json_is_null(fmt)) {
            const char *f = json_string_value(fmt);
            if (f && !strcmp(f, "base64"))
                r->base64 = 1;
            else if (!f || strcmp(f, "float") != 0)
                return eng_req_fail(err, errlen, "'encoding_format' must be 'float' or 'base64'");
        }
        return eng_req_int(o, "dimensions", 1, 65536, &r->dimensions, err, errlen);
    }

    const json_t *msgs = json_object_get(o, "messages");
    const json_t *prompt = json_object_get(o, "prompt");
    bx_tokvec v = {0};
    int rc;
    if (api == ENG_API_CHAT || (api == ENG_API_TOKENIZE && msgs)) {
        int gen = 1, cont = 0;
        if (eng_req_bool(o, "add_generation_prompt", &gen, err, errlen) ||
            eng_req_bool(o, "continue_final_message", &cont, err, errlen))
            return -1;
        if (cont && json_object_get(o, "add_generation_prompt") == NULL) gen = 0;
        r->continue_final = cont;
        rc = bx_prompt_chat_opts(
            &v, msgs, (gen ? BX_CHAT_GEN_PROMPT : 0) | (cont ? BX_CHAT_CONTINUE_FINAL : 0), err,
            errlen);
        if (rc == 0 && cont && eng_req_continued(r, msgs, err, errlen) != 0) rc = -1;
    } else if (!prompt) {
        rc = eng_req_fail(err, errlen, "'prompt' is required");
    } else {
        rc = bx_prompt_completion(&v, prompt, err, errlen);
    }
    r->ids = v.ids; /* owned by r from here on, freed by eng_req_free */
    r->num_ids = (int32_t)v.n;
    if (rc != 0) return -1;
    if (api == ENG_API_TOKENIZE) return 0;

    if (eng_req_int(o, "max_tokens", 1, 1 << 24, &r->max_tokens, err, errlen)) return -1;
    if (api == ENG_API_CHAT &&
        eng_req_int(o, "max_completion_tokens", 1, 1 << 24, &r->max_tokens, err, errlen))
        return -1;
    if (eng_req_int(o, "min_tokens", 0, 1 << 24, &r->min_tokens, err, errlen)) return -1;
    int32_t n = 1;
    if (eng_req_int(o, "n", 1, 128, &n, err, errlen)) return -1;
    if (n != 1) return eng_req_fail(err, errlen, "n > 1 is not supported by brix engine");
    if (eng_req_bool(o, "stream", &r->stream, err, errlen)) return -1;
    if (eng_req_bool(o, "ignore_eos", &r->ignore_eos, err, errlen)) return -1;
    const json_t *t = json_object_get(o, "temperature");
    if (t && !json_is_null(t) && !json_is_number(t))
        return eng_req_fail(err, errlen, "'temperature' must be a number");
    const json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so)) {
        if (!r->stream)
            return eng_req_fail(err, errlen,
                                "Stream options can only be defined when `stream=True`.");
        if (!json_is_object(so))
            return eng_req_fail(err, errlen, "'stream_options' must be an object");
        if (eng_req_bool(so, "include_usage", &r->include_usage, err, errlen)) return -1;
        if (eng_req_bool(so, "continuous_usage_stats", &r->continuous_usage, err, errlen))
            return -1;
    }
    if (r->num_ids == 0) return eng_req_fail(err, errlen, "the prompt is empty");
    return 0;
}

void eng_req_free(eng_req *r)
{
    json_decref(r->root);
    free(r->ids);
    free(r->seed_ids);
    free(r->input_off);
    memset(r, 0, sizeof(*r));
}
