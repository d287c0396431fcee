/* Helpers shared by the CUnit suites. */
#ifndef NECO_TESTS_TEST_H
#define NECO_TESTS_TEST_H
#include <CUnit/CUnit.h>

void neco_test_register(void);

/* A copy of the weights file `src` in a fresh temporary folder, named `name` (for tests that put
 * other weights under a model's name): the first `key` among the file's first MiB (its header) is
 * replaced by `patched`, of the same length, so the file stays well formed (key NULL: an
 * unchanged copy). Writes the folder to dir (at least 32 bytes); 0 on success, -1 (with a
 * message) when src cannot be read or written or key is not found.
 * neco_test_weights_remove deletes the copy and its folder. */
int neco_test_weights_copy(char *dir, const char *name, const char *src, const char *key,
                           const char *patched);
void neco_test_weights_remove(const char *dir, const char *name);

/* Adds a suite with its tests: NECO_SUITE("name", {"test", fn}, ...). */
typedef struct neco_test_case {
    const char *name;
    void (*fn)(void);
} neco_test_case;

static inline void neco_add_suite(const char *name, const neco_test_case *cases, int n)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (int i = 0; i < n; i++)
        CU_add_test(s, cases[i].name, cases[i].fn);
}
#define NECO_SUITE(name, ...)                                                                      \
    do {                                                                                           \
        static const neco_test_case cases_[] = {__VA_ARGS__};                                      \
        neco_add_suite(name, cases_, (int)(sizeof cases_ / sizeof cases_[0]));                     \
    } while (0)
#endif
