/* libFuzzer target: what eng_group parses from the outside: a worker's
 * X-Brix-Group-Rank and X-Brix-Group-Nonce headers (answered by a group
 * leader on its public port) and the leader URL (BRIX_GROUP_LEADER).
 * Checks that an accepted rank is in range and is the number written, that an accepted nonce is
 * 1-16 hex digits and round-trips, and that an accepted URL yields a non-empty host without '/',
 * shorter than the URL, and a port in 1..65535. */
#include "engine/eng_group.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int size_of_group = size ? 1 + data[0] % 200 : 3;

    int rank = -1;
    if (eng_group_parse_rank(s, size_of_group, &rank) == 0) {
        /* leading zeros are allowed: compare the value, not the text */
        if (rank < 1 || rank >= size_of_group || atoi(s) != rank) abort();
    }
    uint64_t nonce;
    if (eng_group_parse_nonce(s, &nonce) == 0) {
        size_t n = strlen(s);
        if (n < 1 || n > 16) abort();
        char back[24];
        snprintf(back, sizeof(back), "%0*llx", (int)n, (unsigned long long)nonce);
        if (strcasecmp(back, s) != 0) abort();
    }
    char host[256];
    int port = 0;
    if (eng_group_parse_url(s, host, sizeof(host), &port) == 0) {
        if (!host[0] || strchr(host, '/') || port < 1 || port > 65535) abort();
        if (strncmp(s, "http://", 7) != 0) abort();
        size_t n = strlen(s);
        if (n > 0 && s[n - 1] == '/') n--;
        if (!memchr(s + 7, ':', n - 7) || strlen(host) > n - 7) abort();
    }
    free(s);
    return 0;
}
