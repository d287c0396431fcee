/* Blocked GEMM of the ref backend. The inner loop is an axpy over a row of B (contiguous), which
 * compilers vectorise without reassociating any sum: each C element still accumulates its
 * products in ascending k, exactly as the scalar definition (ref.h). */
#include "nets/ref/ref.h"

enum { ROWS = 4, COLS = 64 };

/* Clones for wider vector units where the compiler can make them (GCC/clang on x86-64 with
 * ifunc support): every clone performs the same IEEE operations per element (separate
 * multiply and add, -ffp-contract=off), so the results are bit-identical on every CPU. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(NN_NO_CLONES)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
/* static, called through the wrapper below: clang 14 does not export a target_clones
 * function under its plain name to other translation units. */
static void
gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, const float *row_bias,
     const float *col_bias, float *c, int ldc)
{
    for (int j0 = 0; j0 < n; j0 += COLS) {
        int nj = n - j0 < COLS ? n - j0 : COLS;
        int i0 = 0;
        for (; i0 + ROWS <= m; i0 += ROWS) {
            float acc[ROWS][COLS] = {{0}};
            const float *a0 = a + (size_t)i0 * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            for (int q = 0; q < k; q++) {
                const float *br = b + (size_t)q * ldb + j0;
                float w0 = a0[q], w1 = a1[q], w2 = a2[q], w3 = a3[q];
                for (int j = 0; j < nj; j++) {
                    float v = br[j];
                    acc[0][j] += w0 * v;
                    acc[1][j] += w1 * v;
                    acc[2][j] += w2 * v;
                    acc[3][j] += w3 * v;
                }
            }
            for (int r = 0; r < ROWS; r++) {
                float *cr = c + (size_t)(i0 + r) * ldc + j0;
                for (int j = 0; j < nj; j++) {
                    float v = acc[r][j];
                    if (row_bias) v += row_bias[i0 + r];
                    if (col_bias) v += col_bias[j0 + j];
                    cr[j] = v;
                }
            }
        }
        for (; i0 < m; i0++) {
            float acc[COLS] = {0};
            const float *ar = a + (size_t)i0 * lda;
            for (int q = 0; q < k; q++) {
                const float *br = b + (size_t)q * ldb + j0;
                float w0 = ar[q];
                for (int j = 0; j < nj; j++)
                    acc[j] += w0 * br[j];
            }
            float *cr = c + (size_t)i0 * ldc + j0;
            for (int j = 0; j < nj; j++) {
                float v = acc[j];
                if (row_bias) v += row_bias[i0];
                if (col_bias) v += col_bias[j0 + j];
                cr[j] = v;
            }
        }
    }
}

void nn_ref_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 const float *row_bias, const float *col_bias, float *c, int ldc)
{
    gemm(m, n, k, a, lda, b, ldb, row_bias, col_bias, c, ldc);
}
