/* ctl_cli_yaml: `-o yaml`, one JSON value emitted as a YAML document
 * through libyaml's emitter. A string that would read back as another type
 * (YAML 1.2 core schema, as bx_yaml reads it, and 1.1's yes/no that other
 * tools still honour) is double-quoted, so the output loads back into the
 * same JSON (tests/unit/test_ctl_api.c checks the round trip). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "ctl/ctl_cli.h"

static int ctl_cli_yaml_write(void *data, unsigned char *buf, size_t size)
{
    return fwrite(buf, 1, size, (FILE *)data) == size;
}

/* Would a plain scalar read back as something other than this string (YAML
 * 1.2 core schema, and 1.1's yes/no that other tools still honour)? */
static int ctl_cli_yaml_needs_quotes(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",   "no",    "on",
                                        "off",  "y", "n",    ".inf",  "-.inf", "+.inf", ".nan"};
    if (!*s) return 1;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0) return 1;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p == '.') p++;
    return isdigit((unsigned char)*p) != 0;
}

static int ctl_cli_yaml_scalar(yaml_emitter_t *e, const char *s, int quote)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return -1;
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int ctl_cli_yaml_value(yaml_emitter_t *e, const json_t *v, int depth)
{
    yaml_event_t ev;
    char buf[64];
    if (depth > 128) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return -1;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (ctl_cli_yaml_scalar(e, k, ctl_cli_yaml_needs_quotes(k)) < 0 ||
                ctl_cli_yaml_value(e, x, depth + 1) < 0)
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev)) return -1;
        return 0;
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return -1;
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (ctl_cli_yaml_value(e, x, depth + 1) < 0) return -1;
        }
        if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev)) return -1;
        return 0;
    }
    case JSON_STRING:
        return ctl_cli_yaml_scalar(e, json_string_value(v),
                                   ctl_cli_yaml_needs_quotes(json_string_value(v)));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return ctl_cli_yaml_scalar(e, buf, 0);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
        return ctl_cli_yaml_scalar(e, buf, 0);
    case JSON_TRUE:
        return ctl_cli_yaml_scalar(e, "true", 0);
    case JSON_FALSE:
        return ctl_cli_yaml_scalar(e, "false", 0);
    default:
        return ctl_cli_yaml_scalar(e, "null", 0);
    }
}

int ctl_cli_print_yaml(FILE *out, const json_t *v)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) return -1;
    yaml_emitter_set_output(&e, ctl_cli_yaml_write, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    int rc = -1;
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(&e, &ev))
        goto done;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
        !yaml_emitter_emit(&e, &ev))
        goto done;
    if (ctl_cli_yaml_value(&e, v, 0) < 0) goto done;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&e, &ev)) goto done;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&e, &ev)) goto done;
    if (!yaml_emitter_flush(&e)) goto done;
    rc = 0;
done:
    yaml_emitter_delete(&e);
    return rc;
}
