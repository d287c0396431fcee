/* Nearest-codeword search (see vq.h). */
#include "nets/vq.h"

#include <math.h>
#include <stdlib.h>

int nn_vq_nearest(const nn_tensor *x, const float *codebook, int k, int32_t *idx, nn_tensor *q)
{
    if (!x || !x->data || x->ndim != 3 || !codebook || k < 1 || !idx || q == x) return NN_ERR_ARG;
    int n = x->shape[0], d = x->shape[1], l = x->shape[2];
    if (q) {
        int rc = nn_tensor_reshape_alloc(q, 3, x->shape);
        if (rc) return rc;
    }
    float *v = malloc((size_t)d * sizeof *v);
    if (!v) return NN_ERR_NOMEM;
    for (int b = 0; b < n; b++) {
        const float *xb = x->data + (size_t)b * d * l;
        for (int t = 0; t < l; t++) {
            for (int c = 0; c < d; c++)
                v[c] = xb[(size_t)c * l + t];
            /* Start above every finite distance: ties and NaN never replace the best. */
            int best = 0;
            float best_d = INFINITY;
            for (int j = 0; j < k; j++) {
                const float *cw = codebook + (size_t)j * d;
                float dist = 0.0f;
                for (int c = 0; c < d; c++) {
                    float e = v[c] - cw[c];
                    dist += e * e;
                }
                if (dist < best_d) {
                    best = j;
                    best_d = dist;
                }
            }
            idx[(size_t)b * l + t] = best;
            if (q) {
                float *qb = q->data + (size_t)b * d * l;
                for (int c = 0; c < d; c++)
                    qb[(size_t)c * l + t] = codebook[(size_t)best * d + c];
            }
        }
    }
    free(v);
    return NN_OK;
}

int nn_vq_decode(const int32_t *idx, int n, int l, const float *codebook, int k, int d,
                 nn_tensor *q)
{
    if (!idx || !codebook || n < 1 || l < 1 || k < 1 || d < 1 || !q) return NN_ERR_ARG;
    for (size_t i = 0; i < (size_t)n * l; i++)
        if (idx[i] < 0 || idx[i] >= k) return NN_ERR_ARG;
    int shape[3] = {n, d, l};
    int rc = nn_tensor_reshape_alloc(q, 3, shape);
    if (rc) return rc;
    for (int b = 0; b < n; b++)
        for (int t = 0; t < l; t++)
            for (int c = 0; c < d; c++)
                q->data[((size_t)b * d + c) * l + t] =
                    codebook[(size_t)idx[(size_t)b * l + t] * d + c];
    return NN_OK;
}
