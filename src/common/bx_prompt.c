/* bx_prompt: see bx_prompt.h. */
#include "common/bx_prompt.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/bx_buf.h"
#include "common/bx_chat.h"
#include "common/bx_tok.h"

void bx_tokvec_free(bx_tokvec *v)
{
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

static int bx_tokvec_reserve(bx_tokvec *v, size_t extra)
{
    size_t need = v->n + extra;
    if (need > BX_PROMPT_MAX_TOKENS) return -1;
    if (need <= v->cap) return 0;
    size_t nc = v->cap ? v->cap : 256;
    while (nc < need)
        nc *= 2;
    uint32_t *p = realloc(v->ids, nc * sizeof(*p));
    if (!p) return -1;
    v->ids = p;
    v->cap = nc;
    return 0;
}

int bx_tokvec_add_text(bx_tokvec *v, const char *s, size_t len)
{
    size_t n = bx_tok_count(s, len);
    if (bx_tokvec_reserve(v, n) != 0) return -1;
    bx_tok_encode(s, len, v->ids + v->n, NULL, n);
    v->n += n;
    return 0;
}

int bx_tokvec_add_ids(bx_tokvec *v, const json_t *a)
{
    if (bx_tokvec_reserve(v, json_array_size(a)) != 0) return -1;
    size_t i;
    const json_t *x;
    json_array_foreach(a, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) >= (json_int_t)BX_TOK_VOCAB)
            return -2;
        v->ids[v->n++] = (uint32_t)json_integer_value(x);
    }
    return 0;
}

static int bx_prompt_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int bx_prompt_completion(bx_tokvec *v, const json_t *p, char *err, size_t errlen)
{
    if (json_is_string(p)) {
        if (bx_tokvec_add_text(v, json_string_value(p), json_string_length(p)) != 0)
            return bx_prompt_fail(err, errlen, "prompt is too long");
        return 0;
    }
    if (json_is_array(p) && json_array_size(p) > 0) {
        const json_t *first = json_array_get(p, 0);
        if (json_is_integer(first)) {
            int rc = bx_tokvec_add_ids(v, p);
            if (rc == -2) return bx_prompt_fail(err, errlen, "prompt token ids must be in vocab");
            if (rc) return bx_prompt_fail(err, errlen, "prompt is too long");
            return 0;
        }
        if (json_array_size(p) != 1)
            return bx_prompt_fail(err, errlen,
                                  "batched prompts are not supported: send one prompt per request");
        if (json_is_array(first) || json_is_string(first))
            return bx_prompt_completion(v, first, err, errlen);
    }
    return bx_prompt_fail(
        err, errlen, "'prompt' must be a string, an array of token ids, or a one-element list");
}

int bx_prompt_chat(bx_tokvec *v, const json_t *messages, char *err, size_t errlen)
{
    return bx_prompt_chat_opts(v, messages, BX_CHAT_GEN_PROMPT, err, errlen);
}

int bx_prompt_chat_opts(bx_tokvec *v, const json_t *messages, int flags, char *err, size_t errlen)
{
    bx_buf b;
    bx_buf_init(&b);
    int rc = bx_chat_render_opts(messages, flags, &b, err, errlen);
    if (rc == 0 && bx_tokvec_add_text(v, b.data ? b.data : "", b.len) != 0) {
        snprintf(err, errlen, "prompt is too long");
        rc = -1;
    }
    bx_buf_free(&b);
    return rc;
}
