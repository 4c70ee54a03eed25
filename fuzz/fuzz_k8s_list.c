/* Fuzzes the List body parser and the Status reader over the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "k8s/k8s_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    k8s_list l;
    char err[256];
    if (k8s_list_parse((const char *)data, size, 1 << 20, &l, err, sizeof(err)) == 0)
        k8s_list_free(&l);
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    k8s_status st;
    k8s_status_from(j, 409, &st);
    json_decref(j);
    return 0;
}
