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
        cmocka_unit_test(test_not_vllm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
