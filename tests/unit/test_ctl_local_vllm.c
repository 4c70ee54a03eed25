/* ctl_local_vllm: vLLM command lines become brix engine command lines
 * under `brix up --engine simulator`: vllm serve MODEL, python -m
 * vllm.entrypoints.openai.api_server, a plain sh -c line; several served
 * names and LoRA modules (name=path and JSON); --host dropped; others
 * passed; non-vLLM command lines and shell lines with quoting left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_local_int.h"

/* translate argv and compare with want (space-joined), or expect 0 */
static void expect(char *const *argv, const char *want)
{
    char **out = NULL;
    int r = ctl_local_vllm_translate(argv, "/bin/brix", &out);
    assert_int_equal(ctl_local_vllm_is_server(argv), want != NULL);
    if (!want) {
        assert_int_equal(r, 0);
        assert_null(out);
        return;
    }
    assert_int_equal(r, 1);
    char got[2048] = "";
    for (size_t i = 0; out[i]; i++) {
        if (i) strcat(got, " ");
        strcat(got, out[i]);
    }
    if (strcmp(got, want) != 0) fail_msg("\n  got:  %s\n  want: %s", got, want);
    ctl_local_vllm_free(out);
}

static void test_vllm_serve(void **st)
{
    (void)st;
    char *a[] = {"vllm",
                 "serve",
                 "/models/llama-3-8b",
                 "--port",
                 "41234",
                 "--served-model-name",
                 "llama-3-8b",
                 "--max-model-len",
                 "4096",
                 "--enable-lora",
                 "--max-loras",
                 "4",
                 "--max-lora-rank",
                 "64",
                 "--lora-modules",
                 "sql=/a/sql",
                 "{\"name\": \"chat\", \"path\": \"/a/chat\"}",
                 "--host",
                 "0.0.0.0",
                 "--trust-remote-code",
                 NULL};
    expect(a, "/bin/brix engine --model /models/llama-3-8b --port 41234 --served-model-name "
              "llama-3-8b --max-model-len 4096 --enable-lora --max-loras 4 --max-lora-rank 64 "
              "--lora-modules sql=/a/sql --lora-modules chat=/a/chat --trust-remote-code");
}

static void test_vllm_serve_names(void **st)
{
    (void)st;
    char *a[] = {"/usr/local/bin/vllm", "serve", "--model", "m", "--served-model-name", "a", "b",
                 "--host=0.0.0.0",      NULL};
    expect(a, "/bin/brix engine --model m --served-model-name a");
}

static void test_python_module(void **st)
{
    (void)st;
    char *a[] = {"python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "q", "--port",
                 "5",       NULL};
    expect(a, "/bin/brix engine --model q --port 5");
    char *b[] = {"/usr/bin/python3.10", "-m", "vllm.entrypoints.openai.api_server", NULL};
    expect(b, "/bin/brix engine");
}

static void test_shell_line(void **st)
{
    (void)st;
    char *a[] = {"/bin/sh", "-c",
                 "vllm serve deepseek-coder \\\n  --port 7 --served-model-name ds\n  --enable-lora",
                 NULL};
    expect(a, "/bin/brix engine --model deepseek-coder --port 7 --served-model-name ds "
              "--enable-lora");
    char *q[] = {"sh", "-c", "vllm serve m --served-model-name \"x y\"", NULL};
    expect(q, NULL); /* quoting: not a plain line */
    char *v[] = {"bash", "-c", "vllm serve $MODEL", NULL};
    expect(v, NULL);
}

/* A RayCluster head's script (AIBrix's sample's shape): Ray first, a poll of
 * its dashboard, then vllm serve as the last command; the parallel degrees
 * pass through to brix engine. */
static void test_ray_head_script(void **st)
{
    (void)st;
    char *a[] = {"/bin/bash", "-c",
                 "ulimit -n 65536 && echo \"[INFO] Starting Ray head node...\" && eval "
                 "\"$KUBERAY_GEN_RAY_START_CMD\" &\necho \"[INFO] Waiting...\" && until curl "
                 "--max-time 5 --fail http://127.0.0.1:8265 > /dev/null 2>&1; do\n  echo "
                 "\"[WAITING] $(date -u +'%Y-%m-%dT%H:%M:%SZ') - not ready\";\n  sleep 2;\ndone "
                 "&& echo \"[SUCCESS]\" &&\nvllm serve Qwen/Qwen2.5-Coder-7B-Instruct \\\n  "
                 "--served-model-name qwen-coder-7b-instruct \\\n  --tensor-parallel-size 2 "
                 "\\\n  --distributed-executor-backend ray \\\n  --host 0.0.0.0 \\\n  --port "
                 "41000 \\\n  --dtype half\n",
                 NULL};
    expect(a, "/bin/brix engine --model Qwen/Qwen2.5-Coder-7B-Instruct --served-model-name "
              "qwen-coder-7b-instruct --tensor-parallel-size 2 --distributed-executor-backend ray "
              "--port 41000 --dtype half");
    assert_int_equal(ctl_local_vllm_is_ray(a), 1);
    char **out = NULL;
    assert_int_equal(ctl_local_vllm_ray_worker(a, "/bin/brix", 5, &out), 0); /* a server */
    assert_null(out);
    /* the last command is not plain: left alone */
    char *b[] = {"sh", "-c", "ray start --head; vllm serve \"$M\"", NULL};
    expect(b, NULL);
}

/* A RayCluster worker's script: Ray only, run as a group worker. */
static void test_ray_worker(void **st)
{
    (void)st;
    char *a[] = {"/bin/bash", "-c",
                 "ulimit -n 65536 && eval \"$KUBERAY_GEN_RAY_START_CMD "
                 "--node-ip-address=$MY_POD_IP\" && tail -f /dev/null",
                 NULL};
    expect(a, NULL);
    char **out = NULL;
    assert_int_equal(ctl_local_vllm_ray_worker(a, "/bin/brix", 4242, &out), 1);
    assert_string_equal(out[0], "/bin/brix");
    assert_string_equal(out[1], "engine");
    assert_string_equal(out[2], "--port");
    assert_string_equal(out[3], "4242");
    assert_null(out[4]);
    ctl_local_vllm_free(out);
    char *b[] = {"ray", "start", "--address=127.0.0.1:6379", "--block", NULL};
    assert_int_equal(ctl_local_vllm_ray_worker(b, "brix", 1, &out), 1);
    ctl_local_vllm_free(out);
    char *c[] = {"sh", "-c", "sleep 1", NULL};
    assert_int_equal(ctl_local_vllm_ray_worker(c, "brix", 1, &out), 0);
    assert_null(out);
}

/* Without the simulator: a script needing ray or vllm where PATH has none. */
static void test_missing(void **st)
{
    (void)st;
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", "/nonexistent-brix-test", 1);
    char *a[] = {"bash", "-c", "eval \"$KUBERAY_GEN_RAY_START_CMD\" && tail -f /dev/null", NULL};
    assert_string_equal(ctl_local_vllm_missing(a), "ray");
    char *b[] = {"bash", "-c", "echo hi; vllm serve m --port 5", NULL};
    assert_string_equal(ctl_local_vllm_missing(b), "vllm");
    char *c[] = {"bash", "-c", "echo hi; sleep 5", NULL};
    assert_null(ctl_local_vllm_missing(c));
    char *d[] = {"vllm", "serve", "m", NULL};
    assert_null(ctl_local_vllm_missing(d)); /* uv_spawn reports it */
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    }
}

static void test_not_vllm(void **st)
{
    (void)st;
    char *a[] = {"/bin/brix", "engine", "--port", "5", NULL};
    expect(a, NULL);
    char *b[] = {"vllm", "bench", NULL};
    expect(b, NULL);
    char *c[] = {"python3", "-m", "sglang.launch_server", NULL};
    expect(c, NULL);
    char *d[] = {"pythonx", "-m", "vllm.entrypoints.openai.api_server", NULL};
    expect(d, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vllm_serve),    cmocka_unit_test(test_vllm_serve_names),
        cmocka_unit_test(test_python_module), cmocka_unit_test(test_shell_line),
        cmocka_unit_test(test_not_vllm),      cmocka_unit_test(test_ray_head_script),
        cmocka_unit_test(test_ray_worker),    cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
