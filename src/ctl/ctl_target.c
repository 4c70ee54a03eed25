/* ctl_target: scale target keys (ctl_target.h). */
#include "ctl/ctl_target.h"

#include <stdio.h>
#include <string.h>

int ctl_target_is_deployment(const ctl_target *t)
{
    return !strcmp(t->kind, "Deployment") &&
           (!t->api_version[0] || !strncmp(t->api_version, "apps/", 5) ||
            !strncmp(t->api_version, "extensions/", 11));
}

int ctl_target_set(ctl_target *t, const char *api_version, const char *kind, const char *name)
{
    memset(t, 0, sizeof(*t));
    if (!api_version) api_version = "";
    if (!kind || !name || !kind[0] || !name[0] || strlen(kind) >= sizeof(t->kind) ||
        strlen(name) >= sizeof(t->name) || strlen(api_version) >= sizeof(t->api_version))
        return -1;
    const char *slash = strchr(api_version, '/');
    if (slash && (slash == api_version || !slash[1] || strchr(slash + 1, '/'))) return -1;
    snprintf(t->api_version, sizeof(t->api_version), "%s", api_version);
    snprintf(t->kind, sizeof(t->kind), "%s", kind);
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (ctl_target_is_deployment(t)) {
        snprintf(t->key, sizeof(t->key), "%s", name);
        return 0;
    }
    int glen = slash ? (int)(slash - api_version) : 0;
    snprintf(t->key, sizeof(t->key), "%s%s%.*s/%s", kind, glen ? "." : "", glen, api_version, name);
    return 0;
}
