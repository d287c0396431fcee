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

/* One input channel per group (depthwise convs): im2col would copy every input KH KW times
 * for a one-row GEMM, so the taps are applied directly, one output plane per task. Each
 * output still sums its taps from 0 in (ky, kx) order and adds the bias last, the definition
 * of ops.h; the inner loop runs along an output row, so it vectorises when stride_w is 1. */
static void depthwise_plane(const conv_job *j, const float *xc, const float *wc, float *yc)
{
    const nn_conv_params *p = j->p;
    int h = j->x->shape[2], w = j->x->shape[3];
    for (size_t i = 0; i < j->pout; i++)
        yc[i] = 0.0f;
    for (int ky = 0; ky < j->kh; ky++) {
        for (int kx = 0; kx < j->kw; kx++) {
            float wv = wc[ky * j->kw + kx];
            /* Output columns whose input column ox stride - pad + kx dilation is inside. */
            int off = kx * p->dilation_w - p->pad_w, x0 = 0, x1 = j->wo;
            while (x0 < x1 && x0 * p->stride_w + off < 0)
                x0++;
            while (x1 > x0 && (x1 - 1) * p->stride_w + off >= w)
                x1--;
            for (int oy = 0; oy < j->ho; oy++) {
                int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                if (iy < 0 || iy >= h) continue;
                const float *xr = xc + (size_t)iy * w + off;
                float *yr = yc + (size_t)oy * j->wo;
                if (p->stride_w == 1) {
                    for (int ox = x0; ox < x1; ox++)
                        yr[ox] += wv * xr[ox];
                } else {
                    for (int ox = x0; ox < x1; ox++)
                        yr[ox] += wv * xr[(size_t)ox * p->stride_w];
                }
            }
        }
    }
}

/* The same sums for stride 1 and dilation 1, register-blocked: DW_LANES outputs of a row at a
 * time, each kept in an accumulator across all KH KW taps (the plane above is read and written
 * once per tap, ~25 passes over L2 for a 5x5 kernel). The input plane is first copied into xp
 * with its zero border (pad rows and columns, plus columns up to a whole block): a tap that
 * reads the border adds w * 0 = +-0, which leaves every sum as the one above, which skips the
 * tap (an accumulator that starts at +0 cannot become -0 by rounding to nearest). */
enum { DW_LANES = 16 };

/* xp [ho + kh - 1][wp]: the input plane xc [h][w] inside its zero border. */
static void depthwise_pad(const conv_job *j, const float *xc, float *xp, int wp)
{
    const nn_conv_params *p = j->p;
    int h = j->x->shape[2], w = j->x->shape[3], hp = j->ho + j->kh - 1;
    for (int r = 0; r < hp; r++) {
        int iy = r - p->pad_h;
        float *row = xp + (size_t)r * wp;
        int c0 = p->pad_w < wp ? p->pad_w : wp, n = w < wp - c0 ? w : wp - c0;
        if (iy < 0 || iy >= h || n <= 0) {
            memset(row, 0, sizeof(float) * (size_t)wp);
            continue;
        }
        memset(row, 0, sizeof(float) * (size_t)c0);
        memcpy(row + c0, xc + (size_t)iy * w, sizeof(float) * (size_t)n);
        memset(row + c0 + n, 0, sizeof(float) * (size_t)(wp - c0 - n));
    }
}

static void depthwise_blocked_plain(const conv_job *j, const float *wc, const float *xp, int wp,
                                    float *yc)
{
    for (int oy = 0; oy < j->ho; oy++) {
        for (int ox = 0; ox < j->wo; ox += DW_LANES) {
            float acc[DW_LANES] = {0};
            for (int ky = 0; ky < j->kh; ky++) {
                const float *xr = xp + (size_t)(oy + ky) * wp + ox;
                for (int kx = 0; kx < j->kw; kx++) {
                    float wv = wc[ky * j->kw + kx];
                    for (int l = 0; l < DW_LANES; l++)
                        acc[l] += wv * xr[kx + l];
                }
            }
            int n = j->wo - ox < DW_LANES ? j->wo - ox : DW_LANES;
            memcpy(yc + (size_t)oy * j->wo + ox, acc, sizeof(float) * (size_t)n);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
#include <immintrin.h>

/* Two blocks of 16 outputs per step, multiply then add (no FMA: the rounding of the loops
 * above). */
__attribute__((target("avx512f"))) static void
depthwise_blocked_avx512(const conv_job *j, const float *wc, const float *xp, int wp, float *yc)
{
    for (int oy = 0; oy < j->ho; oy++) {
        float *yr = yc + (size_t)oy * j->wo;
        for (int ox = 0; ox < j->wo; ox += 2 * DW_LANES) {
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            for (int ky = 0; ky < j->kh; ky++) {
                const float *xr = xp + (size_t)(oy + ky) * wp + ox;
                for (int kx = 0; kx < j->kw; kx++) {
                    __m512 wv = _mm512_set1_ps(wc[ky * j->kw + kx]);
                    a0 = _mm512_add_ps(a0, _mm512_mul_ps(wv, _mm512_loadu_ps(xr + kx)));
                    a1 = _mm512_add_ps(a1, _mm512_mul_ps(wv, _mm512_loadu_ps(xr + kx + 16)));
                }
            }
            int n = j->wo - ox;
            if (n >= 2 * DW_LANES) {
                _mm512_storeu_ps(yr + ox, a0);
                _mm512_storeu_ps(yr + ox + 16, a1);
            } else {
                __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
                __mmask16 m1 = (__mmask16)(n <= 16 ? 0 : (1u << (n - 16)) - 1);
                _mm512_mask_storeu_ps(yr + ox, m0, a0);
                _mm512_mask_storeu_ps(yr + ox + 16, m1, a1);
            }
        }
    }
}
#endif

static void depthwise_task(void *arg, int t)
{
    conv_job *j = arg;
    const nn_tensor *x = j->x;
    int o = j->y->shape[1], s = t / o, oc = t % o, g = oc / j->og;
    int h = x->shape[2], w = x->shape[3];
    const float *xc = x->data + ((size_t)s * x->shape[1] + g) * h * w;
    const float *wc = j->w->data + (size_t)oc * j->kh * j->kw;
    float *yc = j->y->data + ((size_t)s * o + oc) * j->pout;
    const nn_conv_params *p = j->p;
    float *xp = NULL;
    /* whole pairs of blocks, and the taps beyond the last one */
    int wp = (j->wo + 2 * DW_LANES - 1) / (2 * DW_LANES) * (2 * DW_LANES) + j->kw - 1;
    if (p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1)
        xp = malloc(sizeof(float) * (size_t)(j->ho + j->kh - 1) * (size_t)wp);
    if (!xp) { /* other strides, or no memory for the copy: the unblocked loops */
        depthwise_plane(j, xc, wc, yc);
    } else {
        depthwise_pad(j, xc, xp, wp);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
        if (__builtin_cpu_supports("avx512f"))
            depthwise_blocked_avx512(j, wc, xp, wp, yc);
        else
#endif
            depthwise_blocked_plain(j, wc, xp, wp, yc);
        free(xp);
    }
    if (j->b) {
        float bias = j->b[oc];
        for (size_t i = 0; i < j->pout; i++)
            yc[i] += bias;
    }
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
    if (j.cg == 1 && j.kh * j.kw > 1) {
        nn_pool_run(ctx->pool, depthwise_task, &j, x->shape[0] * y->shape[1]);
        return NN_OK;
    }
    nn_pool_run(ctx->pool, conv_task, &j, x->shape[0] * p->groups * j.nchunks);
    return j.failed ? NN_ERR_NOMEM : NN_OK;
}

/* Transposed conv by output phases (the sub-pixel view of Shi et al. 2016): output row oy
 * receives input row iy = (oy + pad - ky dilation) / stride from exactly the taps ky with
 * ky dilation = (oy + pad) (mod stride). For a fixed phase r = (oy + pad) mod stride, that
 * tap list is fixed and iy = Q - c_ky with Q = (oy + pad - r) / stride and
 * c_ky = (ky dilation - r) / stride >= 0, so each phase is an ordinary correlation, done with
 * im2col + GEMM like conv2d. Every output is computed once, as
 *     acc = 0; for ci, for ky, for kx (taps that reach an input sample): acc += w * x;
 *     y = acc + bias,
 * the same definition as conv2d; no scatter, no multiplications by inserted zeros. */
typedef struct phase {
    int ry, rx;   /* phase residues */
    int oy0, ox0; /* first output row / column of the phase */
    int ny, nx;   /* output rows / columns in the phase */
    int nky, nkx; /* taps */
    int ky[64], kx[64];
} phase;

typedef struct tconv_job {
    const nn_tensor *x, *w;
    const float *b;
    const nn_conv_params *p;
    nn_tensor *y;
    int cg, og, nphase, failed;
    phase *ph;
    float **wp;  /* [group * nphase + phase]: [og][cg * nky * nkx] */
    int *chunks; /* chunks per phase */
    int *chunk0; /* first task index of each phase within a (sample, group) */
    int tasks_per_group;
} tconv_job;

static void tconv_task(void *arg, int t)
{
    tconv_job *j = arg;
    const nn_conv_params *p = j->p;
    int groups = p->groups;
    int s = t / (groups * j->tasks_per_group), g = (t / j->tasks_per_group) % groups;
    int local = t % j->tasks_per_group, pi = 0;
    while (pi + 1 < j->nphase && j->chunk0[pi + 1] <= local)
        pi++;
    const phase *ph = &j->ph[pi];
    int chunk = local - j->chunk0[pi];
    int total = ph->ny * ph->nx, q0 = chunk * CHUNK;
    int n = total - q0 < CHUNK ? total - q0 : CHUNK;
    int h = j->x->shape[2], w = j->x->shape[3], ho = j->y->shape[2], wo = j->y->shape[3];
    int kk = j->cg * ph->nky * ph->nkx;
    const float *xg = j->x->data + ((size_t)s * j->x->shape[1] + (size_t)g * j->cg) * h * w;
    float *col = malloc(((size_t)kk * n + 1) * sizeof *col);
    float *out = malloc((size_t)j->og * n * sizeof *out);
    if (!col || !out) {
        free(col);
        free(out);
        j->failed = 1;
        return;
    }
    int row = 0;
    for (int ci = 0; ci < j->cg; ci++) {
        const float *xc = xg + (size_t)ci * h * w;
        for (int a = 0; a < ph->nky; a++) {
            int cy = (ph->ky[a] * p->dilation_h - ph->ry) / p->stride_h;
            for (int bb = 0; bb < ph->nkx; bb++, row++) {
                int cx = (ph->kx[bb] * p->dilation_w - ph->rx) / p->stride_w;
                float *dst = col + (size_t)row * n;
                /* iy = Q_y - c_ky with Q_y = (oy0 + pad - ry) / stride + qy (exact). */
                int by = (ph->oy0 + p->pad_h - ph->ry) / p->stride_h - cy;
                int bx = (ph->ox0 + p->pad_w - ph->rx) / p->stride_w - cx;
                int qy = q0 / ph->nx, qx = q0 % ph->nx;
                for (int q = 0; q < n; q++) {
                    int iy = by + qy, ix = bx + qx;
                    dst[q] =
                        (iy >= 0 && iy < h && ix >= 0 && ix < w) ? xc[(size_t)iy * w + ix] : 0.0f;
                    if (++qx == ph->nx) {
                        qx = 0;
                        qy++;
                    }
                }
            }
        }
    }
    const float *bg = j->b ? j->b + (size_t)g * j->og : NULL;
    nn_ref_gemm(j->og, n, kk, j->wp[g * j->nphase + pi], kk, col, n, bg, NULL, out, n);
    float *yg = j->y->data + ((size_t)s * j->y->shape[1] + (size_t)g * j->og) * ho * wo;
    for (int o = 0; o < j->og; o++) {
        int qy = q0 / ph->nx, qx = q0 % ph->nx;
        for (int q = 0; q < n; q++) {
            yg[((size_t)o * ho + ph->oy0 + (size_t)qy * p->stride_h) * wo + ph->ox0 +
               (size_t)qx * p->stride_w] = out[(size_t)o * n + q];
            if (++qx == ph->nx) {
                qx = 0;
                qy++;
            }
        }
    }
    free(col);
    free(out);
}

/* Taps of one phase along one axis; returns the count. */
static int taps(int k, int dilation, int stride, int r, int *list)
{
    int n = 0;
    for (int t = 0; t < k; t++)
        if (((long)t * dilation - r) % stride == 0) list[n++] = t;
    return n;
}

int nn_ref_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                            const nn_conv_params *p, nn_tensor *y)
{
    tconv_job j = {0};
    j.x = x, j.w = w, j.b = b, j.p = p, j.y = y;
    j.cg = x->shape[1] / p->groups;
    j.og = y->shape[1] / p->groups;
    int kh = w->shape[2], kw = w->shape[3], ho = y->shape[2], wo = y->shape[3];
    if (kh > 64 || kw > 64 || p->stride_h > 64 || p->stride_w > 64)
        return NN_ERR_ARG; /* layers.h limits: fixed tap lists, at most 4096 phases */
    int sh = p->stride_h, sw = p->stride_w;
    j.nphase = sh * sw;
    j.ph = calloc((size_t)j.nphase, sizeof *j.ph);
    j.wp = calloc((size_t)j.nphase * p->groups, sizeof *j.wp);
    j.chunks = calloc((size_t)j.nphase, sizeof *j.chunks);
    j.chunk0 = calloc((size_t)j.nphase, sizeof *j.chunk0);
    int rc = NN_ERR_NOMEM;
    if (!j.ph || !j.wp || !j.chunks || !j.chunk0) goto done;
    for (int ry = 0; ry < sh; ry++) {
        for (int rx = 0; rx < sw; rx++) {
            phase *ph = &j.ph[ry * sw + rx];
            ph->ry = ry, ph->rx = rx;
            ph->oy0 = ((ry - p->pad_h) % sh + sh) % sh;
            ph->ox0 = ((rx - p->pad_w) % sw + sw) % sw;
            ph->ny = ph->oy0 < ho ? (ho - 1 - ph->oy0) / sh + 1 : 0;
            ph->nx = ph->ox0 < wo ? (wo - 1 - ph->ox0) / sw + 1 : 0;
            ph->nky = taps(kh, p->dilation_h, sh, ry, ph->ky);
            ph->nkx = taps(kw, p->dilation_w, sw, rx, ph->kx);
        }
    }
    /* Phase weights: row o, column (ci, ky, kx) over the phase's taps; w is [C][og][kh][kw]. */
    for (int g = 0; g < p->groups; g++) {
        for (int pi = 0; pi < j.nphase; pi++) {
            const phase *ph = &j.ph[pi];
            size_t kk = (size_t)j.cg * ph->nky * ph->nkx;
            float *wp = malloc(((size_t)j.og * kk + 1) * sizeof *wp);
            if (!wp) goto done;
            j.wp[g * j.nphase + pi] = wp;
            for (int o = 0; o < j.og; o++) {
                size_t col = 0;
                for (int ci = 0; ci < j.cg; ci++)
                    for (int a = 0; a < ph->nky; a++)
                        for (int bb = 0; bb < ph->nkx; bb++, col++)
                            wp[(size_t)o * kk + col] =
                                w->data[(((size_t)(g * j.cg + ci) * j.og + o) * kh + ph->ky[a]) *
                                            kw +
                                        ph->kx[bb]];
            }
        }
    }
    for (int pi = 0; pi < j.nphase; pi++) {
        j.chunks[pi] = (j.ph[pi].ny * j.ph[pi].nx + CHUNK - 1) / CHUNK;
        j.chunk0[pi] = j.tasks_per_group;
        j.tasks_per_group += j.chunks[pi];
    }
    nn_pool_run(ctx->pool, tconv_task, &j, x->shape[0] * p->groups * j.tasks_per_group);
    rc = j.failed ? NN_ERR_NOMEM : NN_OK;
done:
    for (int i = 0; j.wp && i < j.nphase * p->groups; i++)
        free(j.wp[i]);
    free(j.wp);
    free(j.ph);
    free(j.chunks);
    free(j.chunk0);
    return rc;
}
