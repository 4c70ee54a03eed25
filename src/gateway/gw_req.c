/* gw_req: see gw_req.h. Validation is only what the gateway needs to route;
 * the engine validates the rest and its 400s pass through unchanged. */
#include "gateway/gw_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_json.h"

static int gw_req_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int gw_req_parse(gw_api api, const char *body, size_t len, int want_tokens, gw_req *r, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->api = api;
    r->max_tokens = -1;
    r->root = bx_json_parse_object(body, len, 0, err, errlen);
    if (!r->root) return -1;
    const json_t *o = r->root;
    int rc = bx_json_get_str(o, "model", NULL, &r->model, err, errlen);
    if (rc < 0) return -1;
    if (rc == 0 || !r->model[0]) return gw_req_fail(err, errlen, "'model' is required");
    if (bx_json_get_str(o, "user", NULL, &r->user, err, errlen) < 0) return -1;
    if (bx_json_get_bool(o, "stream", 0, &r->stream, err, errlen) < 0) return -1;
    const json_t *so = json_object_get(o, "stream_options");
    if (json_is_object(so) &&
        bx_json_get_bool(so, "include_usage", 0, &r->include_usage, err, errlen) < 0)
        return -1;
    int64_t mt = -1;
    if (bx_json_get_int(o, "max_tokens", -1, &mt, err, errlen) < 0) return -1;
    if (api == GW_API_CHAT && json_object_get(o, "max_completion_tokens") &&
        bx_json_get_int(o, "max_completion_tokens", mt, &mt, err, errlen) < 0)
        return -1;
    r->max_tokens = mt > 0 && mt < (1 << 24) ? (int32_t)mt : -1;
    if (api == GW_API_EMBEDDINGS) {
        if (r->stream) return gw_req_fail(err, errlen, "embeddings cannot be streamed");
        if (!json_object_get(o, "input")) return gw_req_fail(err, errlen, "'input' is required");
        return 0;
    }
    if (api == GW_API_CHAT) {
        const json_t *m = json_object_get(o, "messages");
        if (!json_is_array(m) || json_array_size(m) == 0)
            return gw_req_fail(err, errlen, "'messages' must be a non-empty array");
        return want_tokens ? bx_prompt_chat(&r->tokens, m, err, errlen) : 0;
    }
    const json_t *p = json_object_get(o, "prompt");
    if (!p) return gw_req_fail(err, errlen, "'prompt' is required");
    return want_tokens ? bx_prompt_completion(&r->tokens, p, err, errlen) : 0;
}

int gw_req_hash(gw_req *r, const bx_blockhash *root, int block_size, const char *extra_name)
{
    free(r->block_keys);
    r->block_keys = NULL;
    r->nblocks = 0;
    if (block_size <= 0) return 0;
    size_t nb = r->tokens.n / (size_t)block_size;
    if (nb == 0) return 0;
    r->block_keys = malloc(nb * sizeof(*r->block_keys));
    if (!r->block_keys) return -1;
    r->nblocks = bx_blockhash_chain(root, r->tokens.ids, r->tokens.n, (size_t)block_size,
                                    extra_name, nb, r->block_keys, NULL);
    return 0;
}

void gw_req_free(gw_req *r)
{
    json_decref(r->root);
    bx_tokvec_free(&r->tokens);
    free(r->block_keys);
    memset(r, 0, sizeof(*r));
}
