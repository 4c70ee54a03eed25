/* ctl_lora_parse: the ModelAdapter controller's pure helpers (no I/O,
 * fuzzed by fuzz/fuzz_ctl_lora.c): an engine's GET /v1/models and /metrics
 * answers, its load-failure reply, and sorted name lists. See ctl_lora.h
 * and ctl_lora_int.h. */
#include "ctl/ctl_lora_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_json.h"
#include "common/bx_prom_parse.h"

int ctl_lora_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ctl_lora_names_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int ctl_lora_names_has(char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return 1;
    return 0;
}

int ctl_lora_parse_models(const char *body, size_t len, char ***out, size_t *n, char *err,
                          size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (len > CTL_LORA_MODELS_MAX_BYTES) {
        snprintf(err, errlen, "model list larger than %u bytes", CTL_LORA_MODELS_MAX_BYTES);
        return -1;
    }
    json_t *o = bx_json_parse_object(body, len, CTL_LORA_MODELS_MAX_BYTES, err, errlen);
    if (!o) return -1;
    json_t *data = json_object_get(o, "data");
    if (!json_is_array(data)) {
        snprintf(err, errlen, "model list without a \"data\" array");
        json_decref(o);
        return -1;
    }
    size_t cnt = json_array_size(data);
    if (cnt > CTL_LORA_MODELS_MAX) {
        snprintf(err, errlen, "model list has more than %d entries", CTL_LORA_MODELS_MAX);
        json_decref(o);
        return -1;
    }
    char **names = calloc(cnt ? cnt : 1, sizeof(*names));
    if (!names) {
        snprintf(err, errlen, "out of memory");
        json_decref(o);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(data, i);
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id || !json_is_string(json_object_get(e, "parent"))) continue;
        size_t il = strlen(id);
        if (il == 0 || il > CTL_MODEL_NAME_MAX || ctl_lora_names_has(names, k, id)) continue;
        names[k] = strdup(id);
        if (!names[k]) {
            ctl_lora_names_free(names, k);
            snprintf(err, errlen, "out of memory");
            json_decref(o);
            return -1;
        }
        k++;
    }
    json_decref(o);
    qsort(names, k, sizeof(*names), ctl_lora_cmp_str);
    *out = names;
    *n = k;
    return 0;
}

int ctl_lora_parse_max_lora(const char *body, size_t len, unsigned *out)
{
    if (len > CTL_LORA_METRICS_MAX_BYTES) return -1;
    bx_prom_doc doc;
    char err[128];
    if (bx_prom_parse(body, len, NULL, &doc, err, sizeof(err)) != 0) return -1;
    int rc = -1;
    const bx_prom_sample *s = bx_prom_find(&doc, "vllm:lora_requests_info", NULL, NULL);
    const char *v = s ? bx_prom_label_get(s, "max_lora") : NULL;
    if (v && *v) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (*end == 0 && isdigit((unsigned char)v[0]) && x <= 1000000) {
            *out = (unsigned)x;
            rc = 0;
        }
    }
    bx_prom_doc_free(&doc);
    return rc;
}

int ctl_lora_already_loaded(int status, const char *body, size_t len)
{
    if (status != 400 || !body) return 0;
    static const char needle[] = "already";
    size_t nl = sizeof(needle) - 1;
    for (size_t i = 0; i + nl <= len; i++)
        if (!strncasecmp(body + i, needle, nl)) return 1;
    return 0;
}
