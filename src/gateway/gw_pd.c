/* gw_pd: the bodies and the prefill leg of the `pd` strategy's two-leg
 * call (gw_pd.h); the selection is strategies/pd.c. */
#include "gateway/gw_pd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/bx_buf.h"

/* ---------- bodies ---------- */

static int gw_pd_dump(json_t *o, char **out, size_t *outlen)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (!s) return -1;
    *out = s;
    *outlen = strlen(s);
    return 0;
}

int gw_pd_prefill_body(const char *body, size_t len, char **out, size_t *outlen)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    json_t *kv = json_pack("{s:b,s:b,s:n,s:n,s:n,s:n}", "do_remote_decode", 1, "do_remote_prefill",
                           0, "remote_engine_id", "remote_block_ids", "remote_host", "remote_port");
    int rc = -1;
    if (kv && json_object_set_new(o, "max_tokens", json_integer(1)) == 0 &&
        json_object_set_new(o, "max_completion_tokens", json_integer(1)) == 0 &&
        json_object_set_new(o, "stream", json_false()) == 0 &&
        json_object_set(o, "kv_transfer_params", kv) == 0) {
        json_object_del(o, "stream_options");
        json_object_del(o, "min_tokens");
        rc = gw_pd_dump(o, out, outlen);
    }
    json_decref(kv);
    json_decref(o);
    return rc;
}

int gw_pd_decode_body(const char *body, size_t len, const char *resp, size_t rlen,
                      const char *prefill_host, char **out, size_t *outlen, char *err,
                      size_t errlen)
{
    int rc = -1;
    json_t *o = json_loadb(body, len, 0, NULL);
    json_t *r = json_loadb(resp, rlen, 0, NULL);
    json_t *kv = json_object_get(r, "kv_transfer_params");
    if (!json_is_object(o)) {
        snprintf(err, errlen, "the request body is not a JSON object");
        goto out;
    }
    if (!json_is_object(kv)) {
        snprintf(err, errlen, "the prefill engine's answer has no kv_transfer_params");
        goto out;
    }
    kv = json_deep_copy(kv);
    if (!kv || json_object_set_new(kv, "remote_host", json_string(prefill_host)) != 0 ||
        json_object_set_new(o, "kv_transfer_params", kv) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (gw_pd_dump(o, out, outlen) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    json_decref(r);
    json_decref(o);
    return rc;
}

/* ---------- the prefill leg ---------- */

struct gw_pd_leg {
    bx_http_creq *creq;
    gw_pd_leg_cb cb;
    void *ud;
    int status;
    bx_buf body;
};

static void gw_pd_leg_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                               void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    gw_pd_leg *l = ud;
    l->status = status;
}

static void gw_pd_leg_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    (void)cr;
    gw_pd_leg *l = ud;
    if (l->body.len + len <= GW_PD_RESP_MAX) bx_buf_append(&l->body, data, len);
}

static void gw_pd_leg_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    gw_pd_leg *l = ud;
    l->creq = NULL;
    if (bx_buf_append(&l->body, "", 1) != 0 && !err) err = BX_HTTP_ENOMEM; /* NUL */
    l->cb(err, l->status, l->body.data ? l->body.data : "", l->body.len ? l->body.len - 1 : 0,
          l->ud);
    bx_buf_free(&l->body);
    free(l);
}

int gw_pd_leg_start(bx_http_client *cli, const bx_http_client_req *r, gw_pd_leg_cb cb, void *ud,
                    gw_pd_leg **out)
{
    gw_pd_leg *l = calloc(1, sizeof(*l));
    if (!l) return -1;
    bx_buf_init(&l->body);
    l->cb = cb;
    l->ud = ud;
    bx_http_client_cbs cbs = {gw_pd_leg_response, gw_pd_leg_data, gw_pd_leg_done};
    if (bx_http_client_request(cli, r, &cbs, l, &l->creq) != 0) {
        free(l);
        return -1;
    }
    *out = l;
    return 0;
}

void gw_pd_leg_cancel(gw_pd_leg *l)
{
    if (l && l->creq) bx_http_client_cancel(l->creq);
}

uint64_t gw_pd_prefill_timeout_ms(void)
{
    const char *v = getenv("AIBRIX_PREFILL_REQUEST_TIMEOUT");
    if (v && *v) {
        char *end;
        long s = strtol(v, &end, 10);
        if (*end == '\0' && s > 0 && s <= 86400) return (uint64_t)s * 1000;
    }
    return 30000;
}
