/* bx_addr: see bx_addr.h. */
#include "common/bx_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int bx_addr_is_loopback(const char *host)
{
    struct in_addr a4;
    if (!host) return 0;
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return 1;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}
