/* k8s_config: where the API server is and how to authenticate to it.
 *
 * Two sources, as client-go reads them:
 * - in-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the
 *   service account's token, ca.crt and namespace files (the token file is
 *   kept as token_file so the transport re-reads it every minute: bound tokens
 *   rotate);
 * - kubeconfig: $KUBECONFIG (a colon list, merged: the first file to name a
 *   cluster, user, context or current-context wins) or ~/.kube/config; the
 *   current context (or a named one) picks cluster, user and namespace.
 *   Supported: server, certificate-authority[-data], insecure-skip-tls-verify,
 *   token, tokenFile, client-certificate[-data], client-key[-data]. A user with
 *   `exec` or `auth-provider` is refused with a clear error (not supported).
 *
 * k8s_config_parse_kubeconfig is a pure function over bytes (YAML or JSON,
 * as `kubectl config view --raw -o json` prints it); it has a fuzz target.
 * Relative file paths in a kubeconfig are made absolute against base_dir.
 *
 * Ownership: a k8s_config owns every string in it; k8s_config_free frees them
 * and leaves the struct zeroed. The *_data fields hold decoded PEM bytes. */
#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H

#include <stddef.h>

typedef struct k8s_config {
    char *server;  /* "https://host:port" (no trailing slash) */
    char *ns;      /* the namespace of the context / service account; "default" */
    char *ca_file; /* PEM path, or NULL */
    char *ca_data; /* PEM bytes, or NULL */
    size_t ca_len;
    int insecure;     /* insecure-skip-tls-verify */
    char *token;      /* bearer token, or NULL */
    char *token_file; /* re-read every 60 s by the transport when set */
    char *cert_file, *key_file;
    char *cert_data, *key_data;
    size_t cert_len, key_len;
} k8s_config;

/* The in-cluster file locations; k8s_incluster_paths_default fills the real
 * ones (/var/run/secrets/kubernetes.io/serviceaccount/...). Tests point them
 * elsewhere. */
typedef struct k8s_incluster_paths {
    const char *token, *ca, *ns;
} k8s_incluster_paths;
void k8s_incluster_paths_default(k8s_incluster_paths *p);

/* Resolves a kubeconfig document (YAML or JSON bytes). context NULL: the
 * current-context. base_dir NULL: relative paths stay as they are. 0 or -1
 * with err set (no secret is ever copied into err). */
int k8s_config_parse_kubeconfig(const char *buf, size_t len, const char *context,
                                const char *base_dir, k8s_config *out, char *err, size_t errlen);

/* In-cluster: reads the environment and the files (paths NULL: the real
 * ones). The token is read once here into token and named in token_file. */
int k8s_config_incluster(const k8s_incluster_paths *paths, k8s_config *out, char *err,
                         size_t errlen);

/* Kubeconfig files: paths is a colon list (NULL: $KUBECONFIG, else
 * ~/.kube/config), merged as kubectl merges them. */
int k8s_config_kubeconfig(const char *paths, const char *context, k8s_config *out, char *err,
                          size_t errlen);

/* The usual choice: in-cluster when KUBERNETES_SERVICE_HOST is set, else the
 * kubeconfig. kubeconfig non-NULL forces that file list. */
int k8s_config_load(const char *kubeconfig, const char *context, k8s_config *out, char *err,
                    size_t errlen);

void k8s_config_free(k8s_config *c);

/* Reads a whole small file (at most max bytes) into a NUL-terminated heap
 * string; trailing whitespace kept. NULL on error with err set. Shared with
 * the transport's token re-read. */
char *k8s_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
