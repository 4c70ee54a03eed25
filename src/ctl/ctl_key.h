/* ctl_key: local mode's object keys, a namespace and a name in one string.
 *
 * `brix up` keeps objects of several namespaces. Its controllers, its
 * orchestrator and its store name an object by one string, its key:
 *   - in the namespace "default" (or with no metadata.namespace): the name
 *     itself, as before namespaces existed (stores written then load as
 *     they are: their keys are names of "default");
 *   - in another namespace: "<namespace>:<name>", e.g. "team-a:llama".
 * A pod's name is its deployment's key and "-<replica>", so it carries the
 * namespace too ("team-a:llama-0"). ':' is in no DNS-1123 label, so a key
 * splits one way only. A key fits CTL_NAME_MAX bytes: in a namespace other
 * than default, namespace and name together are at most 62 characters.
 *
 * brix controller (Kubernetes) watches one namespace and its keys are plain
 * names: every rule here gives the same answer there (no ':', namespace "").
 *
 * Pure functions; no allocation. */
#ifndef CTL_KEY_H
#define CTL_KEY_H

#include <stddef.h>

#include "ctl/ctl_obj.h"

#define CTL_NS_DEFAULT "default"
#define CTL_KEY_SEP ':'

/* Writes ns/name's key into buf (CTL_NAME_MAX + 1 bytes at least). ns NULL
 * or "" is "default". 0, or -1 with a message (an invalid namespace, a key
 * too long). */
int ctl_key_make(const char *ns, const char *name, char *buf, size_t len, char *err, size_t errlen);
/* The name part of key (a pointer into it). */
const char *ctl_key_name(const char *key);
/* The namespace of key into buf: "default" for a plain name. */
void ctl_key_ns(const char *key, char *buf, size_t len);
/* 1 when a and b are in the same namespace. */
int ctl_key_same_ns(const char *a, const char *b);
/* The key of `name` in the namespace of `key` (a PodAutoscaler's target, an
 * object's reference). 0 or -1 (too long). */
int ctl_key_sibling(const char *key, const char *name, char *buf, size_t len);
/* 1 when key is a valid key: a DNS-1123 label, or "<label>:<label>" within
 * CTL_NAME_MAX bytes. */
int ctl_key_valid(const char *key);
/* Sets o->name to its key from metadata.namespace (local mode's objects:
 * ctl_obj_parse_all). 0, or -1 with "<Kind> <name>: metadata.namespace:
 * ..." in err. */
int ctl_key_obj(ctl_obj *o, char *err, size_t errlen);

#endif
