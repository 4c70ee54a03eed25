/* eng_kvxfer: the words of vLLM's KV-transfer interface that the engine
 * reads, and the table of KV a prefill engine keeps pinned for its decode
 * engine (prefill/decode disaggregation; the server glue is eng_pd.c).
 * Pure (no I/O): fuzzed by fuzz/fuzz_kvxfer.c.
 *
 *  - --kv-transfer-config: vLLM's KVTransferConfig JSON, e.g.
 *    {"kv_connector":"NixlConnector","kv_role":"kv_both"}. kv_role is
 *    kv_producer (prefill), kv_consumer (decode) or kv_both; the other
 *    fields of vLLM's config are accepted and not acted on, a key vLLM does
 *    not know is refused. kv_load_failure_policy ("fail", the default as vLLM's,
 *    or "recompute") says what a decode engine does when the prefill side
 *    no longer holds the KV.
 *  - a request's kv_transfer_params (NixlConnector's): do_remote_decode
 *    (a prefill: answer one token and the params below), do_remote_prefill
 *    with remote_engine_id, remote_host, remote_port, remote_request_id,
 *    remote_block_ids (a decode: pull the KV from there).
 *
 * Ownership: eng_kvxfer_params' strings point into the JSON it was parsed
 * from (the caller keeps it alive). The pin table owns its entries' block
 * arrays (given to it by eng_kvpins_add, given back by take/expire). */
#ifndef ENG_KVXFER_H
#define ENG_KVXFER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum eng_kv_role {
    ENG_KV_ROLE_NONE = 0,
    ENG_KV_PRODUCER = 1,
    ENG_KV_CONSUMER = 2,
    ENG_KV_BOTH = 3
};
enum eng_kv_fail { ENG_KV_FAIL_ERROR = 0, ENG_KV_FAIL_RECOMPUTE = 1 };

#define ENG_KVXFER_CONFIG_MAX 8192  /* bytes of --kv-transfer-config */
#define ENG_KVXFER_ID_MAX 64        /* remote_engine_id, remote_request_id */
#define ENG_KVXFER_BLOCKS_MAX 65536 /* remote_block_ids in one request */

typedef struct eng_kvxfer_cfg {
    int role;        /* eng_kv_role */
    int fail_policy; /* eng_kv_fail */
    char connector[64];
} eng_kvxfer_cfg;

/* Parses --kv-transfer-config's JSON. 0, or -1 with why in err. */
int eng_kvxfer_config_parse(const char *json, size_t len, eng_kvxfer_cfg *out, char *err,
                            size_t errlen);
/* "kv_producer", ... for role. */
const char *eng_kvxfer_role_name(int role);

typedef struct eng_kvxfer_params {
    int do_remote_decode, do_remote_prefill;
    const char *remote_engine_id, *remote_host, *remote_request_id; /* NULL: absent */
    int remote_port;                                                /* 0: absent */
    int32_t num_blocks; /* entries of remote_block_ids */
} eng_kvxfer_params;

/* Parses a request's kv_transfer_params (v: the value, NULL or JSON null
 * = none). A do_remote_prefill needs remote_host, remote_port,
 * remote_request_id and remote_block_ids. 0, or -1 with why in err. */
int eng_kvxfer_params_parse(const json_t *v, eng_kvxfer_params *out, char *err, size_t errlen);

/* The side channel's two bodies (outside bytes, fuzz/fuzz_kvxfer.c).
 * A pull request {"remote_request_id": ID, "remote_engine_id"?: EID}: 0 with
 * id (and eid, "" when absent) copied, or -1 (no id, a wrong type, an id
 * of ENG_KVXFER_ID_MAX bytes or more, not JSON). */
int eng_kvxfer_pull_req_parse(const char *body, size_t len, char id[ENG_KVXFER_ID_MAX],
                              char eid[ENG_KVXFER_ID_MAX]);
/* A pull answer {"tokens": N, ...}: N (0 <= N <= max_tokens), or -1. */
int32_t eng_kvxfer_pull_ans_parse(const char *body, size_t len, int32_t max_tokens);

/* ---------- the pinned KV of finished prefills ---------- */

#define ENG_KVPINS_MAX 4096 /* entries; beyond, the oldest is dropped */

typedef struct eng_kvpin {
    char id[ENG_KVXFER_ID_MAX]; /* the prefill's request id */
    int32_t *blocks;            /* GPU block ids, owned */
    int32_t num_blocks;
    int32_t tokens; /* prompt tokens whose KV they hold */
    double expires; /* simulated time */
} eng_kvpin;

typedef struct eng_kvpins {
    eng_kvpin *a; /* oldest first */
    int n, cap;
    int64_t blocks; /* sum of num_blocks */
} eng_kvpins;

void eng_kvpins_init(eng_kvpins *p);
/* Frees the table and every block array it holds (not the GPU blocks). */
void eng_kvpins_close(eng_kvpins *p);
/* Adds a pin (takes blocks). When the table is full the oldest entry is
 * moved to *dropped (the caller releases its blocks and frees its array)
 * and 1 is returned; else 0. -1: out of memory (blocks untouched). */
int eng_kvpins_add(eng_kvpins *p, const char *id, int32_t *blocks, int32_t n, int32_t tokens,
                   double expires, eng_kvpin *dropped);
/* Removes the pin of id into *out (the caller owns out->blocks). 0, or -1
 * when there is none. */
int eng_kvpins_take(eng_kvpins *p, const char *id, eng_kvpin *out);
/* Removes one pin expired by now into *out. 0, or -1 when none is. */
int eng_kvpins_expire(eng_kvpins *p, double now, eng_kvpin *out);

#endif
