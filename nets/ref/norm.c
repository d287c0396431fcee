/* GDN/IGDN, GroupNorm and LayerNorm (ref backend). Statistics are accumulated in double, in
 * a fixed order, so they are accurate and independent of threads. */
#include "nets/ref/ref.h"

#include <math.h>
#include <stdlib.h>

typedef struct gdn_job {
    const float *x, *gamma, *beta;
    float *y;
    int c, inverse, failed;
    size_t s;
} gdn_job;

enum { GDN_COLS = 256 };

static void gdn_task(void *arg, int t)
{
    gdn_job *j = arg;
    size_t p0 = (size_t)t * GDN_COLS;
    int n = (int)(j->s - p0 < GDN_COLS ? j->s - p0 : GDN_COLS);
    float *sq = malloc((size_t)j->c * n * sizeof *sq),
          *norm = malloc((size_t)j->c * n * sizeof *norm);
    if (!sq || !norm) {
        j->failed = 1;
        free(sq);
        free(norm);
        return;
    }
    for (int ch = 0; ch < j->c; ch++)
        for (int i = 0; i < n; i++) {
            float v = j->x[(size_t)ch * j->s + p0 + (size_t)i];
            sq[(size_t)ch * n + i] = v * v;
        }
    /* norm_i = beta_i + sum_j gamma_ij x_j^2: a 1x1 conv of x^2 (Balle et al. 2016, eq. 3). */
    nn_ref_gemm(j->c, n, j->c, j->gamma, j->c, sq, n, j->beta, NULL, norm, n);
    for (int ch = 0; ch < j->c; ch++)
        for (int i = 0; i < n; i++) {
            size_t at = (size_t)ch * j->s + p0 + (size_t)i;
            float r = sqrtf(norm[(size_t)ch * n + i]);
            j->y[at] = j->inverse ? j->x[at] * r : j->x[at] / r;
        }
    free(sq);
    free(norm);
}

int nn_ref_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
               int inverse, nn_tensor *y)
{
    gdn_job j = {0};
    j.c = x->shape[1], j.gamma = gamma, j.beta = beta, j.inverse = inverse;
    j.s = nn_ref_spatial(x);
    for (int b = 0; b < x->shape[0]; b++) {
        j.x = x->data + (size_t)b * j.c * j.s;
        j.y = y->data + (size_t)b * j.c * j.s;
        nn_pool_run(ctx->pool, gdn_task, &j, (int)((j.s + GDN_COLS - 1) / GDN_COLS));
    }
    return j.failed ? NN_ERR_NOMEM : NN_OK;
}

int nn_ref_group_norm(nn_context *ctx, nn_tensor *x, int groups, const float *gamma,
                      const float *beta, float eps)
{
    (void)ctx;
    int c = x->shape[1], cg = c / groups;
    size_t s = nn_ref_spatial(x), n = (size_t)cg * s;
    for (int b = 0; b < x->shape[0]; b++) {
        for (int g = 0; g < groups; g++) {
            float *v = x->data + ((size_t)b * c + (size_t)g * cg) * s;
            double sum = 0, var = 0;
            for (size_t i = 0; i < n; i++)
                sum += v[i];
            double mean = sum / (double)n;
            for (size_t i = 0; i < n; i++)
                var += (v[i] - mean) * (v[i] - mean);
            float m = (float)mean, inv = (float)(1.0 / sqrt(var / (double)n + eps));
            for (int k = 0; k < cg; k++) {
                int ch = g * cg + k;
                float ga = gamma ? gamma[ch] : 1.0f, be = beta ? beta[ch] : 0.0f;
                float *vc = v + (size_t)k * s;
                for (size_t i = 0; i < s; i++)
                    vc[i] = (vc[i] - m) * inv * ga + be;
            }
        }
    }
    return NN_OK;
}

int nn_ref_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta,
                      float eps)
{
    (void)ctx;
    if (x->ndim == 2) {
        /* Token rows [rows, C]: normalise each row. */
        int c = x->shape[1];
        for (int r = 0; r < x->shape[0]; r++) {
            float *v = x->data + (size_t)r * c;
            double sum = 0, var = 0;
            for (int i = 0; i < c; i++)
                sum += v[i];
            double mean = sum / c;
            for (int i = 0; i < c; i++)
                var += (v[i] - mean) * (v[i] - mean);
            float m = (float)mean, inv = (float)(1.0 / sqrt(var / c + eps));
            for (int i = 0; i < c; i++)
                v[i] = (v[i] - m) * inv * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
        }
        return NN_OK;
    }
    int c = x->shape[1];
    size_t s = nn_ref_spatial(x);
    double *sum = malloc(2 * s * sizeof *sum);
    if (!sum) return NN_ERR_NOMEM;
    double *var = sum + s;
    for (int b = 0; b < x->shape[0]; b++) {
        float *v = x->data + (size_t)b * c * s;
        for (size_t i = 0; i < s; i++)
            sum[i] = var[i] = 0;
        for (int ch = 0; ch < c; ch++)
            for (size_t i = 0; i < s; i++)
                sum[i] += v[(size_t)ch * s + i];
        for (size_t i = 0; i < s; i++)
            sum[i] /= c;
        for (int ch = 0; ch < c; ch++)
            for (size_t i = 0; i < s; i++) {
                double d = v[(size_t)ch * s + i] - sum[i];
                var[i] += d * d;
            }
        for (size_t i = 0; i < s; i++)
            var[i] = 1.0 / sqrt(var[i] / c + eps);
        for (int ch = 0; ch < c; ch++) {
            float ga = gamma ? gamma[ch] : 1.0f, be = beta ? beta[ch] : 0.0f;
            for (size_t i = 0; i < s; i++) {
                float *e = &v[(size_t)ch * s + i];
                *e = (*e - (float)sum[i]) * (float)var[i] * ga + be;
            }
        }
    }
    free(sum);
    return NN_OK;
}
