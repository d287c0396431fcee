/* The shared main() of every CUnit test program: each program defines neco_test_register(),
 * which adds its suites; main runs them all and exits non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int neco_test_weights_copy(char *dir, const char *name, const char *src, const char *key,
                           const char *patched)
{
    strcpy(dir, "/tmp/neco_weights_XXXXXX");
    FILE *f = fopen(src, "rb");
    char *w = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (w = malloc((size_t)n)) && fread(w, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    if (f) fclose(f);
    int rc = w && n > 0 ? 0 : -1;
    if (!rc && key) {
        size_t len = strlen(key), lim = (size_t)n < (1u << 20) ? (size_t)n : (1u << 20);
        char *at = NULL;
        for (size_t i = 0; i + len <= lim && !at; i++)
            if (memcmp(w + i, key, len) == 0) at = w + i;
        if (at && strlen(patched) == len)
            memcpy(at, patched, len);
        else
            rc = -1;
    }
    char path[96];
    if (!rc && mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "wb");
        rc = f && fwrite(w, 1, (size_t)n, f) == (size_t)n ? 0 : -1;
        if (f) fclose(f);
    } else {
        rc = -1;
    }
    if (rc)
        fprintf(stderr, "\ncannot copy %s to %s/%s%s\n", src, dir, name,
                key ? " with its key patched" : "");
    free(w);
    return rc;
}

void neco_test_weights_remove(const char *dir, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot initialise the registry\n");
        return 2;
    }
    neco_test_register();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
