/* k8s_discovery: APIResourceList reading (k8s_discovery.h). */
#include "k8s/k8s_discovery.h"

#include <stdio.h>
#include <string.h>

int k8s_api_version_split(const char *api_version, char *group, size_t gcap, char *version,
                          size_t vcap)
{
    if (!api_version || !api_version[0]) return -1;
    const char *slash = strchr(api_version, '/');
    const char *v = slash ? slash + 1 : api_version;
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    if ((slash && glen == 0) || !v[0] || strchr(v, '/') || glen >= gcap || strlen(v) >= vcap)
        return -1;
    memcpy(group, api_version, glen);
    group[glen] = '\0';
    snprintf(version, vcap, "%s", v);
    return 0;
}

int k8s_discovery_path(char *buf, size_t cap, const char *group, const char *version)
{
    int n = group && group[0] ? snprintf(buf, cap, "/apis/%s/%s", group, version)
                              : snprintf(buf, cap, "/api/%s", version);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

k8s_disc_result k8s_discovery_find(const json_t *list, const char *kind, char *plural, size_t cap,
                                   int *namespaced)
{
    const json_t *rs = json_object_get(list, "resources");
    if (!json_is_array(rs) || !kind) return K8S_DISC_INVALID;
    const char *name = NULL;
    int ns = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(rs, i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        const char *k = json_string_value(json_object_get(r, "kind"));
        if (!n || !k || strchr(n, '/') || strcmp(k, kind) != 0) continue;
        name = n;
        ns = json_is_true(json_object_get(r, "namespaced"));
        break;
    }
    if (!name) return K8S_DISC_NO_KIND;
    if (strlen(name) >= cap) return K8S_DISC_INVALID;
    snprintf(plural, cap, "%s", name);
    if (namespaced) *namespaced = ns;
    size_t len = strlen(name);
    json_array_foreach(rs, i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strncmp(n, name, len) == 0 && !strcmp(n + len, "/scale")) return K8S_DISC_SCALE;
    }
    return K8S_DISC_NO_SCALE;
}
