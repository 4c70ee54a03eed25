/* ctl_gpuopt: which PodAutoscaler endpoints name AIBrix's optimizer Service
 * (what `brix up` sends to its own optimizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ctl/ctl_gpuopt.h"

static void test_is_service(void **st)
{
    (void)st;
    assert_true(
        ctl_gpuopt_is_service("aibrix-gpu-optimizer.aibrix-system.svc.cluster.local", 8080));
    assert_true(ctl_gpuopt_is_service("aibrix-gpu-optimizer.aibrix-system.svc", 8080));
    assert_true(ctl_gpuopt_is_service("aibrix-gpu-optimizer.aibrix-system", 8080));
    assert_true(ctl_gpuopt_is_service("aibrix-gpu-optimizer", 8080));
    assert_true(ctl_gpuopt_is_service("AIBrix-GPU-Optimizer.aibrix-system", 8080));
    assert_false(ctl_gpuopt_is_service("aibrix-gpu-optimizer", 80));
    assert_false(ctl_gpuopt_is_service("aibrix-gpu-optimizer.default", 8080));
    assert_false(
        ctl_gpuopt_is_service("aibrix-gpu-optimizer.aibrix-system.svc.cluster.local.", 8080));
    assert_false(ctl_gpuopt_is_service("x.aibrix-gpu-optimizer.aibrix-system", 8080));
    assert_false(ctl_gpuopt_is_service("127.0.0.1", 8080));
    assert_false(ctl_gpuopt_is_service(NULL, 8080));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_is_service)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
