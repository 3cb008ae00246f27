/*
 * test_queue.c - the agent's on-disk event queue: order, acknowledgement, persistence across a
 * reopen (an agent restart), and the bound (low-value events dropped before detections).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <khien/console.h>

static void test_queue_order_ack_reopen(void **state)
{
    (void)state;
    char path[] = "/tmp/khien-queue-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    kh_queue *q = NULL;
    assert_int_equal(kh_queue_open(path, 0, &q), KH_OK);
    assert_int_equal(kh_queue_push(q, "{\"n\":1}", 1), KH_OK);
    assert_int_equal(kh_queue_push(q, "{\"n\":2}", 0), KH_OK);
    kh_queue_close(q);
    assert_int_equal(kh_queue_open(path, 0, &q), KH_OK); /* restart: nothing lost */
    char *arr = NULL;
    int64_t last = 0;
    size_t n = 0;
    assert_int_equal(kh_queue_peek(q, 10, &arr, &last, &n), KH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(arr, "[{\"n\":1},{\"n\":2}]");
    kh_free(arr);
    assert_int_equal(kh_queue_ack(q, last), KH_OK);
    assert_int_equal(kh_queue_length(q), 0);
    kh_queue_close(q);
    unlink(path);
}

static void test_queue_bound(void **state)
{
    (void)state;
    char path[] = "/tmp/khien-queue-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    kh_queue *q = NULL;
    assert_int_equal(kh_queue_open(path, 3, &q), KH_OK);
    kh_queue_push(q, "{\"d\":1}", 1);
    kh_queue_push(q, "{\"low\":1}", 0);
    kh_queue_push(q, "{\"d\":2}", 1);
    kh_queue_push(q, "{\"d\":3}", 1); /* full: the low-value one goes */
    assert_int_equal(kh_queue_length(q), 3);
    assert_int_equal(kh_queue_dropped(q), 1);
    char *arr = NULL;
    int64_t last = 0;
    size_t n = 0;
    kh_queue_peek(q, 10, &arr, &last, &n);
    assert_string_equal(arr, "[{\"d\":1},{\"d\":2},{\"d\":3}]");
    kh_free(arr);
    kh_queue_push(q, "{\"d\":4}", 1); /* only detections left: the oldest goes */
    kh_queue_peek(q, 10, &arr, &last, &n);
    assert_string_equal(arr, "[{\"d\":2},{\"d\":3},{\"d\":4}]");
    kh_free(arr);
    assert_int_equal(kh_queue_dropped(q), 2);
    kh_queue_close(q);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order_ack_reopen),
        cmocka_unit_test(test_queue_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
