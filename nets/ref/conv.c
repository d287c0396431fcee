/* conv2d and transposed conv2d of the ref backend: im2col + GEMM, and GEMM + col2im
 * (Chellapilla et al. 2006). conv1d reaches these as conv2d with H = 1 (layers.c).
 *
 * Work is split into tasks whose results do not depend on each other, so the output is
 * bit-identical for any thread count (pool.h). */
#include "nets/ref/ref.h"

#include <stdlib.h>
#include <string.h>

/* Output columns per conv2d task: bounds the im2col buffer to K * CHUNK floats. */
enum { CHUNK = 256 };

typedef struct conv_job {
    const nn_tensor *x, *w;
    const float *b;
    const nn_conv_params *p;
    nn_tensor *y;
    int cg, og, kh, kw, kk, ho, wo, nchunks;
    size_t pout;
    int failed;
} conv_job;

/* Fills col[kk][n] for output positions [p0, p0 + n) of one group of one sample. */
static void im2col(const conv_job *j, const float *xg, int p0, int n, float *col)
{
    const nn_conv_params *p = j->p;
    int h = j->x->shape[2], w = j->x->shape[3];
    int row = 0;
    for (int ci = 0; ci < j->cg; ci++) {
        const float *xc = xg + (size_t)ci * h * w;
        for (int ky = 0; ky < j->kh; ky++) {
            for (int kx = 0; kx < j->kw; kx++, row++) {
                float *dst = col + (size_t)row * n;
                int oy = p0 / j->wo, ox = p0 % j->wo;
                for (int q = 0; q < n; q++) {
                    int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                    int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                    dst[q] =
                        (iy >= 0 && iy < h && ix >= 0 && ix < w) ? xc[(size_t)iy * w + ix] : 0.0f;
                    if (++ox == j->wo) {
                        ox = 0;
                        oy++;
                    }
                }
            }
        }
    }
}

static void conv_task(void *arg, int t)
{
    conv_job *j = arg;
    int groups = j->p->groups;
    int chunk = t % j->nchunks, g = (t / j->nchunks) % groups, s = t / j->nchunks / groups;
    int p0 = chunk * CHUNK;
    int n = (int)j->pout - p0 < CHUNK ? (int)j->pout - p0 : CHUNK;
    const nn_tensor *x = j->x;
    size_t hw = (size_t)x->shape[2] * x->shape[3];
    const float *xg = x->data + ((size_t)s * x->shape[1] + (size_t)g * j->cg) * hw;
    const float *wg = j->w->data + (size_t)g * j->og * j->kk;
    float *yg = j->y->data + ((size_t)s * j->y->shape[1] + (size_t)g * j->og) * j->pout + p0;
    const float *bg = j->b ? j->b + (size_t)g * j->og : NULL;
    const nn_conv_params *p = j->p;
    if (j->kh == 1 && j->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
        p->pad_w == 0) {
        /* 1x1 conv: the input itself is the im2col matrix. */
        nn_ref_gemm(j->og, n, j->kk, wg, j->kk, xg + p0, (int)hw, bg, NULL, yg, (int)j->pout);
        return;
    }
    float *col = malloc((size_t)j->kk * n * sizeof *col);
    if (!col) {
        j->failed = 1; /* a benign race: every writer stores 1 */
        return;
    }
    im2col(j, xg, p0, n, col);
    nn_ref_gemm(j->og, n, j->kk, wg, j->kk, col, n, bg, NULL, yg, (int)j->pout);
    free(col);
}

int nn_ref_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                  const nn_conv_params *p, nn_tensor *y)
{
    conv_job j = {0};
    j.x = x, j.w = w, j.b = b, j.p = p, j.y = y;
    j.cg = x->shape[1] / p->groups;
    j.og = y->shape[1] / p->groups;
    j.kh = w->shape[2], j.kw = w->shape[3];
    j.kk = j.cg * j.kh * j.kw;
    j.ho = y->shape[2], j.wo = y->shape[3];
    j.pout = (size_t)j.ho * j.wo;
    j.nchunks = (int)((j.pout + CHUNK - 1) / CHUNK);
    nn_pool_run(ctx->pool, conv_task, &j, x->shape[0] * p->groups * j.nchunks);
    return j.failed ? NN_ERR_NOMEM : NN_OK;
}

/* Transposed conv: for each group, col = W_g^T X_g (GEMM over input positions), then col2im
 * scatters col into y. Input rows are processed in slabs of a size fixed by the shape alone,
 * so the order of additions into each output does not depend on threads. */
typedef struct tconv_job {
    const nn_tensor *x;
    const nn_conv_params *p;
    nn_tensor *y;
    const float *wt;   /* W_g^T for the current group: [og*kh*kw][cg] */
    float *col;        /* [og*kh*kw][slab positions] */
    const float *bias; /* the current group's bias */
    const float *xg;
    float *yg;
    int cg, og, kh, kw, rows, row0, ncols;
} tconv_job;

enum { TCOLS = 256 };

static void tconv_gemm_task(void *arg, int t)
{
    tconv_job *j = arg;
    int w = j->x->shape[3];
    int c0 = t * TCOLS, n = j->ncols - c0 < TCOLS ? j->ncols - c0 : TCOLS;
    size_t hw = (size_t)j->x->shape[2] * w;
    nn_ref_gemm(j->og * j->kh * j->kw, n, j->cg, j->wt, j->cg, j->xg + (size_t)j->row0 * w + c0,
                (int)hw, NULL, NULL, j->col + c0, j->ncols);
}

static void tconv_col2im_task(void *arg, int oc)
{
    tconv_job *j = arg;
    const nn_conv_params *p = j->p;
    int w = j->x->shape[3], ho = j->y->shape[2], wo = j->y->shape[3];
    float *yc = j->yg + (size_t)oc * ho * wo;
    for (int ky = 0; ky < j->kh; ky++) {
        for (int kx = 0; kx < j->kw; kx++) {
            const float *src = j->col + ((size_t)(oc * j->kh + ky) * j->kw + kx) * j->ncols;
            for (int r = 0; r < j->rows; r++) {
                int oy = (j->row0 + r) * p->stride_h - p->pad_h + ky * p->dilation_h;
                if (oy < 0 || oy >= ho) continue;
                float *yr = yc + (size_t)oy * wo;
                const float *sr = src + (size_t)r * w;
                for (int ix = 0; ix < w; ix++) {
                    int ox = ix * p->stride_w - p->pad_w + kx * p->dilation_w;
                    if (ox >= 0 && ox < wo) yr[ox] += sr[ix];
                }
            }
        }
    }
}

static void bias_task(void *arg, int oc)
{
    tconv_job *j = arg;
    size_t n = (size_t)j->y->shape[2] * j->y->shape[3];
    float *yc = j->yg + (size_t)oc * n;
    float bias = j->bias[oc];
    for (size_t i = 0; i < n; i++)
        yc[i] += bias;
}

int nn_ref_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                            const nn_conv_params *p, nn_tensor *y)
{
    tconv_job j = {0};
    j.x = x, j.p = p, j.y = y;
    j.cg = x->shape[1] / p->groups;
    j.og = y->shape[1] / p->groups;
    j.kh = w->shape[2], j.kw = w->shape[3];
    int h = x->shape[2], wd = x->shape[3], m = j.og * j.kh * j.kw;
    /* Slab height: about 1 M floats of col, at least one row. */
    int slab = (int)((1u << 20) / ((size_t)m * wd));
    if (slab < 1) slab = 1;
    if (slab > h) slab = h;
    float *wt = malloc((size_t)m * j.cg * sizeof *wt);
    float *col = malloc((size_t)m * slab * wd * sizeof *col);
    if (!wt || !col) {
        free(wt);
        free(col);
        return NN_ERR_NOMEM;
    }
    memset(y->data, 0, nn_tensor_numel(y) * sizeof(float));
    j.wt = wt;
    j.col = col;
    size_t yhw = (size_t)y->shape[2] * y->shape[3];
    for (int g = 0; g < p->groups; g++) {
        /* W_g^T: w is [C][og][kh][kw]; row (oc, ky, kx), column ci of the group. */
        const float *wg = w->data + (size_t)g * j.cg * m;
        for (int ci = 0; ci < j.cg; ci++)
            for (int r = 0; r < m; r++)
                wt[(size_t)r * j.cg + ci] = wg[(size_t)ci * m + r];
        for (int s = 0; s < x->shape[0]; s++) {
            j.xg = x->data + ((size_t)s * x->shape[1] + (size_t)g * j.cg) * h * wd;
            j.yg = y->data + ((size_t)s * y->shape[1] + (size_t)g * j.og) * yhw;
            for (j.row0 = 0; j.row0 < h; j.row0 += slab) {
                j.rows = h - j.row0 < slab ? h - j.row0 : slab;
                j.ncols = j.rows * wd;
                nn_pool_run(ctx->pool, tconv_gemm_task, &j, (j.ncols + TCOLS - 1) / TCOLS);
                nn_pool_run(ctx->pool, tconv_col2im_task, &j, j.og);
            }
        }
    }
    if (b) {
        for (int s = 0; s < x->shape[0]; s++) {
            for (int g = 0; g < p->groups; g++) {
                j.yg = y->data + ((size_t)s * y->shape[1] + (size_t)g * j.og) * yhw;
                j.bias = b + (size_t)g * j.og;
                nn_pool_run(ctx->pool, bias_task, &j, j.og);
            }
        }
    }
    free(wt);
    free(col);
    return NN_OK;
}
