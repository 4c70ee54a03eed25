/* bx_chat: renders an OpenAI `messages` array into the prompt text the
 * engine tokenizes, with one fixed template shared by the engine and the
 * gateway (so both count the same tokens and hash the same prefixes):
 *
 *   for each message:  "<|" role "|>\n" content "\n"
 *   then:              "<|assistant|>\n"
 *
 * content is a string, null, or an array of parts of which the
 * {"type":"text","text":...} ones are concatenated. Roles accepted: system,
 * developer, user, assistant, tool. Pure; output appended to a bx_buf. */
#ifndef BX_CHAT_H
#define BX_CHAT_H

#include <jansson.h>
#include <stddef.h>

#include "common/bx_buf.h"

#define BX_CHAT_MAX_MESSAGES 4096

/* Returns 0, or -1 with a message in err (for a 400 answer). */
int bx_chat_render(const json_t *messages, bx_buf *out, char *err, size_t errlen);

#endif
