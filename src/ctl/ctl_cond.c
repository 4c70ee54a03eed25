/* ctl_cond: status conditions (ctl_cond.h). */
#include "ctl/ctl_cond.h"

#include <string.h>

#include "common/bx_time.h"

const json_t *ctl_cond_get(const json_t *status, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type)) return c;
    }
    return NULL;
}

int ctl_cond_true(const json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "status"));
    return s && !strcmp(s, "True");
}

int64_t ctl_cond_since_ms(const json_t *c)
{
    int64_t ms = 0;
    const char *t = json_string_value(json_object_get(c, "lastTransitionTime"));
    return t && bx_time_parse_rfc3339(t, &ms) == 0 ? ms : 0;
}
