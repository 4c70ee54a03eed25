/* Fuzzes kubeconfig resolution (YAML or JSON bytes to a k8s_config), with
 * the current context and with a named one. */
#include <stddef.h>
#include <stdint.h>

#include "k8s/k8s_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    k8s_config c;
    char err[256];
    if (k8s_config_parse_kubeconfig((const char *)data, size, NULL, "/base", &c, err,
                                    sizeof(err)) == 0)
        k8s_config_free(&c);
    if (k8s_config_parse_kubeconfig((const char *)data, size, "a", NULL, &c, err, sizeof(err)) == 0)
        k8s_config_free(&c);
    return 0;
}
