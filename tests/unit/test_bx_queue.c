/* bx_queue: the intrusive list every module shares (issue 14). Order of
 * head/tail inserts, removal from the middle while iterating, unlinked
 * nodes, moving a whole list, and finding the element back from its node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/bx_queue.h"

typedef struct item {
    int id;
    bx_queue node;
} item;

static int collect(bx_queue *head, int *out, int max)
{
    int n = 0;
    bx_queue *q;
    BX_QUEUE_FOREACH(q, head)
    {
        if (n < max) out[n] = bx_container_of(q, item, node)->id;
        n++;
    }
    return n;
}

static void test_order_and_remove(void **st)
{
    (void)st;
    bx_queue head;
    bx_queue_init(&head);
    assert_true(bx_queue_empty(&head));
    assert_null(bx_queue_head(&head));
    item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        bx_queue_init(&it[i].node);
        assert_false(bx_queue_linked(&it[i].node));
    }
    bx_queue_insert_tail(&head, &it[1].node);
    bx_queue_insert_tail(&head, &it[2].node);
    bx_queue_insert_head(&head, &it[0].node);
    bx_queue_insert_before(&it[2].node, &it[3].node); /* 0 1 3 2 */
    bx_queue_insert_after(&it[2].node, &it[4].node);  /* 0 1 3 2 4 */
    int ids[8];
    assert_int_equal(collect(&head, ids, 8), 5);
    int want[] = {0, 1, 3, 2, 4};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ids[i], want[i]);
    assert_ptr_equal(bx_queue_head(&head), &it[0].node);
    assert_ptr_equal(bx_queue_tail(&head), &it[4].node);
    assert_ptr_equal(bx_queue_next(&head, &it[3].node), &it[2].node);
    assert_null(bx_queue_next(&head, &it[4].node));
    assert_null(bx_queue_prev(&head, &it[0].node));

    /* Remove the odd ids while iterating. */
    bx_queue *q, *tmp;
    BX_QUEUE_FOREACH_SAFE(q, tmp, &head)
    {
        if (bx_container_of(q, item, node)->id % 2) bx_queue_remove(q);
    }
    assert_int_equal(collect(&head, ids, 8), 3);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 4);
    assert_false(bx_queue_linked(&it[1].node));
    bx_queue_remove(&it[1].node); /* a second remove of an unlinked node is harmless */
    assert_int_equal(collect(&head, ids, 8), 3);
    assert_true(bx_queue_linked(&it[2].node));
}

static void test_move_all(void **st)
{
    (void)st;
    bx_queue a, b;
    bx_queue_init(&a);
    bx_queue_init(&b);
    item it[4];
    for (int i = 0; i < 4; i++) {
        it[i].id = i;
        bx_queue_insert_tail(i < 2 ? &a : &b, &it[i].node);
    }
    bx_queue_move_all(&b, &a);
    assert_true(bx_queue_empty(&b));
    int ids[8];
    assert_int_equal(collect(&a, ids, 8), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ids[i], i);
    bx_queue_move_all(&b, &a); /* empty source: nothing changes */
    assert_int_equal(collect(&a, ids, 8), 4);
    assert_ptr_equal(bx_queue_tail(&a), &it[3].node);
    assert_ptr_equal(it[3].node.next, &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_remove),
        cmocka_unit_test(test_move_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
