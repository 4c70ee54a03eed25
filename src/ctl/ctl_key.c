/* ctl_key: namespace and name in one key (ctl_key.h). */
#include "ctl/ctl_key.h"

#include <stdio.h>
#include <string.h>

int ctl_key_make(const char *ns, const char *name, char *buf, size_t len, char *err, size_t errlen)
{
    if (!name || !ctl_name_valid(name)) {
        if (err && errlen)
            snprintf(err, errlen, "metadata.name: not a DNS-1123 subdomain of at most 63 bytes");
        return -1;
    }
    if (!ns || !*ns || !strcmp(ns, CTL_NS_DEFAULT)) {
        if (strlen(name) >= len) goto toolong;
        memcpy(buf, name, strlen(name) + 1);
        return 0;
    }
    if (!ctl_name_is_label(ns)) {
        if (err && errlen)
            snprintf(err, errlen,
                     "metadata.namespace: '%.100s' is not a DNS-1123 label (1..63 of a-z, 0-9 "
                     "and '-', alphanumeric at both ends)",
                     ns);
        return -1;
    }
    size_t n = strlen(ns) + 1 + strlen(name);
    if (n > CTL_NAME_MAX) {
        if (err && errlen)
            snprintf(err, errlen,
                     "metadata.namespace: '%s' and the name are %zu characters together; brix "
                     "up keeps at most %d outside the default namespace",
                     ns, n - 1, CTL_NAME_MAX - 1);
        return -1;
    }
    if (n >= len) goto toolong;
    snprintf(buf, len, "%s%c%s", ns, CTL_KEY_SEP, name);
    return 0;
toolong:
    if (err && errlen) snprintf(err, errlen, "key too long");
    return -1;
}

const char *ctl_key_name(const char *key)
{
    const char *s = key ? strchr(key, CTL_KEY_SEP) : NULL;
    return s ? s + 1 : key;
}

void ctl_key_ns(const char *key, char *buf, size_t len)
{
    const char *s = key ? strchr(key, CTL_KEY_SEP) : NULL;
    if (!len) return;
    if (!s)
        snprintf(buf, len, "%s", CTL_NS_DEFAULT);
    else
        snprintf(buf, len, "%.*s", (int)(s - key), key);
}

int ctl_key_same_ns(const char *a, const char *b)
{
    const char *sa = a ? strchr(a, CTL_KEY_SEP) : NULL;
    const char *sb = b ? strchr(b, CTL_KEY_SEP) : NULL;
    if (!sa || !sb) return !sa && !sb;
    return sa - a == sb - b && !memcmp(a, b, (size_t)(sa - a));
}

int ctl_key_sibling(const char *key, const char *name, char *buf, size_t len)
{
    const char *s = key ? strchr(key, CTL_KEY_SEP) : NULL;
    size_t nl = s ? (size_t)(s - key) + 1 : 0;
    if (!name || nl + strlen(name) >= len) return -1;
    memcpy(buf, key, nl);
    memcpy(buf + nl, name, strlen(name) + 1);
    return 0;
}

int ctl_key_valid(const char *key)
{
    if (!key) return 0;
    const char *s = strchr(key, CTL_KEY_SEP);
    if (!s) return ctl_name_valid(key);
    char ns[CTL_NAME_MAX + 1];
    size_t nl = (size_t)(s - key);
    if (nl >= sizeof(ns) || strlen(key) > CTL_NAME_MAX) return 0;
    memcpy(ns, key, nl);
    ns[nl] = 0;
    return ctl_name_is_label(ns) && ctl_name_valid(s + 1) && strcmp(ns, CTL_NS_DEFAULT) != 0;
}

int ctl_key_obj(ctl_obj *o, char *err, size_t errlen)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(o->raw, "metadata"), "namespace"));
    char key[CTL_NAME_MAX + 1], why[256];
    if (ctl_key_make(ns, o->name, key, sizeof(key), why, sizeof(why)) < 0) {
        if (err && errlen) snprintf(err, errlen, "%s %s: %s", ctl_kind_name(o->kind), o->name, why);
        return -1;
    }
    memcpy(o->name, key, strlen(key) + 1);
    return 0;
}
