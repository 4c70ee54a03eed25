/* k8s_selector: a label selector in its string form, as a Scale's
 * status.selector and the ?labelSelector= query carry it
 * (k8s.io/apimachinery/pkg/labels.Parse): requirements separated by
 * commas, all of which must hold:
 *   key            the label exists        !key           it does not
 *   key=v, key==v  it exists and is v      key!=v         absent or not v
 *   key in (a,b)   it exists, one of them  key notin (a,b) absent or none
 *   key>n, key<n   it exists and, as an integer, is greater / less than n
 * Blanks around words are ignored. "" parses to a selector that selects
 * everything (callers that want "no selector selects nothing" check
 * k8s_selector_empty).
 *
 * Pure. Ownership: a parsed selector owns copies of its strings; free it
 * with k8s_selector_free. Matching borrows the labels object. */
#ifndef K8S_SELECTOR_H
#define K8S_SELECTOR_H

#include <jansson.h>
#include <stddef.h>

typedef struct k8s_selector k8s_selector;

/* 0 and *out, or -1 with a message (syntax, out of memory). */
int k8s_selector_parse(const char *s, k8s_selector **out, char *err, size_t errlen);
/* 1 when labels (an object of strings, NULL: none) satisfy every
 * requirement, else 0. */
int k8s_selector_matches(const k8s_selector *sel, const json_t *labels);
/* 1 when sel has no requirement. */
int k8s_selector_empty(const k8s_selector *sel);
void k8s_selector_free(k8s_selector *sel);

#endif
