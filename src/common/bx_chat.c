/* bx_chat: see bx_chat.h. */
#include "common/bx_chat.h"

#include <stdio.h>
#include <string.h>

static int bx_chat_role_ok(const char *r)
{
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool"};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (!strcmp(r, roles[i])) return 1;
    return 0;
}

static int bx_chat_content(const json_t *c, bx_buf *out, size_t idx, char *err, size_t errlen)
{
    if (!c || json_is_null(c)) return 0;
    if (json_is_string(c)) return bx_buf_append(out, json_string_value(c), json_string_length(c));
    if (!json_is_array(c)) {
        snprintf(err, errlen, "messages[%zu].content must be a string or an array of parts", idx);
        return -1;
    }
    size_t i;
    const json_t *part;
    json_array_foreach(c, i, part)
    {
        const json_t *type = json_object_get(part, "type");
        if (!json_is_object(part) || !json_is_string(type)) {
            snprintf(err, errlen, "messages[%zu].content[%zu] must be an object with a type", idx,
                     i);
            return -1;
        }
        if (strcmp(json_string_value(type), "text") != 0) continue; /* images etc.: no tokens */
        const json_t *t = json_object_get(part, "text");
        if (!json_is_string(t)) {
            snprintf(err, errlen, "messages[%zu].content[%zu].text must be a string", idx, i);
            return -1;
        }
        if (bx_buf_append(out, json_string_value(t), json_string_length(t)) != 0) return -1;
    }
    return 0;
}

int bx_chat_render(const json_t *messages, bx_buf *out, char *err, size_t errlen)
{
    return bx_chat_render_opts(messages, BX_CHAT_GEN_PROMPT, out, err, errlen);
}

int bx_chat_render_opts(const json_t *messages, int flags, bx_buf *out, char *err, size_t errlen)
{
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(err, errlen, "'messages' must be a non-empty array");
        return -1;
    }
    if (json_array_size(messages) > BX_CHAT_MAX_MESSAGES) {
        snprintf(err, errlen, "too many messages (at most %d)", BX_CHAT_MAX_MESSAGES);
        return -1;
    }
    if ((flags & BX_CHAT_GEN_PROMPT) && (flags & BX_CHAT_CONTINUE_FINAL)) {
        snprintf(err, errlen,
                 "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
        return -1;
    }
    size_t last = json_array_size(messages) - 1;
    if (flags & BX_CHAT_CONTINUE_FINAL) {
        const json_t *role = json_object_get(json_array_get(messages, last), "role");
        if (!json_is_string(role) || strcmp(json_string_value(role), "assistant") != 0) {
            snprintf(err, errlen,
                     "continue_final_message is set but the final message is not the assistant's");
            return -1;
        }
    }
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        const json_t *role = json_object_get(m, "role");
        if (!json_is_object(m) || !json_is_string(role)) {
            snprintf(err, errlen, "messages[%zu] must be an object with a string 'role'", i);
            return -1;
        }
        const char *r = json_string_value(role);
        if (!bx_chat_role_ok(r)) {
            snprintf(err, errlen, "messages[%zu].role '%.64s' is not a known role", i, r);
            return -1;
        }
        if (bx_buf_appends(out, "<|") || bx_buf_appends(out, r) || bx_buf_appends(out, "|>\n"))
            return -1;
        if (bx_chat_content(json_object_get(m, "content"), out, i, err, errlen) != 0) return -1;
        if (i == last && (flags & BX_CHAT_CONTINUE_FINAL)) return 0; /* left open */
        if (bx_buf_appends(out, "\n")) return -1;
    }
    return (flags & BX_CHAT_GEN_PROMPT) ? bx_buf_appends(out, "<|assistant|>\n") : 0;
}
