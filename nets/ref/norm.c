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

/* Token rows [rows, C]: each row normalised on its own, a range of rows per task. */
typedef struct rows_job {
    float *x;
    float *res; /* NULL, or the residual: res += LN(x), x left as it was */
    const float *gamma, *beta;
    float eps;
    int rows, c, ntasks;
} rows_job;

/* The sums of a row are taken on ROW_LANES lanes: lane l adds the elements l, l + 8, ... in
 * order, then the lanes are combined by halves (l + 4, l + 2, l + 1): a fixed order, as the
 * one plain loop before, but 8 independent chains that vectorise (the single chain of
 * dependent double additions was most of a Swin block's LayerNorm time). */
enum { ROW_LANES = 8 };

static double lanes_total(double *acc)
{
    for (int w = ROW_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = acc[l] + acc[l + w];
    return acc[0];
}

static void rows_task(void *arg, int task)
{
    const rows_job *j = arg;
    int c = j->c, c8 = c / ROW_LANES * ROW_LANES;
    for (int r = (int)((long)j->rows * task / j->ntasks);
         r < (int)((long)j->rows * (task + 1) / j->ntasks); r++) {
        float *v = j->x + (size_t)r * c;
        double acc[ROW_LANES] = {0};
        for (int i = 0; i < c8; i += ROW_LANES)
            for (int l = 0; l < ROW_LANES; l++)
                acc[l] += v[i + l];
        for (int i = c8; i < c; i++)
            acc[i - c8] += v[i];
        double mean = lanes_total(acc) / c;
        double sq[ROW_LANES] = {0};
        for (int i = 0; i < c8; i += ROW_LANES)
            for (int l = 0; l < ROW_LANES; l++)
                sq[l] += (v[i + l] - mean) * (v[i + l] - mean);
        for (int i = c8; i < c; i++)
            sq[i - c8] += (v[i] - mean) * (v[i] - mean);
        double var = lanes_total(sq);
        float m = (float)mean, inv = (float)(1.0 / sqrt(var / c + j->eps));
        float *out = j->res ? j->res + (size_t)r * c : NULL;
        for (int i = 0; i < c; i++) {
            float y = (v[i] - m) * inv * (j->gamma ? j->gamma[i] : 1.0f) +
                      (j->beta ? j->beta[i] : 0.0f);
            if (out)
                out[i] = out[i] + y;
            else
                v[i] = y;
        }
    }
}

int nn_ref_layer_norm_add(nn_context *ctx, const nn_tensor *x, const float *gamma,
                          const float *beta, float eps, nn_tensor *y)
{
    int threads = ctx && ctx->pool ? nn_pool_threads(ctx->pool) : 1;
    int most = (x->shape[0] + 255) / 256;
    rows_job j = {x->data, y->data, gamma, beta, eps, x->shape[0], x->shape[1],
                  threads < most ? threads : most};
    nn_pool_run(j.ntasks > 1 ? ctx->pool : NULL, rows_task, &j, j.ntasks);
    return NN_OK;
}

int nn_ref_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta,
                      float eps)
{
    if (x->ndim == 2) {
        int threads = ctx && ctx->pool ? nn_pool_threads(ctx->pool) : 1;
        /* at least 256 rows per task: the pool's start-up costs more than a few rows */
        int most = (x->shape[0] + 255) / 256;
        rows_job j = {x->data, NULL, gamma, beta, eps, x->shape[0], x->shape[1],
                      threads < most ? threads : most};
        nn_pool_run(j.ntasks > 1 ? ctx->pool : NULL, rows_task, &j, j.ntasks);
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
