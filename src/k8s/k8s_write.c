/* k8s_write: see k8s_write.h. Bodies are serialized here; the transport
 * copies them. */
#include "k8s/k8s_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int k8s_path(char *buf, size_t cap, const char *group, const char *version, const char *ns,
             const char *plural, const char *name, const char *sub)
{
    int n;
    if (group && group[0])
        n = snprintf(buf, cap, "/apis/%s/%s", group, version);
    else
        n = snprintf(buf, cap, "/api/%s", version);
    if (n < 0 || (size_t)n >= cap) return -1;
    size_t used = (size_t)n;
#define ADD(fmt, v)                                                                                \
    do {                                                                                           \
        n = snprintf(buf + used, cap - used, fmt, v);                                              \
        if (n < 0 || (size_t)n >= cap - used) return -1;                                           \
        used += (size_t)n;                                                                         \
    } while (0)
    if (ns && ns[0]) ADD("/namespaces/%s", ns);
    ADD("/%s", plural);
    if (name) ADD("/%s", name);
    if (name && sub) ADD("/%s", sub);
#undef ADD
    return 0;
}

static k8s_req *send_json(k8s_client *c, const char *method, const char *path, const char *ctype,
                          const json_t *body, k8s_done_cb cb, void *ud)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return NULL;
    k8s_req *r = k8s_request(c, method, path, NULL, ctype, s, cb, ud);
    free(s);
    return r;
}

k8s_req *k8s_create(k8s_client *c, const char *coll, const json_t *obj, k8s_done_cb cb, void *ud)
{
    return send_json(c, "POST", coll, NULL, obj, cb, ud);
}

k8s_req *k8s_replace(k8s_client *c, const char *item, const json_t *obj, k8s_done_cb cb, void *ud)
{
    if (!k8s_meta(obj, "resourceVersion")[0]) return NULL;
    return send_json(c, "PUT", item, NULL, obj, cb, ud);
}

k8s_req *k8s_patch(k8s_client *c, const char *item, enum k8s_patch_type t, const json_t *patch,
                   k8s_done_cb cb, void *ud)
{
    static const char *const ct[] = {"application/merge-patch+json", "application/json-patch+json",
                                     "application/strategic-merge-patch+json"};
    if ((unsigned)t > K8S_PATCH_STRATEGIC) return NULL;
    if (t == K8S_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch)) return NULL;
    return send_json(c, "PATCH", item, ct[t], patch, cb, ud);
}

k8s_req *k8s_scale(k8s_client *c, const char *item, long replicas, k8s_done_cb cb, void *ud)
{
    char path[1024];
    if (snprintf(path, sizeof(path), "%s/scale", item) >= (int)sizeof(path) || replicas < 0)
        return NULL;
    json_t *p = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)replicas);
    k8s_req *r = p ? k8s_patch(c, path, K8S_PATCH_MERGE, p, cb, ud) : NULL;
    json_decref(p);
    return r;
}

k8s_req *k8s_delete(k8s_client *c, const char *item, const char *propagation, const char *pre_uid,
                    const char *pre_rv, k8s_done_cb cb, void *ud)
{
    json_t *o = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (!o) return NULL;
    if (propagation) json_object_set_new(o, "propagationPolicy", json_string(propagation));
    if (pre_uid || pre_rv) {
        json_t *p = json_object();
        if (pre_uid) json_object_set_new(p, "uid", json_string(pre_uid));
        if (pre_rv) json_object_set_new(p, "resourceVersion", json_string(pre_rv));
        json_object_set_new(o, "preconditions", p);
    }
    k8s_req *r = send_json(c, "DELETE", item, NULL, o, cb, ud);
    json_decref(o);
    return r;
}

struct k8s_op {
    k8s_client *c;
    char *item;
    int tries_left;
    k8s_mutate_fn mutate;
    k8s_done_cb cb;
    void *ud;
    k8s_req *req;
};

static void op_get(k8s_op *op);

static void op_answer(k8s_op *op, const k8s_resp *r)
{
    k8s_done_cb cb = op->cb;
    void *ud = op->ud;
    free(op->item);
    free(op);
    cb(r, ud);
}

static void on_put(const k8s_resp *r, void *ud)
{
    k8s_op *op = ud;
    op->req = NULL;
    if (r->code == 409 && r->status && strcmp(r->status->reason, "Conflict") == 0 &&
        op->tries_left > 0) {
        op_get(op);
        if (op->req) return;
    }
    op_answer(op, r);
}

static void on_get(const k8s_resp *r, void *ud)
{
    k8s_op *op = ud;
    op->req = NULL;
    if (r->code != 200 || !json_is_object(r->body)) {
        op_answer(op, r);
        return;
    }
    json_t *obj = json_deep_copy(r->body);
    int m = obj ? op->mutate(obj, op->ud) : -1;
    if (m == 0) op->req = k8s_replace(op->c, op->item, obj, on_put, op);
    json_decref(obj);
    if (!op->req) op_answer(op, r); /* nothing to write, gave up, or could not send */
}

static void op_get(k8s_op *op)
{
    op->tries_left--;
    op->req = k8s_request(op->c, "GET", op->item, NULL, NULL, NULL, on_get, op);
}

k8s_op *k8s_update_retry(k8s_client *c, const char *item, int max_tries, k8s_mutate_fn mutate,
                         k8s_done_cb cb, void *ud)
{
    k8s_op *op = calloc(1, sizeof(*op));
    if (!op) return NULL;
    op->c = c;
    op->item = strdup(item);
    op->tries_left = max_tries > 0 ? max_tries : 5;
    op->mutate = mutate;
    op->cb = cb;
    op->ud = ud;
    if (op->item) op_get(op);
    if (!op->req) {
        free(op->item);
        free(op);
        return NULL;
    }
    return op;
}

void k8s_op_cancel(k8s_op *op)
{
    if (!op) return;
    k8s_cancel(op->req);
    free(op->item);
    free(op);
}
