/* bx_prompt: turns the prompt of an OpenAI request body into token ids the
 * way the engine simulator does, so the gateway and the engine agree on
 * every request's tokens (and so on its prefix-cache block hashes):
 *   completions: "text" | [ids] | ["text"] | [[ids]]   (one prompt)
 *   chat:        messages rendered by bx_chat, then bx_tok
 *   embeddings:  one id range per input
 * Pure. The token vector grows by doubling up to its max; the caller owns it
 * and frees it with bx_tokvec_free. */
#ifndef BX_PROMPT_H
#define BX_PROMPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BX_PROMPT_MAX_TOKENS (1 << 20)

typedef struct bx_tokvec {
    uint32_t *ids;
    size_t n, cap;
} bx_tokvec;

void bx_tokvec_free(bx_tokvec *v);
/* 0, or -1 (too long or out of memory). */
int bx_tokvec_add_text(bx_tokvec *v, const char *s, size_t len);
/* 0, -1 (too long / no memory), -2 (an element is not an id in vocab). */
int bx_tokvec_add_ids(bx_tokvec *v, const json_t *array);

/* Each returns 0, or -1 with a message for a 400 answer. */
int bx_prompt_completion(bx_tokvec *v, const json_t *prompt, char *err, size_t errlen);
int bx_prompt_chat(bx_tokvec *v, const json_t *messages, char *err, size_t errlen);
/* flags: bx_chat_render_opts's (BX_CHAT_*). */
int bx_prompt_chat_opts(bx_tokvec *v, const json_t *messages, int flags, char *err, size_t errlen);

#endif
