/* Fuzzes the watch stream: the line splitter (fed in uneven pieces, with a
 * small line bound) and the event parser on every line. */
#include <stddef.h>
#include <stdint.h>

#include "k8s/k8s_parse.h"

static int on_line(void *ud, const char *line, size_t len)
{
    (void)ud;
    k8s_watch_event ev;
    char err[256];
    if (k8s_watch_parse(line, len, &ev, err, sizeof(err)) == 0) k8s_watch_event_free(&ev);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    k8s_lines l;
    k8s_lines_init(&l, 4096);
    size_t off = 0, step = 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        if (k8s_lines_feed(&l, (const char *)data + off, n, on_line, NULL) != 0) break;
        off += n;
        step = step * 3 + 1;
    }
    k8s_lines_free(&l);
    return 0;
}
