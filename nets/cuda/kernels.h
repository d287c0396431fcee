/* The cuda backend's own kernels, one function per GPU thread: k_NAME(i, args) computes the
 * i-th of n independent results. cuda.cu runs each over a grid (a grid-stride loop calling
 * it); tests/test_cuda_kernels.c runs the same functions in a plain loop on the CPU and
 * compares them with the ref backend, so that their index arithmetic is checked on every
 * build, with or without a GPU. Plain C that nvcc also compiles (no C++ features).
 *
 * Arithmetic: each result is computed as the ref kernel computes it (same operations in the
 * same order; cuda.cu is built with --fmad=false, the determinism rule's no-contraction), so
 * most ops give ref's bits; the exceptions are those of the C library's functions (erff,
 * expf, sinf: CUDA's are within a few ulp of glibc's) and GroupNorm's statistics (partial sums
 * per chunk, then the chunks in order). */
#ifndef NECO_NETS_CUDA_KERNELS_H
#define NECO_NETS_CUDA_KERNELS_H
#include "nets/expdet.h"

#include <math.h>
#include <stddef.h>

#define NNK NN_HD

/* Activation codes of k_act: nn_act's values, and K_ACT_NONE for a bias alone. */
enum { K_ACT_NONE = -1 };

NNK float k_activate(float v, int act, float slope)
{
    switch (act) {
    case 0: /* NN_ACT_RELU */
        return v > 0.0f ? v : 0.0f;
    case 1: /* NN_ACT_LEAKY_RELU */
        return v >= 0.0f ? v : slope * v;
    case 2: /* NN_ACT_GELU */
        return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case 3: /* NN_ACT_SILU */
        return v / (1.0f + expf(-v));
    default:
        return v;
    }
}

/* x[i] = act(x[i] (+ bias[channel])) on [N, C, S] (bias NULL: c and s unused). */
typedef struct k_act_args {
    float *x;
    const float *bias;
    size_t s;
    int c, act;
    float slope;
} k_act_args;

NNK void k_act(size_t i, const k_act_args *a)
{
    float v = a->x[i];
    if (a->bias) v = v * 1.0f + a->bias[(i / a->s) % (size_t)a->c]; /* ref: channel gain 1 */
    a->x[i] = k_activate(v, a->act, a->slope);
}

/* x[i] = x[i] g[channel] + bias[channel] on [N, C, S] (g NULL: gain 1; bias NULL: 0). */
typedef struct k_scale_args {
    float *x;
    const float *g, *bias;
    size_t s;
    int c;
} k_scale_args;

NNK void k_scale(size_t i, const k_scale_args *a)
{
    size_t ch = (i / a->s) % (size_t)a->c;
    float gain = a->g ? a->g[ch] : 1.0f, off = a->bias ? a->bias[ch] : 0.0f;
    a->x[i] = a->x[i] * gain + off;
}

/* C[b][r][j] += bias[j]: a matmul's bias, n columns. */
typedef struct k_bias_cols_args {
    float *c;
    const float *bias;
    size_t n;
} k_bias_cols_args;

NNK void k_bias_cols(size_t i, const k_bias_cols_args *a)
{
    a->c[i] = a->c[i] + a->bias[i % a->n];
}

/* y = y + (x + b[channel]) (b NULL: y + x) on [N, C, S]. */
typedef struct k_residual_args {
    const float *x, *b;
    float *y;
    size_t s;
    int c;
} k_residual_args;

NNK void k_residual(size_t i, const k_residual_args *a)
{
    if (a->b)
        a->y[i] = a->y[i] + (a->x[i] + a->b[(i / a->s) % (size_t)a->c]);
    else
        a->y[i] = a->y[i] + a->x[i];
}

typedef struct k_add_args {
    const float *a, *b;
    float *y;
} k_add_args;

NNK void k_add(size_t i, const k_add_args *a)
{
    a->y[i] = a->a[i] + a->b[i];
}

/* Snake on [N, C, S]: x + 1/(alpha + 1e-9) sin^2(alpha x). */
typedef struct k_snake_args {
    float *x;
    const float *alpha;
    size_t s;
    int c;
} k_snake_args;

NNK void k_snake(size_t i, const k_snake_args *a)
{
    float al = a->alpha[(i / a->s) % (size_t)a->c], inv = 1.0f / (al + 1e-9f);
    float v = a->x[i], t = sinf(al * v);
    a->x[i] = v + inv * (t * t);
}

/* Pixel shuffle, one output element each: y [N, C, H r, W r] from x [N, C r^2, H, W]; 1-D
 * (h = 1, one_d): y [N, C, L r] from x [N, C r, L]. */
typedef struct k_shuffle_args {
    const float *x;
    float *y;
    int c, h, w, r, one_d;
} k_shuffle_args;

NNK void k_shuffle(size_t i, const k_shuffle_args *a)
{
    size_t r = (size_t)a->r, w = (size_t)a->w;
    if (a->one_d) {
        size_t ol = w * r, t = i % ol, plane = i / ol; /* plane = b c + ch */
        a->y[i] = a->x[(plane * r + t % r) * w + t / r];
        return;
    }
    size_t h = (size_t)a->h, ow = w * r, oh = h * r;
    size_t ox = i % ow, oy = (i / ow) % oh, plane = i / (ow * oh);
    size_t sub = (oy % r) * r + ox % r;
    a->y[i] = a->x[((plane * r * r + sub) * h + oy / r) * w + ox / r];
}

/* GDN / IGDN, one output element each on [N, C, S]: norm = sum_j gamma[ch][j] x_j^2 (j
 * ascending, from 0) + beta[ch], as ref's GEMM; y = x / sqrt(norm) (inverse: x sqrt(norm)). */
typedef struct k_gdn_args {
    const float *x, *gamma, *beta;
    float *y;
    size_t s;
    int c, inverse;
} k_gdn_args;

NNK void k_gdn(size_t i, const k_gdn_args *a)
{
    size_t s = a->s, c = (size_t)a->c, p = i % s, ch = (i / s) % c, b = i / (s * c);
    const float *xb = a->x + b * c * s + p, *g = a->gamma + ch * c;
    float acc = 0.0f;
    for (size_t j = 0; j < c; j++) {
        float v = xb[j * s];
        acc = acc + g[j] * (v * v);
    }
    float r = sqrtf(acc + a->beta[ch]);
    a->y[i] = a->inverse ? a->x[i] * r : a->x[i] / r;
}

/* LayerNorm over channels at one position of [N, C, S] each (i = b s + p), as ref: the sum
 * and the squared deviations in double in channel order. */
typedef struct k_ln_chan_args {
    float *x;
    const float *gamma, *beta;
    float eps;
    size_t s;
    int c;
} k_ln_chan_args;

NNK void k_ln_chan(size_t i, const k_ln_chan_args *a)
{
    size_t s = a->s, c = (size_t)a->c, p = i % s;
    float *v = a->x + (i / s) * c * s + p;
    double sum = 0, var = 0;
    for (size_t ch = 0; ch < c; ch++)
        sum += v[ch * s];
    sum /= (double)c;
    for (size_t ch = 0; ch < c; ch++) {
        double d = v[ch * s] - sum;
        var += d * d;
    }
    var = 1.0 / sqrt(var / (double)c + a->eps);
    for (size_t ch = 0; ch < c; ch++) {
        float ga = a->gamma ? a->gamma[ch] : 1.0f, be = a->beta ? a->beta[ch] : 0.0f;
        v[ch * s] = (v[ch * s] - (float)sum) * (float)var * ga + be;
    }
}

/* LayerNorm of one token row [rows][C] each, as ref's rows_task: the sums on 8 lanes (lane l
 * adds the elements l, l + 8, ...), combined by halves. res NULL: x in place; otherwise
 * res += LN(x), x unchanged. */
typedef struct k_ln_rows_args {
    float *x, *res;
    const float *gamma, *beta;
    float eps;
    int c;
} k_ln_rows_args;

NNK double k_lanes_total(double *acc)
{
    for (int w = 4; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = acc[l] + acc[l + w];
    return acc[0];
}

NNK void k_ln_rows(size_t r, const k_ln_rows_args *a)
{
    int c = a->c, c8 = c / 8 * 8;
    float *v = a->x + r * (size_t)c;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < c8; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += v[i + l];
    for (int i = c8; i < c; i++)
        acc[i - c8] += v[i];
    double mean = k_lanes_total(acc) / c;
    double sq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < c8; i += 8)
        for (int l = 0; l < 8; l++)
            sq[l] += (v[i + l] - mean) * (v[i + l] - mean);
    for (int i = c8; i < c; i++)
        sq[i - c8] += (v[i] - mean) * (v[i] - mean);
    double var = k_lanes_total(sq);
    float m = (float)mean, inv = (float)(1.0 / sqrt(var / c + a->eps));
    float *out = a->res ? a->res + r * (size_t)c : NULL;
    for (int i = 0; i < c; i++) {
        float y =
            (v[i] - m) * inv * (a->gamma ? a->gamma[i] : 1.0f) + (a->beta ? a->beta[i] : 0.0f);
        if (out)
            out[i] = out[i] + y;
        else
            v[i] = y;
    }
}

/* GroupNorm in three steps over the groups of [N, C, S] (group q = b groups + g: n = C/groups
 * S contiguous elements at q n): k_gn_part sums one chunk of K_GN_CHUNK elements of a group
 * (i = q chunks + k; with mean NULL the values, otherwise their squared deviations), in
 * double; k_gn_stats adds a group's chunks in order (stats[2 q] = mean, then, given the
 * deviations, stats[2 q + 1] = 1 / sqrt(var + eps)); k_gn_apply normalises one element. */
enum { K_GN_CHUNK = 4096 };

typedef struct k_gn_args {
    float *x;
    const float *gamma, *beta;
    double *part, *stats;
    size_t n, chunks; /* elements per group, chunks per group */
    size_t s;
    int c, groups, second; /* second: the pass of squared deviations */
    float eps;
} k_gn_args;

NNK void k_gn_part(size_t i, const k_gn_args *a)
{
    size_t q = i / a->chunks, k = i % a->chunks, i0 = k * K_GN_CHUNK;
    size_t i1 = i0 + K_GN_CHUNK < a->n ? i0 + K_GN_CHUNK : a->n;
    const float *v = a->x + q * a->n;
    double acc = 0;
    if (!a->second) {
        for (size_t j = i0; j < i1; j++)
            acc += v[j];
    } else {
        double mean = a->stats[2 * q];
        for (size_t j = i0; j < i1; j++)
            acc += (v[j] - mean) * (v[j] - mean);
    }
    a->part[i] = acc;
}

NNK void k_gn_stats(size_t q, const k_gn_args *a)
{
    double acc = 0;
    for (size_t k = 0; k < a->chunks; k++)
        acc += a->part[q * a->chunks + k];
    if (!a->second)
        a->stats[2 * q] = acc / (double)a->n;
    else
        a->stats[2 * q + 1] = 1.0 / sqrt(acc / (double)a->n + a->eps);
}

NNK void k_gn_apply(size_t i, const k_gn_args *a)
{
    size_t q = i / a->n, ch = (i / a->s) % (size_t)a->c;
    float m = (float)a->stats[2 * q], inv = (float)a->stats[2 * q + 1];
    float ga = a->gamma ? a->gamma[ch] : 1.0f, be = a->beta ? a->beta[ch] : 0.0f;
    a->x[i] = (a->x[i] - m) * inv * ga + be;
}
/* ---- Swin-V2 block pieces (swin.c's host code, as the ops swin_rows and window_attention of
 * ops.h define them) ---- */

/* The largest window the GPU kernel takes (tokens per window, ws^2). */
enum { K_ATTN_MAX_NT = 256 };

/* Window-ordered token rows <-> the map of one image [C][H][W]: row wi nt + t is the pixel of
 * window wi's token t in the map rolled by -shift (swin.c window_pos); one element each,
 * i = row c + ch. */
typedef struct k_swin_rows_args {
    float *img, *rows;
    size_t hw;
    int c, h, w, ws, shift, to_rows;
} k_swin_rows_args;

NNK void k_swin_rows(size_t i, const k_swin_rows_args *a)
{
    size_t ch = i % (size_t)a->c, ti = i / (size_t)a->c, nt = (size_t)a->ws * a->ws;
    int wi = (int)(ti / nt), t = (int)(ti % nt), wpr = a->w / a->ws;
    int yy = ((wi / wpr) * a->ws + t / a->ws + a->shift) % a->h;
    int xx = ((wi % wpr) * a->ws + t % a->ws + a->shift) % a->w;
    float *px = a->img + ch * a->hw + (size_t)yy * a->w + xx;
    if (a->to_rows)
        a->rows[i] = *px;
    else
        *px = a->rows[i];
}

/* The shift mask's region label of a coordinate (swin.c region). */
NNK int k_region(int y, int size, int ws, int shift)
{
    return y < size - ws ? 0 : y < size - shift ? 1 : 2;
}

/* x / max(|x|, 1e-12) of hd values, the squares on 8 lanes combined by halves (attention.c
 * l2_normalized): the divisor. */
NNK float k_l2_divisor(const float *x, int n)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int n8 = n / 8 * 8;
    for (int i = 0; i < n8; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += x[i + l] * x[i + l];
    for (int i = n8; i < n; i++)
        acc[i - n8] += x[i] * x[i];
    for (int w = 4; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = acc[l] + acc[l + w];
    float d = sqrtf(acc[0]);
    return d < 1e-12f ? 1e-12f : d;
}

/* q and k of every token and head L2-normalised (attention.c split_heads): i = (row nh + hh)
 * 2 + which, which 0 for q, 1 for k; qk [rows][2 c] (q's heads, then k's). */
typedef struct k_attn_norm_args {
    const float *qkv;
    float *qk;
    int c, nh;
} k_attn_norm_args;

NNK void k_attn_norm(size_t i, const k_attn_norm_args *a)
{
    int hd = a->c / a->nh, which = (int)(i % 2), hh = (int)((i / 2) % (size_t)a->nh);
    size_t row = i / (2 * (size_t)a->nh), off = (size_t)which * a->c + (size_t)hh * hd;
    const float *src = a->qkv + row * 3 * a->c + off;
    float *dst = a->qk + row * 2 * a->c + off, d = k_l2_divisor(src, hd);
    for (int k = 0; k < hd; k++)
        dst[k] = src[k] / d;
}

/* One query row of one head of one window (i = (wi nh + hh) nt + r): scores q k^T in d order
 * (q, k from k_attn_norm), softmax of score scale[hh] + bias[hh][r][t] (- 100 across shift
 * regions) with nn_exp_det and its sum on 16 lanes, then (sum_t a_t v_t) / sum into
 * merged[wi nt + r][hh hd ..]: attention.c's plain kernels, operation for operation (qkv
 * [nwin nt][3 c], c = nh hd, for v; bias [nh][nt][nt]). */
typedef struct k_attn_args {
    const float *qkv, *qk, *bias, *scale;
    float *merged;
    int c, h, w, ws, nh, shift;
} k_attn_args;

NNK void k_attn(size_t i, const k_attn_args *a)
{
    int nt = a->ws * a->ws, hd = a->c / a->nh, c = a->c;
    int r = (int)(i % (size_t)nt), hh = (int)((i / (size_t)nt) % (size_t)a->nh);
    size_t wi = i / ((size_t)nt * a->nh);
    const float *win = a->qkv + wi * (size_t)nt * 3 * c;
    const float *qkw = a->qk + wi * (size_t)nt * 2 * c;
    const float *q = qkw + (size_t)r * 2 * c + (size_t)hh * hd;
    float row[K_ATTN_MAX_NT];
    int wpr = a->w / a->ws, wy = (int)wi / wpr, wx = (int)wi % wpr, li = 0;
    if (a->shift)
        li = k_region(wy * a->ws + r / a->ws, a->h, a->ws, a->shift) * 3 +
             k_region(wx * a->ws + r % a->ws, a->w, a->ws, a->shift);
    const float *bias = a->bias + ((size_t)hh * nt + r) * nt;
    float scale = a->scale[hh], mx = -INFINITY;
    for (int t = 0; t < nt; t++) {
        const float *k = qkw + (size_t)t * 2 * c + c + (size_t)hh * hd;
        float acc = 0.0f;
        for (int d = 0; d < hd; d++)
            acc += q[d] * k[d];
        float x = acc * scale + bias[t];
        if (a->shift) {
            int lt = k_region(wy * a->ws + t / a->ws, a->h, a->ws, a->shift) * 3 +
                     k_region(wx * a->ws + t % a->ws, a->w, a->ws, a->shift);
            if (lt != li) x = x + -100.0f;
        }
        row[t] = x;
        mx = x > mx ? x : mx;
    }
    float lanes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int t = 0; t < nt; t++) {
        float e = nn_exp_det_inline(row[t] - mx);
        row[t] = e;
        lanes[t % 16] += e;
    }
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            lanes[l] = lanes[l] + lanes[l + w];
    float *o = a->merged + (wi * (size_t)nt + (size_t)r) * c + (size_t)hh * hd;
    for (int d = 0; d < hd; d++) {
        float acc = 0.0f;
        for (int t = 0; t < nt; t++)
            acc += row[t] * win[(size_t)t * 3 * c + 2 * (size_t)c + (size_t)hh * hd + d];
        o[d] = acc / lanes[0];
    }
}
/* ---- the CDF 9/7 lifting packet of the image models (nets/lifting97.c), one 2-D level as a
 * sequence of steps, each a kernel over independent elements ---- */

#define K_L97_A (-1.586134342059924f)
#define K_L97_B (-0.052980118572961f)
#define K_L97_G 0.882911075530934f
#define K_L97_D 0.443506852043971f
#define K_L97_K 1.149604398860241f

/* The steps. Work plane t [planes][h][w] (h, w the level's full resolution, both even): along
 * the width a row holds the even samples in [0, w/2) and the odd ones in [w/2, w) (e, o);
 * along the height, rows 2 r and 2 r + 1 are E_r and O_r. ODD_*: o (O) += k (e_n + e_n+1)
 * (or -= with sub), EVEN_*: e (E) += k (o_n-1 + o_n), with lifting97.c's symmetric ends. */
enum {
    L97_DEINT_W, /* x's rows -> t (e | o) */
    L97_ODD_W,
    L97_EVEN_W,
    L97_SCALE_W, /* e = K e, o = -o / K: the width pass's low | high */
    L97_ODD_H,
    L97_EVEN_H,
    L97_BANDS,   /* K E_r and -O_r / K -> y's 4 bands per plane (b = 2 v + h) */
    L97_UNBANDS, /* the inverse's first step: x's bands -> t */
    L97_UNSCALE_W,
    L97_INT_W, /* t (e | o) -> y's rows, interleaved */
    L97_COPY_W /* x's rows -> t as they are (the 1-D inverse's first step) */
};

typedef struct k_l97_args {
    const float *x; /* the level's input */
    float *t, *y;   /* work plane, the level's output */
    int planes, h, w, op, sub;
    float k;
} k_l97_args;

typedef struct k_l97_step {
    int op, sub;
    float k;
} k_l97_step;

/* One level, forward and inverse, as lifting97.c computes it. */
static const k_l97_step K_L97_FORWARD[11] = {
    {L97_DEINT_W, 0, 0},      {L97_ODD_W, 0, K_L97_A},  {L97_EVEN_W, 0, K_L97_B},
    {L97_ODD_W, 0, K_L97_G},  {L97_EVEN_W, 0, K_L97_D}, {L97_SCALE_W, 0, 0},
    {L97_ODD_H, 0, K_L97_A},  {L97_EVEN_H, 0, K_L97_B}, {L97_ODD_H, 0, K_L97_G},
    {L97_EVEN_H, 0, K_L97_D}, {L97_BANDS, 0, 0}};
static const k_l97_step K_L97_INVERSE[11] = {
    {L97_UNBANDS, 0, 0},      {L97_EVEN_H, 1, K_L97_D}, {L97_ODD_H, 1, K_L97_G},
    {L97_EVEN_H, 1, K_L97_B}, {L97_ODD_H, 1, K_L97_A},  {L97_UNSCALE_W, 0, 0},
    {L97_EVEN_W, 1, K_L97_D}, {L97_ODD_W, 1, K_L97_G},  {L97_EVEN_W, 1, K_L97_B},
    {L97_ODD_W, 1, K_L97_A},  {L97_INT_W, 0, 0}};

/* The shape of a packet's output: [N, C 4^L, H / 2^L, W / 2^L] (1-D: [N, C 2^L, L / 2^L]), or
 * back for the inverse; out[3] is 0 for 1-D. */
static inline void k_l97_out_shape(const int *in, int levels, int inverse, int one_d, int *out)
{
    int f = 1 << levels, bands = one_d ? f : f * f;
    out[0] = in[0];
    out[1] = inverse ? in[1] / bands : in[1] * bands;
    out[2] = inverse ? in[2] * f : in[2] / f;
    out[3] = one_d ? 0 : inverse ? in[3] * f : in[3] / f;
}

/* The audio models' 1-D packet (nets/lifting97_1d.c): a level is the width pass alone on
 * lines of [N, C, L] (h = 1); its output [N, 2 C, L/2] holds each line's low | high halves,
 * which is the work plane's layout, so the forward level runs with t = y. */
static const k_l97_step K_L97_FORWARD_1D[6] = {{L97_DEINT_W, 0, 0},      {L97_ODD_W, 0, K_L97_A},
                                               {L97_EVEN_W, 0, K_L97_B}, {L97_ODD_W, 0, K_L97_G},
                                               {L97_EVEN_W, 0, K_L97_D}, {L97_SCALE_W, 0, 0}};
static const k_l97_step K_L97_INVERSE_1D[7] = {{L97_COPY_W, 0, 0},       {L97_UNSCALE_W, 0, 0},
                                               {L97_EVEN_W, 1, K_L97_D}, {L97_ODD_W, 1, K_L97_G},
                                               {L97_EVEN_W, 1, K_L97_B}, {L97_ODD_W, 1, K_L97_A},
                                               {L97_INT_W, 0, 0}};

/* Level l of the 1-D packet on src [N, C, L] (count elements), as k_l97_level below. */
static inline k_l97_args k_l97_1d_level(const float *src, float *t, float *const ping[2],
                                        float *dst, const int *shape, size_t count, int levels,
                                        int inverse, int l)
{
    int w = inverse ? shape[2] << (l + 1) : shape[2] >> l;
    float *y = l == levels - 1 ? dst : ping[l % 2];
    k_l97_args a = {l == 0 ? src : ping[(l - 1) % 2],
                    inverse ? t : y,
                    y,
                    (int)(count / (size_t)w),
                    1,
                    w,
                    0,
                    0,
                    0.0f};
    return a;
}

/* Level l of a packet of `levels` on the input src [N, C, H, W] (count elements in all; the
 * transform keeps the count): its planes and sizes, its input (src at the first level, else the
 * previous level's output) and its output (dst at the last level, else a ping-pong buffer
 * ping[l % 2]); op, sub and k are set per step. */
static inline k_l97_args k_l97_level(const float *src, float *t, float *const ping[2], float *dst,
                                     const int *shape, size_t count, int levels, int inverse, int l)
{
    int h = inverse ? shape[2] << (l + 1) : shape[2] >> l;
    int w = inverse ? shape[3] << (l + 1) : shape[3] >> l;
    k_l97_args a = {l == 0 ? src : ping[(l - 1) % 2],
                    t,
                    l == levels - 1 ? dst : ping[l % 2],
                    (int)(count / ((size_t)h * w)),
                    h,
                    w,
                    0,
                    0,
                    0.0f};
    return a;
}

/* The number of elements a step's kernel runs over. */
NNK size_t k_l97_count(const k_l97_args *a)
{
    int width_pass = a->op == L97_DEINT_W || a->op == L97_ODD_W || a->op == L97_EVEN_W ||
                     a->op == L97_SCALE_W || a->op == L97_UNSCALE_W || a->op == L97_INT_W ||
                     a->op == L97_COPY_W;
    return width_pass ? (size_t)a->planes * a->h * (a->w / 2)
                      : (size_t)a->planes * (a->h / 2) * a->w;
}

NNK float k_lift(float dst, float k, float a, float b, int sub)
{
    return sub ? dst - k * (a + b) : dst + k * (a + b);
}

NNK void k_l97(size_t i, const k_l97_args *a)
{
    size_t w = (size_t)a->w, h = (size_t)a->h, mw = w / 2, mh = h / 2;
    if (a->op == L97_DEINT_W || a->op == L97_ODD_W || a->op == L97_EVEN_W || a->op == L97_SCALE_W ||
        a->op == L97_UNSCALE_W || a->op == L97_INT_W || a->op == L97_COPY_W) {
        size_t j = i % mw, row = i / mw; /* row = p h + r */
        float *e = a->t + row * w, *o = e + mw;
        switch (a->op) {
        case L97_DEINT_W:
            e[j] = a->x[row * w + 2 * j];
            o[j] = a->x[row * w + 2 * j + 1];
            break;
        case L97_ODD_W:
            o[j] = k_lift(o[j], a->k, e[j], e[j + 1 < mw ? j + 1 : mw - 1], a->sub);
            break;
        case L97_EVEN_W:
            e[j] = k_lift(e[j], a->k, o[j > 0 ? j - 1 : 0], o[j], a->sub);
            break;
        case L97_SCALE_W:
            e[j] = K_L97_K * e[j];
            o[j] = -o[j] / K_L97_K;
            break;
        case L97_UNSCALE_W:
            e[j] = e[j] / K_L97_K;
            o[j] = -o[j] * K_L97_K;
            break;
        case L97_COPY_W:
            e[j] = a->x[row * w + j];
            o[j] = a->x[row * w + mw + j];
            break;
        default: /* L97_INT_W */
            a->y[row * w + 2 * j] = e[j];
            a->y[row * w + 2 * j + 1] = o[j];
            break;
        }
        return;
    }
    size_t c = i % w, r = (i / w) % mh, p = i / (w * mh), band = mh * mw;
    float *plane = a->t + p * h * w;
    float *er = plane + 2 * r * w, *orow = er + w;
    switch (a->op) {
    case L97_ODD_H: {
        const float *en = plane + 2 * (r + 1 < mh ? r + 1 : mh - 1) * w;
        orow[c] = k_lift(orow[c], a->k, er[c], en[c], a->sub);
        break;
    }
    case L97_EVEN_H: {
        const float *op = plane + (2 * (r > 0 ? r - 1 : 0) + 1) * w;
        er[c] = k_lift(er[c], a->k, op[c], orow[c], a->sub);
        break;
    }
    default: { /* L97_BANDS, L97_UNBANDS */
        size_t half = c / mw, at = r * mw + c % mw;
        size_t lo = (p * 4 + half) * band + at, hi = (p * 4 + 2 + half) * band + at;
        if (a->op == L97_BANDS) {
            a->y[lo] = K_L97_K * er[c];
            a->y[hi] = -orow[c] / K_L97_K;
        } else {
            er[c] = a->x[lo] / K_L97_K;
            orow[c] = -a->x[hi] * K_L97_K;
        }
        break;
    }
    }
}
#endif
