/* Fuzzes the CLI's handling of what the admin API answers: arbitrary JSON
 * through every table, describe and the YAML printer, and RFC 3339 times
 * (the input's first line). Output goes to /dev/null. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    if (!null && !(null = fopen("/dev/null", "w"))) abort();
    const char *nl = memchr(data, '\n', size);
    size_t tl = nl ? (size_t)(nl - (const char *)data) : size;
    char ts[64];
    if (tl < sizeof(ts)) {
        memcpy(ts, data, tl);
        ts[tl] = 0;
        (void)ctl_cli_parse_time(ts);
        /* the first line as a -l selector, against the labels below */
        (void)ctl_cli_selector_match(ts, NULL);
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!j) return 0;
    json_t *items = json_is_array(j) ? json_incref(j) : json_pack("[O]", j);
    for (int t = CTL_CLI_TABLE_DEPLOYMENTS; t <= CTL_CLI_TABLE_LAST; t++)
        for (int wide = 0; wide < 2; wide++)
            (void)ctl_cli_print_table(null, (ctl_cli_table)t, items, wide, 1700000000000);
    /* -A and get all: NAMESPACE first, kind/ before the names */
    ctl_cli_print_opts po = {.wide = 1, .ns_column = 1, .name_prefix = "deployment.apps"};
    for (int t = CTL_CLI_TABLE_DEPLOYMENTS; t <= CTL_CLI_TABLE_EVENTS; t++)
        (void)ctl_cli_print_table_opts(null, (ctl_cli_table)t, items, &po, 1700000000000);
    if (tl < sizeof(ts))
        (void)ctl_cli_selector_match(ts, json_object_get(json_object_get(j, "metadata"), "labels"));
    (void)ctl_cli_print_describe(null, j, json_object_get(j, "events"), json_object_get(j, "pods"),
                                 1700000000000);
    (void)ctl_cli_print_describe(null, json_array_get(items, 0), items, items, 0);
    (void)ctl_cli_print_yaml(null, j);
    char age[16];
    ctl_cli_format_age((int64_t)json_integer_value(json_object_get(j, "age")), age, sizeof(age));
    json_decref(items);
    json_decref(j);
    return 0;
}
