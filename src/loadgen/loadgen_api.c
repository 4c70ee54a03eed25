/* loadgen_api: see loadgen_api.h. Bodies are built with jansson so prompts of any
 * content are escaped correctly; responses are parsed with jansson under a
 * size limit, reading only the fields the measurements need and tolerating
 * every other field (OpenAI and vLLM add new ones over time). */
#include "loadgen/loadgen_api.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int add_msg(json_t *arr, const char *role, const char *text, size_t len)
{
    json_t *m = json_pack("{s:s, s:s%}", "role", role, "content", text, len);
    if (!m) return -1;
    return json_array_append_new(arr, m);
}

char *loadgen_api_body(const loadgen_api_req *r, const loadgen_conv *conv, const char *prompt,
                       size_t len)
{
    json_t *o = json_object();
    if (!o) return NULL;
    char *out = NULL;
    size_t nconv = conv ? conv->n : 0;
    if (r->chat) {
        json_t *msgs = json_array();
        if (!msgs || json_object_set_new(o, "messages", msgs) != 0) goto done;
        for (size_t i = 0; i < nconv; i++)
            if (add_msg(msgs, i % 2 ? "assistant" : "user", conv->msgs[i], conv->lens[i]) != 0)
                goto done;
        if (add_msg(msgs, "user", prompt, len) != 0) goto done;
    } else {
        bx_buf b;
        bx_buf_init(&b);
        int bad = 0;
        for (size_t i = 0; i < nconv && !bad; i++)
            bad = bx_buf_append(&b, conv->msgs[i], conv->lens[i]) != 0;
        if (!bad) bad = bx_buf_append(&b, prompt, len) != 0;
        json_t *p = bad ? NULL : json_stringn(b.data ? b.data : "", b.len);
        bx_buf_free(&b);
        if (!p || json_object_set_new(o, "prompt", p) != 0) goto done;
    }
    if (json_object_set_new(o, "model", json_string(r->model ? r->model : "")) != 0 ||
        json_object_set_new(o, "max_tokens", json_integer(r->max_tokens)) != 0 ||
        json_object_set_new(o, "ignore_eos", json_true()) != 0 ||
        json_object_set_new(o, "stream", json_boolean(r->stream)) != 0)
        goto done;
    if (r->stream) {
        json_t *so = json_pack("{s:b}", "include_usage", 1);
        if (!so || json_object_set_new(o, "stream_options", so) != 0) goto done;
    }
    if (r->user && json_object_set_new(o, "user", json_string(r->user)) != 0) goto done;
    out = json_dumps(o, JSON_COMPACT);
done:
    json_decref(o);
    return out;
}

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static int add_text(json_t *v, loadgen_api_chunk *out, bx_buf *text)
{
    if (!json_is_string(v)) return 0;
    size_t n = json_string_length(v);
    out->text_len += n;
    if (text && n && bx_buf_append(text, json_string_value(v), n) != 0) return -1;
    return 0;
}

static long usage_int(json_t *u, const char *name)
{
    json_t *v = json_object_get(u, name);
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (long)x;
}

int loadgen_api_parse(const char *data, size_t len, loadgen_api_chunk *out, bx_buf *text)
{
    memset(out, 0, sizeof(*out));
    out->prompt_tokens = out->completion_tokens = -1;
    if (len > LOADGEN_API_MAX_OBJECT) {
        copy_str(out->error, sizeof(out->error), "response object too large");
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    if (!o || !json_is_object(o)) {
        snprintf(out->error, sizeof(out->error), "bad JSON in response: %s",
                 o ? "not an object" : je.text);
        json_decref(o);
        return -1;
    }
    int rc = 0;
    json_t *err = json_object_get(o, "error");
    if (err && !json_is_null(err)) {
        out->has_error = 1;
        json_t *msg = json_is_object(err) ? json_object_get(err, "message") : err;
        copy_str(out->error, sizeof(out->error),
                 json_is_string(msg) ? json_string_value(msg) : "error object in response");
    } else if (json_is_string(json_object_get(o, "object")) &&
               strcmp(json_string_value(json_object_get(o, "object")), "error") == 0) {
        out->has_error = 1;
        json_t *msg = json_object_get(o, "message");
        copy_str(out->error, sizeof(out->error),
                 json_is_string(msg) ? json_string_value(msg) : "error object in response");
    }
    json_t *choices = json_object_get(o, "choices");
    json_t *c0 = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
    if (json_is_object(c0)) {
        json_t *delta = json_object_get(c0, "delta");
        if (!json_is_object(delta)) delta = json_object_get(c0, "message");
        if (json_is_object(delta)) {
            if (add_text(json_object_get(delta, "reasoning_content"), out, text) != 0 ||
                add_text(json_object_get(delta, "content"), out, text) != 0)
                rc = -1;
        }
        if (add_text(json_object_get(c0, "text"), out, text) != 0) rc = -1;
        json_t *fr = json_object_get(c0, "finish_reason");
        if (json_is_string(fr))
            copy_str(out->finish_reason, sizeof(out->finish_reason), json_string_value(fr));
    }
    json_t *u = json_object_get(o, "usage");
    if (json_is_object(u)) {
        out->prompt_tokens = usage_int(u, "prompt_tokens");
        out->completion_tokens = usage_int(u, "completion_tokens");
        out->has_usage = out->prompt_tokens >= 0 && out->completion_tokens >= 0;
    }
    if (rc != 0) copy_str(out->error, sizeof(out->error), "out of memory");
    json_decref(o);
    return rc;
}

int loadgen_api_first_model(const char *data, size_t len, char *out, size_t cap, char *err,
                            size_t errlen)
{
    if (cap) out[0] = '\0';
    if (len > LOADGEN_API_MAX_OBJECT) {
        copy_str(err, errlen, "model list too large");
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *d = json_is_object(o) ? json_object_get(o, "data") : NULL;
    json_t *m0 = json_is_array(d) ? json_array_get(d, 0) : NULL;
    json_t *id = json_is_object(m0) ? json_object_get(m0, "id") : NULL;
    int rc = -1;
    if (!o)
        snprintf(err, errlen, "bad JSON: %s", je.text);
    else if (!json_is_string(id) || json_string_length(id) == 0)
        copy_str(err, errlen, "no model listed (want {\"data\":[{\"id\":...}]})");
    else if (json_string_length(id) >= cap)
        copy_str(err, errlen, "model id too long");
    else {
        copy_str(out, cap, json_string_value(id));
        rc = 0;
    }
    json_decref(o);
    return rc;
}
