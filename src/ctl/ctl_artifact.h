/* ctl_artifact: turns a ModelAdapter's artifactURL into the lora_path sent to
 * an engine's /v1/load_lora_adapter (docs/control-plane-lora.md, "Reconcile").
 *
 *   /abs/path, file:///abs/path  LOCAL: must exist; passed through (file://
 *                                is percent-decoded; host empty or
 *                                "localhost"). Relative paths are refused.
 *   huggingface://org/name,      HUB: rewritten to the repo id "org/name",
 *   hf://org/name, org/name      which vLLM downloads itself. AIBrix
 *                                rewrites only huggingface:// (it passes
 *                                hf:// through unchanged, which vLLM cannot
 *                                use) and refuses bare ids; brix accepts all
 *                                three. Ids are checked: two parts of
 *                                [A-Za-z0-9._-], 1..96 bytes each, not
 *                                starting with '.' or '-'.
 *   http://, https://            HTTP: downloaded with libcurl (this is the
 *                                runtime sidecar's job in AIBrix) into
 *                                <cache_dir>/<sha256(URL) hex>-<file name>,
 *                                written to a temporary file in cache_dir,
 *                                fsync'ed and renamed into place, so a
 *                                reader never sees half a file. The result is
 *                                that file; archives are not unpacked.
 *   s3://, gcs://, gs://, tos://  refused: "not supported locally" (they need
 *                                credentials and the runtime sidecar).
 *
 * Checksum: an expected sha256 (64 hex digits, any case) is checked against
 * what is downloaded (hashed while it streams) and against a cache hit; a
 * downloaded file that does not match is deleted and the call fails; a
 * cache hit that does not match is deleted and downloaded again. For LOCAL
 * regular files it is checked too (a mismatch fails, nothing is deleted);
 * for directories and hub ids it is ignored. Without a checksum any existing
 * cache file is a hit.
 *
 * Limits: URL length (CTL_ARTIFACT_URL_MAX), file size (opts.max_bytes,
 * enforced while streaming as well as through Content-Length), connect and
 * total timeouts, at most 5 redirects and only to http/https. HTTP status
 * >= 400 fails with "HTTP <status>" in the message; transport errors carry
 * libcurl's text (e.g. "Connection refused", "Timeout was reached").
 *
 * Threads: ctl_artifact_resolve is synchronous and blocking, meant for
 * libuv's thread pool; it keeps no state between calls, so calls may run in
 * parallel (two downloads of one URL each write their own temporary file and
 * the last rename wins). curl_easy_init initialises libcurl on first use;
 * main should call curl_global_init before starting threads.
 *
 * Memory: strings passed in are borrowed for the call; results are written
 * into the caller's ctl_artifact_result. */
#ifndef CTL_ARTIFACT_H
#define CTL_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#define CTL_ARTIFACT_URL_MAX 4096
#define CTL_ARTIFACT_PATH_MAX 1024

typedef enum ctl_artifact_kind {
    CTL_ARTIFACT_LOCAL = 1, /* absolute path on this host */
    CTL_ARTIFACT_HUB,       /* Hugging Face repo id */
    CTL_ARTIFACT_HTTP,      /* http(s) download into the cache */
} ctl_artifact_kind;

typedef struct ctl_artifact_opts {
    const char *cache_dir;       /* created (with parents) if missing */
    uint64_t max_bytes;          /* largest download; 0 = no limit */
    uint64_t connect_timeout_ms; /* 0 = libcurl's default (300 s) */
    uint64_t timeout_ms;         /* whole transfer; 0 = none */
} ctl_artifact_opts;

/* Defaults: cache_dir "/tmp/brix/adapters", max_bytes 4 GiB, connect 10 s,
 * whole transfer 30 min. */
void ctl_artifact_opts_default(ctl_artifact_opts *o);

/* Classifies a URL without touching the disk or network (the pure part,
 * fuzzed). out gets the local path (decoded), the hub id, or the URL itself
 * for HTTP. Returns 0, or -1 with a message. */
int ctl_artifact_parse(const char *url, ctl_artifact_kind *kind, char *out, size_t outlen,
                       char *err, size_t errlen);

typedef struct ctl_artifact_result {
    ctl_artifact_kind kind;
    int cache_hit;                         /* HTTP: the cached file was used, nothing downloaded */
    uint64_t bytes;                        /* LOCAL regular file or HTTP: its size; else 0 */
    char lora_path[CTL_ARTIFACT_PATH_MAX]; /* what to send as lora_path */
} ctl_artifact_result;

/* Resolves url (see above). sha256_hex may be NULL or "" for none. opts may
 * be NULL for the defaults. Returns 0, or -1 with a message in err. */
int ctl_artifact_resolve(const ctl_artifact_opts *opts, const char *url, const char *sha256_hex,
                         ctl_artifact_result *res, char *err, size_t errlen);

#endif
