/* loadgen_api: the OpenAI wire format as `brix bench` speaks it, pure: builds
 * request bodies (chat or completions, with vLLM's ignore_eos) and parses one
 * response object (a streamed chunk or a whole non-streamed answer) into the
 * few fields the benchmark measures.
 *
 * Memory: loadgen_api_body returns a malloc'd string the caller frees.
 * loadgen_api_parse appends generated text to a caller-owned bx_buf and copies
 * everything else into the caller's loadgen_api_chunk; loadgen_api_first_model
 * writes into a caller buffer. */
#ifndef LOADGEN_API_H
#define LOADGEN_API_H

#include "loadgen/loadgen_workload.h"
#include "common/bx_buf.h"

#include <stddef.h>

#define LOADGEN_API_MAX_OBJECT (64 * 1024 * 1024) /* largest response object parsed */

typedef struct loadgen_api_req {
    int chat; /* 1: /v1/chat/completions, 0: /v1/completions */
    int stream;
    const char *model;
    const char *user; /* OpenAI `user`, NULL when not sent */
    int max_tokens;
} loadgen_api_req;

/* Body for a request whose history is conv (user, assistant, ... turns
 * before this one; may be NULL or empty) and whose new user text is
 * prompt[0..len). Chat gets a messages array; completions get the
 * conversation concatenated into one prompt. NULL on allocation failure. */
char *loadgen_api_body(const loadgen_api_req *r, const loadgen_conv *conv, const char *prompt,
                       size_t len);

typedef struct loadgen_api_chunk {
    size_t text_len; /* bytes of generated text in this object */
    int has_usage;
    long prompt_tokens; /* from usage, when has_usage */
    long completion_tokens;
    int has_error;          /* an {"error": ...} object */
    char error[256];        /* its message */
    char finish_reason[32]; /* "" when none */
} loadgen_api_chunk;

/* Parses one JSON object (data of an SSE event, or a whole response body).
 * Generated text (choices[0].delta.content / .message.content / .text, and
 * reasoning_content) is appended to text when it is non-NULL. Returns 0, or
 * -1 when the bytes are not a JSON object (message in out->error). */
int loadgen_api_parse(const char *data, size_t len, loadgen_api_chunk *out, bx_buf *text);

/* Reads the first model id of a GET /v1/models answer ({"data":[{"id":..}]})
 * into out (NUL-terminated, truncated to cap). Returns 0, or -1 when the body
 * is not such a list (message in err). */
int loadgen_api_first_model(const char *data, size_t len, char *out, size_t cap, char *err,
                            size_t errlen);

#endif
