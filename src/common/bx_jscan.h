/* bx_jscan: a validating one-pass scanner for a JSON object that builds
 * nothing: it checks the whole text and reports the spans of the top-level
 * members, so a caller that needs a few fields of a large body (the
 * gateway: model, stream, max_tokens) skips jansson's tree of allocations.
 * jansson was 12% of the gateway's CPU per request (bench/gateway.sh, perf).
 *
 * It answers BX_JSCAN_OK only for text that jansson's json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY accepts as an object, and
 * BX_JSCAN_UNSURE for everything else, including valid JSON it does not
 * handle (escaped keys, \u0000, integers over 18 digits, numbers longer
 * than 32 bytes, exponents of 3 digits, more than BX_JSCAN_MAX_KEYS keys
 * live at once, nesting over BX_JSCAN_MAX_DEPTH). On UNSURE the caller
 * parses with jansson, which gives the exact error message. So there is
 * no second notion of valid JSON: fuzz/fuzz_jscan.c checks that OK implies
 * jansson's acceptance and the same member values.
 *
 * Ownership: member spans point into the caller's buffer. Pure; no
 * allocation. */
#ifndef BX_JSCAN_H
#define BX_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#define BX_JSCAN_MAX_DEPTH 64
#define BX_JSCAN_MAX_KEYS 256 /* keys of all open objects together */

typedef enum bx_jscan_rc { BX_JSCAN_OK = 0, BX_JSCAN_UNSURE = 1 } bx_jscan_rc;

typedef enum bx_jscan_type {
    BX_JSCAN_STRING,
    BX_JSCAN_NUMBER,
    BX_JSCAN_TRUE,
    BX_JSCAN_FALSE,
    BX_JSCAN_NULL,
    BX_JSCAN_OBJECT,
    BX_JSCAN_ARRAY,
} bx_jscan_type;

typedef struct bx_jscan_member {
    const char *key; /* raw key bytes between the quotes (never escaped) */
    size_t key_len;
    const char *val; /* the value's text: a string without its quotes */
    size_t val_len;
    bx_jscan_type type;
    int escaped; /* a string holding a backslash escape */
    int integer; /* a number with no fraction or exponent */
    int empty;   /* an object or array without elements */
} bx_jscan_member;

/* Scans len bytes that must hold one JSON object (surrounding whitespace
 * allowed) and fills out[0..*n) with its members in order. More than max
 * members is UNSURE. */
bx_jscan_rc bx_jscan_object(const char *buf, size_t len, bx_jscan_member *out, size_t max,
                            size_t *n);

/* The same for an object at the start of buf (after whitespace) with
 * anything after it: *used = bytes up to and including its closing brace.
 * For a value inside a document that is not scanned whole. */
bx_jscan_rc bx_jscan_object_head(const char *buf, size_t len, bx_jscan_member *out, size_t max,
                                 size_t *n, size_t *used);

/* The value of a member that is an integer (type NUMBER, integer set; at
 * most 18 digits, so it fits): 0 and *out, else -1. */
int bx_jscan_int(const bx_jscan_member *m, int64_t *out);

#endif
