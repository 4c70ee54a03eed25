/* eng_kvxfer: see eng_kvxfer.h. */
#include "engine/eng_kvxfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *eng_kvxfer_role_name(int role)
{
    switch (role) {
    case ENG_KV_PRODUCER:
        return "kv_producer";
    case ENG_KV_CONSUMER:
        return "kv_consumer";
    case ENG_KV_BOTH:
        return "kv_both";
    default:
        return "none";
    }
}

/* vLLM's KVTransferConfig fields the engine accepts without acting on. */
static const char *const eng_kvxfer_passive[] = {
    "engine_id", "kv_buffer_device",          "kv_buffer_size",
    "kv_rank",   "kv_parallel_size",          "kv_ip",
    "kv_port",   "kv_connector_extra_config", "kv_connector_module_path",
    NULL};

int eng_kvxfer_config_parse(const char *json, size_t len, eng_kvxfer_cfg *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > ENG_KVXFER_CONFIG_MAX) {
        snprintf(err, errlen, "--kv-transfer-config: longer than %d bytes", ENG_KVXFER_CONFIG_MAX);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "--kv-transfer-config: not a JSON object%s%.100s", root ? "" : ": ",
                 root ? "" : je.text);
        json_decref(root);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (!strcmp(key, "kv_connector")) {
            const char *s = json_string_value(v);
            if (!s || !s[0] || strlen(s) >= sizeof(out->connector)) {
                snprintf(err, errlen, "--kv-transfer-config: kv_connector must be a name");
                goto out;
            }
            snprintf(out->connector, sizeof(out->connector), "%s", s);
        } else if (!strcmp(key, "kv_role")) {
            const char *s = json_string_value(v);
            if (s && !strcmp(s, "kv_producer"))
                out->role = ENG_KV_PRODUCER;
            else if (s && !strcmp(s, "kv_consumer"))
                out->role = ENG_KV_CONSUMER;
            else if (s && !strcmp(s, "kv_both"))
                out->role = ENG_KV_BOTH;
            else {
                snprintf(err, errlen,
                         "--kv-transfer-config: kv_role must be kv_producer, kv_consumer or "
                         "kv_both");
                goto out;
            }
        } else if (!strcmp(key, "kv_load_failure_policy")) {
            const char *s = json_string_value(v);
            if (s && !strcmp(s, "fail"))
                out->fail_policy = ENG_KV_FAIL_ERROR;
            else if (s && !strcmp(s, "recompute"))
                out->fail_policy = ENG_KV_FAIL_RECOMPUTE;
            else {
                snprintf(err, errlen,
                         "--kv-transfer-config: kv_load_failure_policy must be fail or "
                         "recompute");
                goto out;
            }
        } else {
            int known = 0;
            for (int i = 0; eng_kvxfer_passive[i]; i++)
                if (!strcmp(key, eng_kvxfer_passive[i])) known = 1;
            if (!known) {
                char k[64];
                size_t kl = strlen(key);
                if (kl >= sizeof(k)) kl = sizeof(k) - 1;
                for (size_t i = 0; i < kl; i++) /* printable in the message */
                    k[i] = key[i] >= 0x20 && key[i] < 0x7f ? key[i] : '?';
                k[kl] = '\0';
                snprintf(err, errlen, "--kv-transfer-config: unknown field '%s'", k);
                goto out;
            }
        }
    }
    if (!out->connector[0]) {
        snprintf(err, errlen, "--kv-transfer-config: kv_connector is required");
        goto out;
    }
    if (out->role == ENG_KV_ROLE_NONE) {
        snprintf(err, errlen, "--kv-transfer-config: kv_role is required");
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* An id: 1..ENG_KVXFER_ID_MAX-1 characters of [A-Za-z0-9._:-] (it goes
 * into JSON and logs unescaped). */
static int eng_kvxfer_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ENG_KVXFER_ID_MAX) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* A host: an IP literal or a DNS name, bracket-free. */
static int eng_kvxfer_host_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == n;
}

int eng_kvxfer_params_parse(const json_t *v, eng_kvxfer_params *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) {
        snprintf(err, errlen, "kv_transfer_params must be an object");
        return -1;
    }
    const json_t *x;
    if ((x = json_object_get(v, "do_remote_decode")) && !json_is_null(x)) {
        if (!json_is_boolean(x)) goto notbool;
        out->do_remote_decode = json_is_true(x);
    }
    if ((x = json_object_get(v, "do_remote_prefill")) && !json_is_null(x)) {
        if (!json_is_boolean(x)) goto notbool;
        out->do_remote_prefill = json_is_true(x);
    }
    static const char *const idk[] = {"remote_engine_id", "remote_request_id"};
    const char **idv[] = {&out->remote_engine_id, &out->remote_request_id};
    for (int i = 0; i < 2; i++) {
        x = json_object_get(v, idk[i]);
        if (!x || json_is_null(x)) continue;
        const char *s = json_string_value(x);
        if (!s || !eng_kvxfer_id_ok(s)) {
            snprintf(err, errlen,
                     "kv_transfer_params.%s must be an id of 1-%d characters [A-Za-z0-9._:-]",
                     idk[i], ENG_KVXFER_ID_MAX - 1);
            return -1;
        }
        *idv[i] = s;
    }
    if ((x = json_object_get(v, "remote_host")) && !json_is_null(x)) {
        const char *s = json_string_value(x);
        if (!s || !eng_kvxfer_host_ok(s)) {
            snprintf(err, errlen, "kv_transfer_params.remote_host must be a host name or address");
            return -1;
        }
        out->remote_host = s;
    }
    if ((x = json_object_get(v, "remote_port")) && !json_is_null(x)) {
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 65535) {
            snprintf(err, errlen, "kv_transfer_params.remote_port must be a port number");
            return -1;
        }
        out->remote_port = (int)json_integer_value(x);
    }
    if ((x = json_object_get(v, "remote_block_ids")) && !json_is_null(x)) {
        if (!json_is_array(x) || json_array_size(x) > ENG_KVXFER_BLOCKS_MAX) {
            snprintf(err, errlen,
                     "kv_transfer_params.remote_block_ids must be an array of at most %d block ids",
                     ENG_KVXFER_BLOCKS_MAX);
            return -1;
        }
        size_t i;
        const json_t *b;
        json_array_foreach(x, i, b)
        {
            if (!json_is_integer(b) || json_integer_value(b) < 0 ||
                json_integer_value(b) > INT32_MAX) {
                snprintf(err, errlen, "kv_transfer_params.remote_block_ids must hold block ids");
                return -1;
            }
        }
        out->num_blocks = (int32_t)json_array_size(x);
    }
    if (out->do_remote_decode && out->do_remote_prefill) {
        snprintf(err, errlen,
                 "kv_transfer_params: do_remote_decode and do_remote_prefill are exclusive");
        return -1;
    }
    if (out->do_remote_prefill &&
        (!out->remote_host || !out->remote_port || !out->remote_request_id)) {
        snprintf(err, errlen,
                 "kv_transfer_params: do_remote_prefill needs remote_host, remote_port and "
                 "remote_request_id");
        return -1;
    }
    return 0;
notbool:
    snprintf(err, errlen,
             "kv_transfer_params: do_remote_decode and do_remote_prefill are booleans");
    return -1;
}

/* ---------- pins ---------- */

void eng_kvpins_init(eng_kvpins *p)
{
    memset(p, 0, sizeof(*p));
}

void eng_kvpins_close(eng_kvpins *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->a[i].blocks);
    free(p->a);
    memset(p, 0, sizeof(*p));
}

static void eng_kvpins_remove(eng_kvpins *p, int i, eng_kvpin *out)
{
    *out = p->a[i];
    p->blocks -= out->num_blocks;
    memmove(&p->a[i], &p->a[i + 1], (size_t)(p->n - i - 1) * sizeof(p->a[0]));
    p->n--;
}

int eng_kvpins_add(eng_kvpins *p, const char *id, int32_t *blocks, int32_t n, int32_t tokens,
                   double expires, eng_kvpin *dropped)
{
    int rc = 0;
    if (p->n >= ENG_KVPINS_MAX) {
        eng_kvpins_remove(p, 0, dropped);
        rc = 1;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        eng_kvpin *a = realloc(p->a, (size_t)cap * sizeof(*a));
        if (!a) return -1; /* only when not full: nothing was dropped */
        p->a = a;
        p->cap = cap;
    }
    eng_kvpin *e = &p->a[p->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->blocks = blocks;
    e->num_blocks = n;
    e->tokens = tokens;
    e->expires = expires;
    p->blocks += n;
    return rc;
}

int eng_kvpins_take(eng_kvpins *p, const char *id, eng_kvpin *out)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->a[i].id, id)) {
            eng_kvpins_remove(p, i, out);
            return 0;
        }
    return -1;
}

int eng_kvpins_expire(eng_kvpins *p, double now, eng_kvpin *out)
{
    for (int i = 0; i < p->n; i++)
        if (p->a[i].expires <= now) {
            eng_kvpins_remove(p, i, out);
            return 0;
        }
    return -1;
}

int eng_kvxfer_pull_req_parse(const char *body, size_t len, char id[ENG_KVXFER_ID_MAX],
                              char eid[ENG_KVXFER_ID_MAX])
{
    json_t *o = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const json_t *i = json_object_get(o, "remote_request_id");
    const json_t *e = json_object_get(o, "remote_engine_id");
    int rc = -1;
    if (json_is_string(i) && json_string_length(i) > 0 &&
        json_string_length(i) < ENG_KVXFER_ID_MAX && (!e || json_is_string(e)) &&
        (!e || json_string_length(e) < ENG_KVXFER_ID_MAX)) {
        snprintf(id, ENG_KVXFER_ID_MAX, "%s", json_string_value(i));
        snprintf(eid, ENG_KVXFER_ID_MAX, "%s", e ? json_string_value(e) : "");
        rc = 0;
    }
    json_decref(o);
    return rc;
}

int32_t eng_kvxfer_pull_ans_parse(const char *body, size_t len, int32_t max_tokens)
{
    json_t *o = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const json_t *t = json_object_get(o, "tokens");
    int32_t n = -1;
    if (json_is_integer(t) && json_integer_value(t) >= 0 && json_integer_value(t) <= max_tokens)
        n = (int32_t)json_integer_value(t);
    json_decref(o);
    return n;
}
