/* ctl_obj_int: what the files of the object model share, and nothing
 * outside them includes (the public contract is ctl_obj.h). Calls go one
 * way:
 *
 *   ctl_obj.c             documents: the kind dispatch, PodAutoscaler,
 *                         free, parse_all, GatewayConfig, label selectors
 *     ctl_obj_deployment.c  the Deployment kind
 *     ctl_obj_adapter.c     the ModelAdapter kind
 *     ctl_obj_ray.c         RayClusterFleet, RayClusterReplicaSet,
 *                           RayCluster; label selectors
 *     ctl_obj_core.c        the Kubernetes kinds stored next to brix's
 *                           (Service acted on), Services' models
 *     ctl_obj_fields.c      the fields acted on per kind; the note that
 *                           names the others
 *       ctl_obj_check.c     the kind table, names, errors and notes, the
 *                           typed getters
 *   ctl_obj_render.c      a Deployment's command template -> argv, env
 *
 * Each kind's parser fills c->o->u and returns 0, or -1 with the message
 * in c->err; its clear frees what the parse allocated (also after a
 * failed parse). */
#ifndef CTL_OBJ_INT_H
#define CTL_OBJ_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl_obj.h"

/* One document's parse: the object being filled and where errors go. */
typedef struct ctl_obj_pctx {
    ctl_obj *o;
    char *err;
    size_t errlen;
} ctl_obj_pctx;

/* ------------------------------------------------------------ ctl_obj_check.c */

/* "<Kind> <name>: <path>: <message>" into c->err; always -1. path may be
 * NULL. */
int ctl_obj_fail(ctl_obj_pctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a "; "-separated note (a field ignored locally) to o->notes. */
void ctl_obj_note(ctl_obj *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ctl_obj_fail's "out of memory"; -1. */
int ctl_obj_oom(ctl_obj_pctx *c);
/* Printable ASCII or UTF-8 bytes; no control characters. */
int ctl_obj_str_clean(const char *s);

/* Typed getters of parent[key] (path names it in errors): 1 present, 0
 * absent (or null), -1 error. *out borrows from parent. */
int ctl_obj_get_obj(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out);
int ctl_obj_get_arr(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out);
int ctl_obj_check_str(ctl_obj_pctx *c, const json_t *v, const char *path, const char **out);
int ctl_obj_get_str(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const char **out);
int ctl_obj_get_int(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    int64_t min, int64_t max, int64_t *out);
/* A string->string map with at most CTL_MAX_MAP entries. */
int ctl_obj_check_map(ctl_obj_pctx *c, const json_t *map, const char *path);
int ctl_obj_get_map(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out);
/* map[key] as a string, or NULL (map may be NULL). */
const char *ctl_obj_map_str(const json_t *map, const char *key);
/* An annotation number: a string holding a finite number in [min, max].
 * 1 present, 0 absent, -1 error. */
int ctl_obj_ann_number(ctl_obj_pctx *c, const json_t *ann, const char *key, double min, double max,
                       double *out);
/* Served model names: 1..255 of [A-Za-z0-9._/:-], alphanumeric first. */
int ctl_obj_model_name_valid(const char *s);
/* strdup, or NULL with *rc set to ctl_obj_oom's -1. */
char *ctl_obj_dup_or_oom(ctl_obj_pctx *c, const char *s, int *rc);

/* ------------------------------------------------------------ the kinds */

int ctl_obj_parse_deployment(ctl_obj_pctx *c, const json_t *doc, const json_t *labels,
                             const json_t *ann);
void ctl_obj_deployment_clear(ctl_deployment *d);
int ctl_obj_parse_adapter(ctl_obj_pctx *c, const json_t *doc);
void ctl_obj_adapter_clear(ctl_adapter *a);
/* RayClusterFleet and RayClusterReplicaSet (u.fleet), RayCluster (u.rc);
 * labels: metadata.labels (may be NULL). One clear for the three. */
int ctl_obj_parse_fleet(ctl_obj_pctx *c, const json_t *doc, const json_t *labels);
int ctl_obj_parse_raycluster(ctl_obj_pctx *c, const json_t *doc, const json_t *labels);
void ctl_obj_ray_clear(ctl_obj *o);
/* The kinds ctl_kind_acted_on says are only stored, and Service. Runs after
 * o->raw is set (a Secret's raw loses data and stringData). */
int ctl_obj_parse_core(ctl_obj_pctx *c, const json_t *doc);
void ctl_obj_core_clear(ctl_obj *o);

/* ------------------------------------------------------------ ctl_obj_fields.c */

/* Adds one note naming every field of doc that o's kind does not act on
 * ("accepted, not acted on locally: a.b, .c, d"); none when there is
 * none, or for kinds only stored (ctl_obj_parse_core notes those whole). */
void ctl_obj_note_unused(ctl_obj *o, const json_t *doc);

#endif
