/* Batched matmul of the ref backend (ops.h nn_matmul_params), on nn_ref_gemm. A transposed B
 * (linear weights, attention keys) is first transposed to [k][n] so that the GEMM inner loop
 * stays a contiguous axpy. */
#include "nets/ref/ref.h"

#include <stdlib.h>

typedef struct mm_job {
    const nn_matmul_params *p;
    const float *a, *b, *bias;
    float *c;
    const float *bt_shared; /* B^T when shared by every batch entry (or batch == 1) */
    int rows_per_task, row_blocks, failed;
} mm_job;

enum { MM_ROWS = 32 };

static void transpose(const float *src, int rows, int cols, float *dst)
{
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++)
            dst[(size_t)q * rows + r] = src[(size_t)r * cols + q];
}

static void mm_task(void *arg, int t)
{
    mm_job *j = arg;
    const nn_matmul_params *p = j->p;
    int bi = t / j->row_blocks, r0 = (t % j->row_blocks) * j->rows_per_task;
    int rows = p->m - r0 < j->rows_per_task ? p->m - r0 : j->rows_per_task;
    size_t bstride = p->b_shared ? 0 : (size_t)p->n * p->k;
    const float *bm = j->b + (size_t)bi * bstride;
    float *own = NULL;
    if (p->trans_b) {
        if (j->bt_shared) {
            bm = j->bt_shared;
        } else {
            own = malloc((size_t)p->n * p->k * sizeof *own);
            if (!own) {
                j->failed = 1;
                return;
            }
            transpose(bm, p->n, p->k, own);
            bm = own;
        }
    }
    nn_ref_gemm(rows, p->n, p->k, j->a + ((size_t)bi * p->m + r0) * p->k, p->k, bm, p->n, NULL,
                j->bias, j->c + ((size_t)bi * p->m + r0) * p->n, p->n);
    free(own);
}

int nn_ref_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                  const float *bias, float *c)
{
    mm_job j = {0};
    j.p = p, j.a = a, j.b = b, j.bias = bias, j.c = c;
    float *bt = NULL;
    if (p->trans_b && (p->b_shared || p->batch == 1)) {
        bt = malloc((size_t)p->n * p->k * sizeof *bt);
        if (!bt) return NN_ERR_NOMEM;
        transpose(b, p->n, p->k, bt);
        j.bt_shared = bt;
    }
    /* A B^T of its own per batch entry: one task per entry, so each transposes once;
     * otherwise tasks of MM_ROWS rows. */
    j.rows_per_task = (p->trans_b && !j.bt_shared) ? p->m : MM_ROWS;
    j.row_blocks = (p->m + j.rows_per_task - 1) / j.rows_per_task;
    nn_pool_run(ctx->pool, mm_task, &j, p->batch * j.row_blocks);
    free(bt);
    return j.failed ? NN_ERR_NOMEM : NN_OK;
}
