/* eng_req: parses and validates the JSON body of an OpenAI request the way
 * vLLM's frontend does, into one struct the engine acts on. Pure (no I/O):
 * fuzzed by fuzz/fuzz_engine_request.c.
 *
 * Ownership: eng_req_parse fills *out; the caller frees it with
 * eng_req_free. Strings point into out->root (the parsed JSON), which the
 * struct owns. */
#ifndef ENG_REQ_H
#define ENG_REQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum eng_api {
    ENG_API_COMPLETIONS = 0,
    ENG_API_CHAT,
    ENG_API_EMBEDDINGS,
    ENG_API_TOKENIZE,
};

#define ENG_REQ_MAX_TOKENS (1 << 20) /* prompt ids accepted in one request */
#define ENG_REQ_MAX_INPUTS 2048      /* embeddings inputs */

typedef struct eng_req {
    enum eng_api api;
    json_t *root;
    const char *model; /* NULL: the default served model */
    uint32_t *ids;     /* prompt token ids (malloc'd) */
    int32_t num_ids;
    int32_t max_tokens; /* -1: not given */
    int32_t min_tokens;
    int stream, include_usage, continuous_usage, ignore_eos;
    const char *user;
    /* embeddings: one id range per input into ids */
    int32_t num_inputs;
    int32_t *input_off; /* num_inputs + 1 offsets into ids */
    int32_t dimensions; /* 0: default */
    int base64;         /* encoding_format "base64": little-endian float32 */
    /* chat with continue_final_message (vLLM's; add_generation_prompt then
     * false): the last (assistant) message is left open and continued. The
     * simulator's words are drawn as for the prompt without that message
     * (seed_ids, owned; NULL otherwise) from word gen_offset on (its tokens),
     * so a continued answer goes on with the very words the first one would
     * have said (the gateway's stream migration is checked against that). */
    int continue_final;
    uint32_t *seed_ids;
    int32_t num_seed_ids, gen_offset;
} eng_req;

/* Returns 0, or -1 with a message for a 400 answer in err. */
int eng_req_parse(enum eng_api api, const char *body, size_t len, eng_req *out, char *err,
                  size_t errlen);
void eng_req_free(eng_req *r);

#endif
