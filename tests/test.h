/* Helpers shared by the CUnit suites. */
#ifndef NECO_TESTS_TEST_H
#define NECO_TESTS_TEST_H
#include <CUnit/CUnit.h>

void neco_test_register(void);

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
