/* bx_yaml: YAML to JSON (jansson) through libyaml, for brix's config files
 * and AIBrix-shaped objects (ModelAdapter, PodAutoscaler, deployments).
 *
 * Scalars are typed by YAML 1.2's core schema when plain: null (~, null,
 * empty), booleans (true/false in three casings), integers ([-+]?[0-9]+,
 * 0x[0-9a-fA-F]+, 0o[0-7]+; beyond int64 they become floats), floats (the
 * core regex: decimal point and/or exponent; .inf and .nan stay strings,
 * JSON has neither); yes/no/on/off are strings; quoted scalars and those
 * tagged !!str stay strings. Mapping keys are strings; a duplicate key is an
 * error. Anchors and aliases are refused (no billion laughs). Limits on
 * input bytes, nesting depth and node count. Errors name line and column.
 *
 * Ownership: on success *out is a new json_t reference the caller must
 * json_decref. */
#ifndef BX_YAML_H
#define BX_YAML_H

#include <jansson.h>
#include <stddef.h>

typedef struct bx_yaml_limits {
    size_t max_bytes; /* default 4 MiB */
    size_t max_depth; /* default 64 */
    size_t max_nodes; /* default 1000000 */
} bx_yaml_limits;

void bx_yaml_limits_default(bx_yaml_limits *l);
/* The first document (JSON null when the stream is empty). 0 or -1. */
int bx_yaml_load(const char *buf, size_t len, const bx_yaml_limits *lim, json_t **out, char *err,
                 size_t errlen);
/* Every document, as a JSON array. 0 or -1. */
int bx_yaml_load_all(const char *buf, size_t len, const bx_yaml_limits *lim, json_t **out,
                     char *err, size_t errlen);

#endif
