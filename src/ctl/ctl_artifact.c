/* ctl_artifact: artifactURL -> lora_path (see ctl_artifact.h). The URL
 * classification is a pure function; resolve adds the file-system checks and
 * the libcurl download, hashing with OpenSSL's EVP while the bytes stream. */
#include "ctl/ctl_artifact.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bx_err.h"

#define HUB_PART_MAX 96
#define NAME_MAX_LEN 64
#define SHA_HEX 64

void ctl_artifact_opts_default(ctl_artifact_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cache_dir = "/tmp/brix/adapters";
    o->max_bytes = 4ull << 30;
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 30ull * 60 * 1000;
}

static int ctl_artifact_copy_out(char *out, size_t outlen, const char *s, size_t n)
{
    if (!out || n >= outlen) return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

static int ctl_artifact_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int ctl_artifact_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* "org/name": two non-empty parts of ctl_artifact_id_char, neither starting with '.' or
 * '-', each at most HUB_PART_MAX bytes. */
static int ctl_artifact_valid_hub_id(const char *s, size_t n)
{
    size_t part = 0, parts = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/') {
            if (part == 0) return 0;
            parts++;
            part = 0;
            continue;
        }
        if (!ctl_artifact_id_char(c)) return 0;
        if (part == 0 && (c == '.' || c == '-')) return 0;
        if (++part > HUB_PART_MAX) return 0;
    }
    return parts == 2 && part > 0;
}

int ctl_artifact_parse(const char *url, ctl_artifact_kind *kind, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    if (!url || !kind) {
        bx_errf(err, errlen, "artifact: no URL");
        return -1;
    }
    size_t n = strnlen(url, CTL_ARTIFACT_URL_MAX + 1);
    if (n == 0) {
        bx_errf(err, errlen, "artifact: empty artifactURL");
        return -1;
    }
    if (n > CTL_ARTIFACT_URL_MAX) {
        bx_errf(err, errlen, "artifact: artifactURL longer than %d bytes", CTL_ARTIFACT_URL_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            bx_errf(err, errlen, "artifact: artifactURL has a space or control byte at %zu", i);
            return -1;
        }
    }

    if (url[0] == '/') {
        *kind = CTL_ARTIFACT_LOCAL;
        if (ctl_artifact_copy_out(out, outlen, url, n) != 0) goto too_long;
        return 0;
    }

    const char *sep = strstr(url, "://");
    if (!sep) {
        if (ctl_artifact_valid_hub_id(url, n)) {
            *kind = CTL_ARTIFACT_HUB;
            if (ctl_artifact_copy_out(out, outlen, url, n) != 0) goto too_long;
            return 0;
        }
        bx_errf(err, errlen,
                "artifact: \"%.200s\" is not an absolute path, a URL or a hub id (org/name)", url);
        return -1;
    }
    size_t slen = (size_t)(sep - url);
    for (size_t i = 0; i < slen; i++) {
        char c = url[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-'));
        if (!ok) slen = 0;
    }
    if (slen == 0 || slen > 16) {
        bx_errf(err, errlen, "artifact: \"%.200s\" has no valid URL scheme", url);
        return -1;
    }
    char scheme[17];
    for (size_t i = 0; i < slen; i++) {
        char c = url[i];
        scheme[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    scheme[slen] = 0;
    const char *rest = sep + 3;
    size_t rlen = n - slen - 3;

    if (strcmp(scheme, "file") == 0) {
        const char *slash = memchr(rest, '/', rlen);
        if (!slash) {
            bx_errf(err, errlen, "artifact: file URL \"%.200s\" has no absolute path", url);
            return -1;
        }
        size_t hlen = (size_t)(slash - rest);
        if (hlen && !(hlen == 9 && strncasecmp(rest, "localhost", 9) == 0)) {
            bx_errf(err, errlen, "artifact: file URL names host \"%.*s\"; only local files work",
                    (int)(hlen > 100 ? 100 : hlen), rest);
            return -1;
        }
        const char *p = slash;
        size_t plen = rlen - hlen;
        /* Percent-decode into out. */
        if (!out || outlen == 0) goto too_long;
        size_t o = 0;
        for (size_t i = 0; i < plen; i++) {
            char c = p[i];
            if (c == '?' || c == '#') break;
            if (c == '%') {
                int hi = i + 2 < plen ? ctl_artifact_hexval(p[i + 1]) : -1;
                int lo = i + 2 < plen ? ctl_artifact_hexval(p[i + 2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                    bx_errf(err, errlen, "artifact: bad percent-escape in file URL");
                    return -1;
                }
                c = (char)(hi * 16 + lo);
                i += 2;
            }
            if (o + 1 >= outlen) goto too_long;
            out[o++] = c;
        }
        out[o] = 0;
        *kind = CTL_ARTIFACT_LOCAL;
        return 0;
    }
    if (strcmp(scheme, "huggingface") == 0 || strcmp(scheme, "hf") == 0) {
        size_t idlen = rlen;
        if (idlen > 0 && rest[idlen - 1] == '/') idlen--;
        if (!ctl_artifact_valid_hub_id(rest, idlen)) {
            bx_errf(err, errlen, "artifact: \"%.200s\" is not a hub repo id (%s://org/name)", url,
                    scheme);
            return -1;
        }
        *kind = CTL_ARTIFACT_HUB;
        if (ctl_artifact_copy_out(out, outlen, rest, idlen) != 0) goto too_long;
        return 0;
    }
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        if (rlen == 0 || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') {
            bx_errf(err, errlen, "artifact: URL \"%.200s\" has no host", url);
            return -1;
        }
        *kind = CTL_ARTIFACT_HTTP;
        if (ctl_artifact_copy_out(out, outlen, url, n) != 0) goto too_long;
        return 0;
    }
    if (strcmp(scheme, "s3") == 0 || strcmp(scheme, "gcs") == 0 || strcmp(scheme, "gs") == 0 ||
        strcmp(scheme, "tos") == 0) {
        bx_errf(err, errlen,
                "artifact: %s:// is not supported locally (it needs credentials and the runtime "
                "sidecar); use an absolute path, http(s):// or a hub id",
                scheme);
        return -1;
    }
    bx_errf(err, errlen, "artifact: unsupported URL scheme \"%s\"", scheme);
    return -1;

too_long:
    bx_errf(err, errlen, "artifact: resolved path does not fit in %zu bytes", outlen);
    return -1;
}

/* ---- hashing ---- */

static void ctl_artifact_hex_encode(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

static int ctl_artifact_md_final_hex(EVP_MD_CTX *md, char out[SHA_HEX + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl != SHA_HEX / 2) return -1;
    ctl_artifact_hex_encode(d, dl, out);
    return 0;
}

static int ctl_artifact_sha256_hex_of(const void *data, size_t n, char out[SHA_HEX + 1])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return -1;
    int rc = -1;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, data, n) == 1)
        rc = ctl_artifact_md_final_hex(md, out);
    EVP_MD_CTX_free(md);
    return rc;
}

/* 0 and the hex digest, or -1 with a message. */
static int ctl_artifact_sha256_file(const char *path, char out[SHA_HEX + 1], char *err,
                                    size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bx_errf(err, errlen, "artifact: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = -1;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        bx_errf(err, errlen, "artifact: sha256 init failed");
        goto out;
    }
    char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            bx_errf(err, errlen, "artifact: cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break;
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            bx_errf(err, errlen, "artifact: sha256 update failed");
            goto out;
        }
    }
    if (ctl_artifact_md_final_hex(md, out) != 0) {
        bx_errf(err, errlen, "artifact: sha256 final failed");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

/* Lower-cases a 64-hex-digit checksum into out; -1 if it is not one. */
static int ctl_artifact_norm_sha(const char *s, char out[SHA_HEX + 1])
{
    if (strnlen(s, SHA_HEX + 1) != SHA_HEX) return -1;
    for (size_t i = 0; i < SHA_HEX; i++) {
        int v = ctl_artifact_hexval(s[i]);
        if (v < 0) return -1;
        out[i] = "0123456789abcdef"[v];
    }
    out[SHA_HEX] = 0;
    return 0;
}

/* ---- HTTP ---- */

/* The URL as it may appear in messages: no user:password@, no query or
 * fragment (signed URLs carry secrets there). */
static void ctl_artifact_redact_url(const char *url, char *out, size_t outlen)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    size_t pre = (size_t)(host - url);
    size_t hend = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hend);
    const char *from = at ? at + 1 : host;
    size_t tail = strcspn(from, "?#");
    snprintf(out, outlen, "%.*s%.*s", (int)pre, url, (int)(tail > 300 ? 300 : tail), from);
}

/* The last path segment, made safe for a file name; "artifact" if none. */
static void ctl_artifact_file_name_of(const char *url, char *out, size_t outlen)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t end = strcspn(host, "?#");
    const char *path = memchr(host, '/', end);
    const char *seg = NULL;
    size_t seglen = 0;
    if (path) {
        const char *stop = host + end;
        const char *p = stop;
        while (p > path && p[-1] != '/')
            p--;
        seg = p;
        seglen = (size_t)(stop - p);
    }
    size_t o = 0;
    for (size_t i = 0; i < seglen && o + 1 < outlen && o < NAME_MAX_LEN; i++)
        out[o++] = ctl_artifact_id_char(seg[i]) ? seg[i] : '_';
    out[o] = 0;
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outlen, "artifact");
}

static int ctl_artifact_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char buf[CTL_ARTIFACT_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf)) {
        bx_errf(err, errlen, "artifact: bad cache directory");
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            bx_errf(err, errlen, "artifact: cannot create %s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        bx_errf(err, errlen, "artifact: cache directory %s is not a directory", dir);
        return -1;
    }
    return 0;
}

typedef struct ctl_artifact_sink {
    int fd;
    EVP_MD_CTX *md;
    uint64_t written, max;
    int too_big;
    int io_errno;
    int md_failed;
} ctl_artifact_sink;

static size_t ctl_artifact_on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    ctl_artifact_sink *s = ud;
    size_t len = size * nmemb;
    if (s->max && s->written + len > s->max) {
        s->too_big = 1;
        return 0;
    }
    if (EVP_DigestUpdate(s->md, data, len) != 1) {
        s->md_failed = 1;
        return 0;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(s->fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            s->io_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    s->written += len;
    return len;
}

/* Downloads url into tmp (an open fd), filling the digest. 0 or -1. */
static int ctl_artifact_fetch(const ctl_artifact_opts *o, const char *url, const char *shown,
                              ctl_artifact_sink *s, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        bx_errf(err, errlen, "artifact: curl_easy_init failed");
        return -1;
    }
    char cerr[CURL_ERROR_SIZE];
    cerr[0] = 0;
    int ok =
        curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, "brix/" BRIX_VERSION) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_artifact_on_write) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) == CURLE_OK;
    if (ok && o->max_bytes)
        ok = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(c);
        bx_errf(err, errlen, "artifact: cannot set up libcurl for %s", shown);
        return -1;
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0, oserr = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr) != CURLE_OK) oserr = 0;
    curl_easy_cleanup(c);
    if (rc == CURLE_OK) return 0;
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        bx_errf(err, errlen, "artifact: download of %s failed: HTTP %ld", shown, status);
    } else if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        bx_errf(err, errlen, "artifact: download of %s exceeds the size limit of %llu bytes", shown,
                (unsigned long long)o->max_bytes);
    } else if (s->io_errno) {
        bx_errf(err, errlen, "artifact: writing the download of %s failed: %s", shown,
                strerror(s->io_errno));
    } else if (s->md_failed) {
        bx_errf(err, errlen, "artifact: sha256 update failed for %s", shown);
    } else {
        /* The OS error ("Connection refused") helps callers that classify
         * retriable errors by their text, as AIBrix does. */
        bx_errf(err, errlen, "artifact: download of %s failed: %s%s%s%s%s%s", shown,
                curl_easy_strerror(rc), cerr[0] ? ": " : "", cerr, oserr ? " (" : "",
                oserr ? strerror((int)oserr) : "", oserr ? ")" : "");
    }
    return -1;
}

static int ctl_artifact_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (close(fd) != 0) rc = -1;
    return rc;
}

static int ctl_artifact_resolve_http(const ctl_artifact_opts *o, const char *url, const char *want,
                                     ctl_artifact_result *res, char *err, size_t errlen)
{
    char shown[512];
    ctl_artifact_redact_url(url, shown, sizeof(shown));
    char uh[SHA_HEX + 1], name[NAME_MAX_LEN + 1];
    if (ctl_artifact_sha256_hex_of(url, strlen(url), uh) != 0) {
        bx_errf(err, errlen, "artifact: sha256 failed");
        return -1;
    }
    ctl_artifact_file_name_of(url, name, sizeof(name));
    char *final = res->lora_path;
    int w = snprintf(final, sizeof(res->lora_path), "%s/%s-%s", o->cache_dir, uh, name);
    if (w < 0 || (size_t)w >= sizeof(res->lora_path)) {
        bx_errf(err, errlen, "artifact: cache path under %s is too long", o->cache_dir);
        return -1;
    }
    if (ctl_artifact_mkdir_p(o->cache_dir, err, errlen) != 0) return -1;

    struct stat st;
    if (stat(final, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            bx_errf(err, errlen, "artifact: cache entry %s is not a regular file", final);
            return -1;
        }
        char have[SHA_HEX + 1];
        if (!want) {
            res->cache_hit = 1;
            res->bytes = (uint64_t)st.st_size;
            return 0;
        }
        if (ctl_artifact_sha256_file(final, have, err, errlen) != 0) return -1;
        if (strcmp(have, want) == 0) {
            res->cache_hit = 1;
            res->bytes = (uint64_t)st.st_size;
            return 0;
        }
        /* Stale or corrupt: drop it and download again. */
        if (unlink(final) != 0 && errno != ENOENT) {
            bx_errf(err, errlen, "artifact: cannot remove stale %s: %s", final, strerror(errno));
            return -1;
        }
    } else if (errno != ENOENT) {
        bx_errf(err, errlen, "artifact: cannot stat %s: %s", final, strerror(errno));
        return -1;
    }

    char tmp[CTL_ARTIFACT_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", final);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        bx_errf(err, errlen, "artifact: cannot create a file in %s: %s", o->cache_dir,
                strerror(errno));
        return -1;
    }
    ctl_artifact_sink s = {.fd = fd, .max = o->max_bytes};
    s.md = EVP_MD_CTX_new();
    int rc = -1;
    if (!s.md || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
        bx_errf(err, errlen, "artifact: sha256 init failed");
        goto fail;
    }
    if (ctl_artifact_fetch(o, url, shown, &s, err, errlen) != 0) goto fail;
    char got[SHA_HEX + 1];
    if (ctl_artifact_md_final_hex(s.md, got) != 0) {
        bx_errf(err, errlen, "artifact: sha256 final failed");
        goto fail;
    }
    if (want && strcmp(got, want) != 0) {
        bx_errf(err, errlen,
                "artifact: sha256 mismatch for %s: expected %s, got %s; the download was deleted",
                shown, want, got);
        goto fail;
    }
    if (fsync(fd) != 0) {
        bx_errf(err, errlen, "artifact: fsync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        bx_errf(err, errlen, "artifact: close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (chmod(tmp, 0644) != 0 || rename(tmp, final) != 0) {
        bx_errf(err, errlen, "artifact: cannot move the download to %s: %s", final,
                strerror(errno));
        goto fail;
    }
    if (ctl_artifact_fsync_dir(o->cache_dir) != 0) {
        bx_errf(err, errlen, "artifact: fsync %s: %s", o->cache_dir, strerror(errno));
        EVP_MD_CTX_free(s.md);
        return -1;
    }
    res->bytes = s.written;
    rc = 0;
fail:
    EVP_MD_CTX_free(s.md);
    if (fd >= 0) close(fd);
    if (rc != 0) unlink(tmp);
    return rc;
}

int ctl_artifact_resolve(const ctl_artifact_opts *opts, const char *url, const char *sha256_hex,
                         ctl_artifact_result *res, char *err, size_t errlen)
{
    if (!res) {
        bx_errf(err, errlen, "artifact: no result");
        return -1;
    }
    memset(res, 0, sizeof(*res));
    ctl_artifact_opts def;
    if (!opts) {
        ctl_artifact_opts_default(&def);
        opts = &def;
    }
    char want_buf[SHA_HEX + 1];
    const char *want = NULL;
    if (sha256_hex && sha256_hex[0]) {
        if (ctl_artifact_norm_sha(sha256_hex, want_buf) != 0) {
            bx_errf(err, errlen, "artifact: sha256 must be 64 hex digits");
            return -1;
        }
        want = want_buf;
    }
    char target[CTL_ARTIFACT_URL_MAX + 1];
    ctl_artifact_kind kind;
    if (ctl_artifact_parse(url, &kind, target, sizeof(target), err, errlen) != 0) return -1;
    res->kind = kind;

    if (kind == CTL_ARTIFACT_HTTP) {
        if (!opts->cache_dir || !opts->cache_dir[0]) {
            bx_errf(err, errlen, "artifact: no cache directory configured");
            return -1;
        }
        int rc = ctl_artifact_resolve_http(opts, target, want, res, err, errlen);
        if (rc != 0) res->lora_path[0] = 0;
        return rc;
    }
    size_t tl = strlen(target);
    if (tl >= sizeof(res->lora_path)) {
        bx_errf(err, errlen, "artifact: path longer than %d bytes", CTL_ARTIFACT_PATH_MAX - 1);
        return -1;
    }
    if (kind == CTL_ARTIFACT_LOCAL) {
        struct stat st;
        if (stat(target, &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                bx_errf(err, errlen, "artifact: local path %s does not exist", target);
            else
                bx_errf(err, errlen, "artifact: cannot stat %s: %s", target, strerror(errno));
            return -1;
        }
        if (S_ISREG(st.st_mode)) {
            res->bytes = (uint64_t)st.st_size;
            if (want) {
                char have[SHA_HEX + 1];
                if (ctl_artifact_sha256_file(target, have, err, errlen) != 0) return -1;
                if (strcmp(have, want) != 0) {
                    bx_errf(err, errlen, "artifact: sha256 mismatch for %s: expected %s, got %s",
                            target, want, have);
                    return -1;
                }
            }
        } else if (!S_ISDIR(st.st_mode)) {
            bx_errf(err, errlen, "artifact: %s is neither a file nor a directory", target);
            return -1;
        }
    }
    memcpy(res->lora_path, target, tl + 1);
    return 0;
}
