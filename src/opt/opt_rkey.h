/* opt_rkey: the Redis keys AIBrix's GPU optimizer reads (docs/hetero.md,
 * "Redis"), built and parsed, so that brix's optimizer reads what AIBrix's
 * gateway and aibrix_gen_profile write and AIBrix's optimizer what brix's
 * gateway writes:
 *   aibrix:<model>_request_trace_<end>   one 10 s window's trace
 *                                        (opt_trace.h); <end> the window's
 *                                        end, unix seconds (start = end - 10)
 *   aibrix:profile_<model>_<deployment>  one GPU type's profile
 *                                        (opt_profile.h); <deployment> the
 *                                        Deployment's name or ns/name
 * Model names may contain '_' (AIBrix writes them as the request named
 * them): a trace key splits on its LAST "_request_trace_", a profile key
 * on its last '_' (a Deployment's name and namespace, DNS-1123, have
 * none). The SCAN patterns escape the model's glob characters (* ? [ ] \),
 * which AIBrix's readers do not; a SCAN may still return another model's
 * keys (model "a" matches "aibrix:a_request_trace_x_request_trace_1"):
 * readers parse every key and keep those whose model is theirs.
 *
 * Pure: no I/O, no allocation. The parsers take keys as Redis returns them
 * (any bytes, not NUL-terminated) and are fuzzed (fuzz/fuzz_opt_rkey.c). */
#ifndef OPT_RKEY_H
#define OPT_RKEY_H

#include <stddef.h>
#include <stdint.h>

#define OPT_RKEY_PREFIX "aibrix:"
#define OPT_RKEY_TRACE_SEP "_request_trace_"
#define OPT_RKEY_PROFILE_PREFIX "aibrix:profile_"
#define OPT_RKEY_MAX 1024    /* any key or pattern built here fits, for names <= 255 */
#define OPT_RKEY_TS_MAX 1e12 /* a suffix above this is refused */
#define OPT_RKEY_TS_DIGITS 13

/* aibrix:<model>_request_trace_<end>. The length, or -1 when it does not
 * fit (or model is empty, end negative). */
int opt_rkey_trace(char *buf, size_t cap, const char *model, int64_t end);

/* The SCAN MATCH pattern of model's trace keys:
 * aibrix:<model escaped>_request_trace_*. The length, or -1. */
int opt_rkey_trace_match(char *buf, size_t cap, const char *model);

/* Parses a trace key: "aibrix:", a model of 1 byte or more, the last
 * "_request_trace_", then 1..13 decimal digits (nothing else) <= 10^12.
 * The model is copied into model[mcap] (NUL-terminated; -1 when it does not
 * fit or contains a NUL byte) and the suffix into *end. 0, or -1. */
int opt_rkey_trace_parse(const char *key, size_t len, char *model, size_t mcap, int64_t *end);

/* aibrix:profile_<model>_<deployment>. The length, or -1. */
int opt_rkey_profile(char *buf, size_t cap, const char *model, const char *deployment);

/* The SCAN MATCH pattern of model's profile keys:
 * aibrix:profile_<model escaped>_*. The length, or -1. */
int opt_rkey_profile_match(char *buf, size_t cap, const char *model);

/* Parses a profile key: "aibrix:profile_", a model of 1 byte or more, the
 * last '_', a deployment of 1 byte or more. Both copied NUL-terminated
 * (-1 when one does not fit or holds a NUL byte). 0, or -1. */
int opt_rkey_profile_parse(const char *key, size_t len, char *model, size_t mcap, char *dep,
                           size_t dcap);

#endif
