/* libFuzzer target: what the engine parses from outside for prefill/decode
 * disaggregation (eng_kvxfer.h): --kv-transfer-config's JSON and a
 * request's kv_transfer_params, the side channel's pull request and answer
 * (eng_kvxfer_pull_*_parse), and the gateway's rewriting of a prefill
 * answer into the decode body (gw_pd.h). Checks that an accepted config
 * has a role and a connector name, that accepted params are consistent (not
 * both directions; a do_remote_prefill has where to pull from; ids and
 * hosts plain), and that a decode body built from any answer is a JSON
 * object whose kv_transfer_params.remote_host is the prefill's. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eng_kvxfer.h"
#include "gateway/gw_pd.h"

static void check_id(const char *s)
{
    if (!s) return;
    size_t n = strlen(s);
    if (n == 0 || n >= ENG_KVXFER_ID_MAX || strpbrk(s, "\"\\ /\n")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    const char *s = (const char *)data;
    char err[256];
    eng_kvxfer_cfg c;
    if (eng_kvxfer_config_parse(s, size, &c, err, sizeof(err)) == 0) {
        if (c.role < ENG_KV_PRODUCER || c.role > ENG_KV_BOTH || !c.connector[0]) abort();
        if (c.fail_policy != ENG_KV_FAIL_ERROR && c.fail_policy != ENG_KV_FAIL_RECOMPUTE) abort();
    }
    json_t *o = json_loadb(s, size, JSON_DECODE_ANY, NULL);
    eng_kvxfer_params p;
    if (o && eng_kvxfer_params_parse(o, &p, err, sizeof(err)) == 0) {
        if (p.do_remote_decode && p.do_remote_prefill) abort();
        if (p.do_remote_prefill && (!p.remote_host || !p.remote_port || !p.remote_request_id))
            abort();
        check_id(p.remote_request_id);
        check_id(p.remote_engine_id);
        if (p.remote_host && strpbrk(p.remote_host, "\"\\ /\n")) abort();
        if (p.remote_port < 0 || p.remote_port > 65535 || p.num_blocks < 0) abort();
    }
    json_decref(o);
    /* the side channel: a pull request and a pull answer */
    char id[ENG_KVXFER_ID_MAX], eid[ENG_KVXFER_ID_MAX];
    if (eng_kvxfer_pull_req_parse(s, size, id, eid) == 0 &&
        (!id[0] || strlen(id) >= ENG_KVXFER_ID_MAX || strlen(eid) >= ENG_KVXFER_ID_MAX))
        abort();
    int32_t n = eng_kvxfer_pull_ans_parse(s, size, 1 << 20);
    if (n < -1 || n > (1 << 20)) abort();
    static const char body[] = "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true}";
    char *out;
    size_t len;
    if (gw_pd_decode_body(body, sizeof(body) - 1, s, size, "10.1.2.3", &out, &len, err,
                          sizeof(err)) == 0) {
        json_t *d = json_loadb(out, len, 0, NULL);
        const char *h = json_string_value(
            json_object_get(json_object_get(d, "kv_transfer_params"), "remote_host"));
        if (!d || !h || strcmp(h, "10.1.2.3") != 0) abort();
        json_decref(d);
        free(out);
    }
    return 0;
}
