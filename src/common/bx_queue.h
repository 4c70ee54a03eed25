/* bx_queue: the one intrusive doubly-linked list every brix module uses, in
 * the manner of libuv's queue.h. A list is a circular ring through a head
 * node; an element embeds a bx_queue node and is found back from it with
 * bx_container_of. Nothing here allocates: the element owns its node, the
 * list owns nothing, and removing a node never frees its element.
 *
 *   typedef struct job { int id; bx_queue node; } job;
 *   bx_queue jobs;                         // the head
 *   bx_queue_init(&jobs);
 *   bx_queue_insert_tail(&jobs, &j->node);
 *   bx_queue *q;
 *   BX_QUEUE_FOREACH(q, &jobs) { job *x = bx_container_of(q, job, node); }
 *   bx_queue_remove(&j->node);             // O(1), from any list
 *
 * A node that is in no list should be bx_queue_init'ed, so that
 * bx_queue_linked() says 0 and a second bx_queue_remove is harmless. Use
 * BX_QUEUE_FOREACH_SAFE to remove the current node while iterating. Not
 * thread-safe: the owner of the head serialises access. Header-only. */
#ifndef BX_QUEUE_H
#define BX_QUEUE_H

#include <stddef.h>

#define bx_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct bx_queue {
    struct bx_queue *next;
    struct bx_queue *prev;
} bx_queue;

/* An empty list (head), or a node that is in no list. */
static inline void bx_queue_init(bx_queue *q)
{
    q->next = q;
    q->prev = q;
}

static inline int bx_queue_empty(const bx_queue *head)
{
    return head->next == head;
}

/* 1 when the node is in a list (it was inserted and not removed since). */
static inline int bx_queue_linked(const bx_queue *q)
{
    return q->next != q;
}

/* The first / last node, or NULL when the list is empty. */
static inline bx_queue *bx_queue_head(const bx_queue *head)
{
    return head->next == head ? NULL : head->next;
}

static inline bx_queue *bx_queue_tail(const bx_queue *head)
{
    return head->prev == head ? NULL : head->prev;
}

/* The node after / before q in the list whose head is `head`, or NULL at
 * the end. */
static inline bx_queue *bx_queue_next(const bx_queue *head, const bx_queue *q)
{
    return q->next == head ? NULL : q->next;
}

static inline bx_queue *bx_queue_prev(const bx_queue *head, const bx_queue *q)
{
    return q->prev == head ? NULL : q->prev;
}

/* Inserts n right after `at` (a head or a node). */
static inline void bx_queue_insert_after(bx_queue *at, bx_queue *n)
{
    n->next = at->next;
    n->prev = at;
    at->next->prev = n;
    at->next = n;
}

/* Inserts n right before `at` (a head or a node). */
static inline void bx_queue_insert_before(bx_queue *at, bx_queue *n)
{
    bx_queue_insert_after(at->prev, n);
}

static inline void bx_queue_insert_head(bx_queue *head, bx_queue *n)
{
    bx_queue_insert_after(head, n);
}

static inline void bx_queue_insert_tail(bx_queue *head, bx_queue *n)
{
    bx_queue_insert_after(head->prev, n);
}

/* Unlinks q from its list and leaves it as an unlinked node. */
static inline void bx_queue_remove(bx_queue *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    bx_queue_init(q);
}

/* Moves every node of `from` to the tail of `to`; `from` is left empty. */
static inline void bx_queue_move_all(bx_queue *from, bx_queue *to)
{
    if (bx_queue_empty(from)) return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    bx_queue_init(from);
}

#define BX_QUEUE_FOREACH(q, head) for ((q) = (head)->next; (q) != (head); (q) = (q)->next)

/* Like BX_QUEUE_FOREACH; the current node may be removed (tmp holds the next). */
#define BX_QUEUE_FOREACH_SAFE(q, tmp, head)                                                        \
    for ((q) = (head)->next, (tmp) = (q)->next; (q) != (head); (q) = (tmp), (tmp) = (q)->next)

#endif
