/* eng_kvlink: see eng_kvlink.h. */
#include "engine/eng_kvlink.h"

void eng_kvlink_init(eng_kvlink *l, double gbps, double latency_us)
{
    l->bytes_per_s = gbps > 0 ? gbps * 1e9 : 1e9;
    l->latency_s = latency_us > 0 ? latency_us * 1e-6 : 0.0;
    l->busy_until = 0.0;
}

double eng_kvlink_seconds(const eng_kvlink *l, int64_t bytes)
{
    if (bytes < 0) bytes = 0;
    return l->latency_s + (double)bytes / l->bytes_per_s;
}

double eng_kvlink_reserve(eng_kvlink *l, double now, int64_t bytes)
{
    if (bytes < 0) bytes = 0;
    double start = l->busy_until > now ? l->busy_until : now;
    l->busy_until = start + (double)bytes / l->bytes_per_s;
    return l->busy_until + l->latency_s;
}
