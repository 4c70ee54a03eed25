/* ctl_owner: owner references (ctl_owner.h). */
#include "ctl/ctl_owner.h"

#include <string.h>

const char *ctl_owner_name(const json_t *obj, const char *kind)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach(refs, i, r)
    {
        if (!json_is_true(json_object_get(r, "controller"))) continue;
        const char *k = json_string_value(json_object_get(r, "kind"));
        const char *n = json_string_value(json_object_get(r, "name"));
        return k && n && !strcmp(k, kind) ? n : NULL; /* one controller at most */
    }
    return NULL;
}

json_t *ctl_owner_refs(const json_t *owner)
{
    const json_t *md = json_object_get(owner, "metadata");
    const char *api = json_string_value(json_object_get(owner, "apiVersion"));
    const char *kind = json_string_value(json_object_get(owner, "kind"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!api || !kind || !name) return NULL;
    json_t *ref = json_pack("{s:s,s:s,s:s,s:b,s:b}", "apiVersion", api, "kind", kind, "name", name,
                            "controller", 1, "blockOwnerDeletion", 1);
    const char *uid = json_string_value(json_object_get(md, "uid"));
    if (ref && uid && json_object_set_new(ref, "uid", json_string(uid)) != 0) {
        json_decref(ref);
        return NULL;
    }
    return ref ? json_pack("[o]", ref) : NULL;
}
