/* ctl_obj_adapter: the ModelAdapter kind (ctl_obj.h lists the fields
 * honoured): the artifact URL's scheme, the pod selector (or the one
 * derived from baseModel), replicas, the placement policy and
 * additionalConfig. */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"

/* AIBrix's webhook list, plus what brix resolves locally: http(s)://
 * (downloaded into the adapter cache) and file:// (a local path). */
static int ctl_obj_artifact_url_valid(const char *u)
{
    static const char *const schemes[] = {"s3://", "gcs://",  "tos://",   "huggingface://",
                                          "hf://", "http://", "https://", "file://"};
    if (!ctl_obj_str_clean(u) || strpbrk(u, " \t")) return 0;
    if (u[0] == '/') return u[1] != '\0';
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(u, schemes[i], n) == 0) return u[n] != '\0' && u[n] != '/';
    }
    return 0;
}

/* 1 when a scheduler name as written matches name: case, '-' and '_' aside
 * (AIBrix's samples write "least-adapters"; its controller reads no
 * schedulerName at all). */
static int ctl_obj_sched_same(const char *as_written, const char *name)
{
    const char *a = as_written, *b = name;
    for (;;) {
        while (*a == '-' || *a == '_')
            a++;
        if (!*a || !*b) return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++;
        b++;
    }
}
int ctl_obj_parse_adapter(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_adapter *a = &c->o->u.ma;
    const json_t *spec = NULL, *sel = NULL, *ml = NULL, *cfg = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    int rc = 0;

    const char *base = NULL;
    if (ctl_obj_get_str(c, spec, "baseModel", "spec.baseModel", &base) < 0) return -1;
    if (base && !ctl_obj_model_name_valid(base))
        return ctl_obj_fail(c, "spec.baseModel", "'%.300s' is not a valid model name", base);
    if (base && !(a->base_model = ctl_obj_dup_or_oom(c, base, &rc))) return -1;

    if (ctl_obj_get_obj(c, spec, "podSelector", "spec.podSelector", &sel) < 0) return -1;
    if (sel && ctl_obj_get_map(c, sel, "matchLabels", "spec.podSelector.matchLabels", &ml) < 0)
        return -1;
    if (ml && json_object_size(ml) > 0) {
        const char *sm = ctl_obj_map_str(ml, CTL_LABEL_MODEL);
        if (base && sm && strcmp(sm, base) != 0)
            return ctl_obj_fail(
                c, "spec.baseModel",
                "'%.300s' contradicts spec.podSelector.matchLabels[\"" CTL_LABEL_MODEL
                "\"] ('%.300s')",
                base, sm);
        a->match_labels = json_deep_copy(ml);
    } else if (base) {
        a->match_labels = json_pack("{ss}", CTL_LABEL_MODEL, base);
    } else {
        return ctl_obj_fail(c, "spec.podSelector.matchLabels", "required (or set spec.baseModel)");
    }
    if (!a->match_labels) return ctl_obj_oom(c);

    const char *url = NULL;
    r = ctl_obj_get_str(c, spec, "artifactURL", "spec.artifactURL", &url);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.artifactURL", "required");
    if (!ctl_obj_artifact_url_valid(url))
        return ctl_obj_fail(
            c, "spec.artifactURL",
            "'%.300s' must start with s3://, gcs://, tos://, huggingface://, hf://, "
            "http://, https://, file:// or /",
            url);
    if (!(a->artifact_url = ctl_obj_dup_or_oom(c, url, &rc))) return -1;

    a->replicas = CTL_ADAPTER_ALL;
    const json_t *rv = json_object_get(spec, "replicas");
    if (rv && !json_is_null(rv)) {
        if (!json_is_integer(rv)) return ctl_obj_fail(c, "spec.replicas", "must be an integer");
        json_int_t x = json_integer_value(rv);
        if (x <= 0) return ctl_obj_fail(c, "spec.replicas", "must be > 0");
        if (x > CTL_MAX_REPLICAS)
            return ctl_obj_fail(c, "spec.replicas", "must be at most %d", CTL_MAX_REPLICAS);
        a->replicas = (int)x;
    }

    const char *sched = NULL;
    if (ctl_obj_get_str(c, spec, "schedulerName", "spec.schedulerName", &sched) < 0) return -1;
    a->sched = CTL_SCHED_LEAST_ADAPTERS;
    if (sched && strcmp(sched, "default") != 0) {
        static const ctl_adapter_sched all[] = {CTL_SCHED_LEAST_ADAPTERS, CTL_SCHED_BIN_PACK,
                                                CTL_SCHED_LEAST_LATENCY, CTL_SCHED_LEAST_THROUGHPUT,
                                                CTL_SCHED_RANDOM};
        size_t i = 0;
        for (; i < sizeof(all) / sizeof(all[0]); i++)
            if (ctl_obj_sched_same(sched, ctl_adapter_sched_name(all[i]))) break;
        if (i == sizeof(all) / sizeof(all[0]))
            return ctl_obj_fail(c, "spec.schedulerName",
                                "unknown scheduler '%.100s' (want default, leastAdapters, binPack, "
                                "leastLatency, leastThroughput or random; case, '-' and '_' "
                                "do not matter)",
                                sched);
        a->sched = all[i];
    }

    if (ctl_obj_get_map(c, spec, "additionalConfig", "spec.additionalConfig", &cfg) < 0) return -1;
    a->additional_config = cfg ? json_deep_copy(cfg) : json_object();
    if (!a->additional_config) return ctl_obj_oom(c);
    const char *key = ctl_obj_map_str(cfg, "api-key");
    if (key && !(a->api_key = ctl_obj_dup_or_oom(c, key, &rc))) return -1;
    const char *sum = ctl_obj_map_str(cfg, "sha256");
    if (sum) {
        size_t n = strlen(sum);
        int hex = n == 64;
        for (size_t i = 0; hex && i < n; i++)
            hex = (sum[i] >= '0' && sum[i] <= '9') || (sum[i] >= 'a' && sum[i] <= 'f') ||
                  (sum[i] >= 'A' && sum[i] <= 'F');
        if (!hex) return ctl_obj_fail(c, "spec.additionalConfig.sha256", "must be 64 hex digits");
        if (!(a->sha256 = ctl_obj_dup_or_oom(c, sum, &rc))) return -1;
    }

    const json_t *cred = json_object_get(spec, "credentialsSecretRef");
    if (cred && !json_is_null(cred)) {
        if (!json_is_object(cred))
            return ctl_obj_fail(c, "spec.credentialsSecretRef", "must be a mapping");
        /* named as not acted on (no Secrets locally: the artifact is passed as is) */
    }
    return 0;
}

void ctl_obj_adapter_clear(ctl_adapter *a)
{
    free(a->base_model);
    json_decref(a->match_labels);
    free(a->artifact_url);
    json_decref(a->additional_config);
    free(a->api_key);
    free(a->sha256);
}
