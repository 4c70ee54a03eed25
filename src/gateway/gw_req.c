/* gw_req: see gw_req.h. Validation is only what the gateway needs to route;
 * the engine validates the rest and its 400s pass through unchanged. */
#include "gateway/gw_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_jscan.h"
#include "common/bx_json.h"

static int gw_req_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int gw_req_key(const bx_jscan_member *m, const char *k)
{
    size_t n = strlen(k);
    return m->key_len == n && memcmp(m->key, k, n) == 0;
}

/* A JSON integer member into *out; -1 when it is not a plain integer. */
static int gw_req_scan_int(const bx_jscan_member *m, int64_t *out)
{
    if (m->type == BX_JSCAN_NULL) return 0;
    return bx_jscan_int(m, out);
}

/* The fast path when no prompt is read: bx_jscan validates the whole body
 * and finds the fields without building a tree. 0 done; 1 when the body is
 * anything but the plain case (unsure JSON, a field of an unexpected type,
 * a missing required field): the jansson path then answers, with its exact
 * messages. The fields' semantics equal the jansson path's. */
static int gw_req_scan(gw_api api, const char *body, size_t len, gw_req *r)
{
    bx_jscan_member m[64];
    size_t n;
    if (len > BX_JSON_MAX_BODY_DEFAULT || bx_jscan_object(body, len, m, 64, &n) != BX_JSCAN_OK)
        return 1;
    const bx_jscan_member *model = NULL, *user = NULL;
    int have_prompt = 0, stream = 0, include_usage = 0;
    int64_t mt = -1, mct = -1;
    int have_mct = 0;
    for (size_t i = 0; i < n; i++) {
        const bx_jscan_member *f = &m[i];
        if (gw_req_key(f, "model")) {
            if (f->type != BX_JSCAN_STRING || f->escaped || f->val_len == 0) return 1;
            model = f;
        } else if (gw_req_key(f, "user")) {
            if (f->type == BX_JSCAN_NULL) continue;
            if (f->type != BX_JSCAN_STRING || f->escaped) return 1;
            user = f;
        } else if (gw_req_key(f, "stream")) {
            if (f->type != BX_JSCAN_TRUE && f->type != BX_JSCAN_FALSE && f->type != BX_JSCAN_NULL)
                return 1;
            stream = f->type == BX_JSCAN_TRUE;
        } else if (gw_req_key(f, "stream_options")) {
            if (f->type != BX_JSCAN_OBJECT) continue; /* ignored unless an object */
            bx_jscan_member so[16];
            size_t ns;
            if (bx_jscan_object(f->val, f->val_len, so, 16, &ns) != BX_JSCAN_OK) return 1;
            for (size_t k = 0; k < ns; k++)
                if (gw_req_key(&so[k], "include_usage")) {
                    if (so[k].type != BX_JSCAN_TRUE && so[k].type != BX_JSCAN_FALSE &&
                        so[k].type != BX_JSCAN_NULL)
                        return 1;
                    include_usage = so[k].type == BX_JSCAN_TRUE;
                }
        } else if (gw_req_key(f, "max_tokens")) {
            if (gw_req_scan_int(f, &mt) != 0) return 1;
        } else if (gw_req_key(f, "max_completion_tokens")) {
            if (gw_req_scan_int(f, &mct) != 0) return 1;
            have_mct = f->type != BX_JSCAN_NULL;
        } else if (api == GW_API_CHAT && gw_req_key(f, "messages")) {
            if (f->type != BX_JSCAN_ARRAY || f->empty) return 1;
            have_prompt = 1;
        } else if (api == GW_API_COMPLETIONS && gw_req_key(f, "prompt")) {
            have_prompt = 1;
        } else if (api == GW_API_EMBEDDINGS && gw_req_key(f, "input")) {
            have_prompt = 1;
        }
    }
    if (!model || !have_prompt || (api == GW_API_EMBEDDINGS && stream)) return 1;
    if (api == GW_API_CHAT && have_mct) mt = mct;
    size_t ml = model->val_len, ul = user ? user->val_len : 0;
    size_t need = ml + 1 + (user ? ul + 1 : 0);
    char *d = r->inl;
    if (need > sizeof(r->inl)) {
        if (!(r->strs = malloc(need))) return 1;
        d = r->strs;
    }
    memcpy(d, model->val, ml);
    d[ml] = 0;
    r->model = d;
    if (user) {
        memcpy(d + ml + 1, user->val, ul);
        d[ml + 1 + ul] = 0;
        r->user = d + ml + 1;
    }
    r->stream = stream;
    r->include_usage = include_usage;
    r->max_tokens = mt > 0 && mt < (1 << 24) ? (int32_t)mt : -1;
    return 0;
}

int gw_req_parse(gw_api api, const char *body, size_t len, int want_tokens, gw_req *r, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->api = api;
    r->max_tokens = -1;
    if (!want_tokens) {
        if (gw_req_scan(api, body, len, r) == 0) return 0;
        free(r->strs);
        memset(r, 0, sizeof(*r));
    }
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
    free(r->strs);
    bx_tokvec_free(&r->tokens);
    free(r->block_keys);
    memset(r, 0, sizeof(*r));
}

/* n lowercase hex digits at p; *zero set when they are all 0 */
static int gw_hexn(const char *p, int n, int *zero)
{
    *zero = 1;
    for (int i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return -1;
        if (ch != '0') *zero = 0;
    }
    return 0;
}

int gw_traceparent_id(const char *tp, char *out)
{
    if (!tp) return -1;
    while (*tp == ' ' || *tp == '\t')
        tp++;
    size_t len = strlen(tp);
    while (len && (tp[len - 1] == ' ' || tp[len - 1] == '\t'))
        len--;
    int z;
    if (len < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return -1;
    if (gw_hexn(tp, 2, &z) != 0 || !strncmp(tp, "ff", 2)) return -1;
    int v00 = z;
    if (gw_hexn(tp + 3, 32, &z) != 0 || z) return -1;
    if (gw_hexn(tp + 36, 16, &z) != 0 || z) return -1;
    if (gw_hexn(tp + 53, 2, &z) != 0) return -1;
    if (len > 55 && (v00 || tp[55] != '-')) return -1;
    memcpy(out, tp + 3, 32);
    out[32] = '\0';
    return 0;
}
