/* gw_req: the gateway's one pass over a request body: the fields routing,
 * limits and accounting need (model, stream, include_usage, user,
 * max_tokens) and the prompt's tokens exactly as the engine will count
 * them (bx_prompt), from which the vLLM block keys are hashed for
 * prefix-aware routing. Pure; fuzzed by fuzz/fuzz_gw_request.c. Also the
 * request id a W3C traceparent header gives (gw_traceparent_id).
 *
 * When no prompt is needed, the body is checked by bx_jscan without building
 * a tree (jansson only when the scanner is unsure, for its exact errors).
 *
 * Ownership: gw_req_parse fills a caller-owned gw_req; strings point into
 * req->root or req->strs, which the struct owns; gw_req_free releases
 * everything. The raw body is forwarded to the engine unchanged. */
#ifndef GW_REQ_H
#define GW_REQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_blockhash.h"
#include "common/bx_prompt.h"

typedef enum gw_api { GW_API_CHAT = 0, GW_API_COMPLETIONS, GW_API_EMBEDDINGS } gw_api;

typedef struct gw_req {
    gw_api api;
    json_t *root;  /* the parsed body; NULL when the fast scan sufficed */
    char *strs;    /* model and user when root is NULL and they do not fit inl (owned) */
    char inl[128]; /* model and user when root is NULL and they fit (no malloc) */
    const char *model;
    const char *user; /* body's "user" */
    int stream, include_usage;
    int32_t max_tokens; /* -1 when absent */
    bx_tokvec tokens;   /* prompt tokens; empty for embeddings */
    uint64_t *block_keys;
    size_t nblocks;
} gw_req;

/* 0, or -1 with a message for a 400 answer. The prompt is validated and
 * tokenized only when want_tokens is set (a routing strategy reads it);
 * otherwise the engine validates it. */
int gw_req_parse(gw_api api, const char *body, size_t len, int want_tokens, gw_req *r, char *err,
                 size_t errlen);
/* Hashes the full blocks of the prompt (extra_name: the LoRA adapter's name
 * when the model is an adapter, else NULL). 0 or -1 (out of memory). */
int gw_req_hash(gw_req *r, const bx_blockhash *root, int block_size, const char *extra_name);
void gw_req_free(gw_req *r);

/* The request id from a W3C traceparent header (AIBrix: its trace id
 * becomes the request id): `version-traceid-parentid-flags`, lowercase hex
 * of 2, 32, 16 and 2 digits; version ff, an all-zero trace or parent id,
 * or version 00 with anything after the flags is invalid (a later version
 * may add "-..." fields). Writes the 32-digit trace id and a NUL into out
 * (at least 33 bytes): 0; -1 when tp is NULL or invalid (out untouched). */
int gw_traceparent_id(const char *tp, char *out);

#endif
