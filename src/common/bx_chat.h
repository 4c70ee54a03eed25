/* bx_chat: renders an OpenAI `messages` array into the prompt text the
 * engine tokenizes, with one fixed template shared by the engine and the
 * gateway (so both count the same tokens and hash the same prefixes):
 *
 *   for each message:  "<|" role "|>\n" content "\n"
 *   then:              "<|assistant|>\n"
 *
 * content is a string, null, or an array of parts of which the
 * {"type":"text","text":...} ones are concatenated. Roles accepted: system,
 * developer, user, assistant, tool. Pure; output appended to a bx_buf.
 *
 * vLLM's two template switches (bx_chat_render_opts): add_generation_prompt
 * (default on) writes the final "<|assistant|>\n"; continue_final_message
 * leaves the last message (an assistant's) open, without its "\n", so the
 * model goes on with it (the gateway continues a stream cut mid-answer this
 * way: gw_migrate.h). Both at once is an error, as in vLLM. */
#ifndef BX_CHAT_H
#define BX_CHAT_H

#include <jansson.h>
#include <stddef.h>

#include "common/bx_buf.h"

#define BX_CHAT_MAX_MESSAGES 4096

/* Returns 0, or -1 with a message in err (for a 400 answer). */
int bx_chat_render(const json_t *messages, bx_buf *out, char *err, size_t errlen);

enum { BX_CHAT_GEN_PROMPT = 1, BX_CHAT_CONTINUE_FINAL = 2 };
/* The same with flags (BX_CHAT_*; bx_chat_render is BX_CHAT_GEN_PROMPT).
 * With BX_CHAT_CONTINUE_FINAL the last message must be the assistant's. */
int bx_chat_render_opts(const json_t *messages, int flags, bx_buf *out, char *err, size_t errlen);

#endif
