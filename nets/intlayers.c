/* Integer conv layers (see intlayers.h and INTEGER.md). All arithmetic is on integers whose
 * ranges are proved in intlayers.h, so the order of the sums cannot change a result. */
#include "nets/intlayers.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int16_t nn_int_rescale(int64_t acc, int32_t mult, int32_t shift, int32_t out_min, int32_t out_max)
{
    int64_t v = acc * (int64_t)mult, r;
    if (shift == 0) {
        r = v;
    } else {
        /* Round half up: floor(v / 2^S + 1/2), i.e. floor((v + 2^(S-1)) / 2^S), the arithmetic
         * of training (train/int_layers.py). Computed as the floor quotient plus one when the
         * remainder reaches half, so that nothing overflows and no negative value is shifted. */
        int64_t q = v >= 0 ? v >> shift : -((-(v + 1)) >> shift) - 1;
        int64_t rem = v - q * ((int64_t)1 << shift); /* in [0, 2^S) */
        r = q + (rem >= ((int64_t)1 << (shift - 1)));
    }
    if (r < out_min) r = out_min;
    if (r > out_max) r = out_max;
    return (int16_t)r;
}

int nn_int_conv_check(const nn_int_conv *l)
{
    if (!l || l->cin < 1 || l->cout < 1 || l->kh < 1 || l->kw < 1 || !l->mult || !l->shift)
        return NN_ERR_ARG;
    if ((l->w8 == NULL) == (l->w16 == NULL)) return NN_ERR_ARG;
    const nn_conv_params *p = &l->p;
    if (p->groups < 1 || l->cin % p->groups || l->cout % p->groups || p->stride_h < 1 ||
        p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 || p->pad_h < 0 || p->pad_w < 0 ||
        p->out_pad_h < 0 || p->out_pad_w < 0)
        return NN_ERR_ARG;
    long k = (long)(l->cin / p->groups) * l->kh * l->kw; /* terms per output, both kinds */
    if (k > 131072) return NN_ERR_ARG;
    if (l->out_min < -32768 || l->out_max > 32767 || l->out_min > l->out_max) return NN_ERR_ARG;
    for (int o = 0; o < l->cout; o++)
        if (l->mult[o] < 0 || l->mult[o] > 32767 || l->shift[o] < 0 || l->shift[o] > 62)
            return NN_ERR_ARG;
    return NN_OK;
}

int nn_int_conv_out_size(const nn_int_conv *l, int h, int w, int *ho, int *wo)
{
    const nn_conv_params *p = &l->p;
    long oh, ow;
    if (l->transposed) {
        oh = ((long)h - 1) * p->stride_h - 2L * p->pad_h + (long)p->dilation_h * (l->kh - 1) +
             p->out_pad_h + 1;
        ow = ((long)w - 1) * p->stride_w - 2L * p->pad_w + (long)p->dilation_w * (l->kw - 1) +
             p->out_pad_w + 1;
    } else {
        long eh = (long)p->dilation_h * (l->kh - 1) + 1, ew = (long)p->dilation_w * (l->kw - 1) + 1;
        if (h + 2L * p->pad_h < eh || w + 2L * p->pad_w < ew) return NN_ERR_ARG;
        oh = (h + 2L * p->pad_h - eh) / p->stride_h + 1;
        ow = (w + 2L * p->pad_w - ew) / p->stride_w + 1;
    }
    if (oh < 1 || ow < 1 || oh > INT_MAX || ow > INT_MAX) return NN_ERR_ARG;
    *ho = (int)oh;
    *wo = (int)ow;
    return NN_OK;
}

static int32_t weight(const nn_int_conv *l, size_t i)
{
    return l->w8 ? l->w8[i] : l->w16[i];
}

/* acc[o][j] = sum_k w[o][k] * col[j][k] for o < cout, j < npos: dot products of int16 rows into
 * int32, the pattern compilers turn into pmaddwd (vpdpwssd with AVX512-VNNI). Integer sums do
 * not depend on their order, so every variant gives the same result (when no sum overflows:
 * conv_fast checks that first). */
static inline __attribute__((always_inline)) void
dots_body(const int16_t *w, int cout, int k, const int16_t *col, int npos, int32_t *acc)
{
    int o = 0;
    /* Four output channels at a time: each load of a column row serves four weight rows. */
    for (; o + 4 <= cout; o += 4) {
        const int16_t *w0 = w + (size_t)o * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        for (int j = 0; j < npos; j++) {
            const int16_t *cr = col + (size_t)j * k;
            int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int q = 0; q < k; q++) {
                int32_t c = cr[q];
                s0 += (int32_t)w0[q] * c;
                s1 += (int32_t)w1[q] * c;
                s2 += (int32_t)w2[q] * c;
                s3 += (int32_t)w3[q] * c;
            }
            acc[(size_t)o * npos + j] = s0;
            acc[(size_t)(o + 1) * npos + j] = s1;
            acc[(size_t)(o + 2) * npos + j] = s2;
            acc[(size_t)(o + 3) * npos + j] = s3;
        }
    }
    for (; o < cout; o++) {
        const int16_t *wr = w + (size_t)o * k;
        for (int j = 0; j < npos; j++) {
            const int16_t *cr = col + (size_t)j * k;
            int32_t sum = 0;
            for (int q = 0; q < k; q++)
                sum += (int32_t)wr[q] * cr[q];
            acc[(size_t)o * npos + j] = sum;
        }
    }
}

/* One compiled copy per instruction set, chosen by the CPU's features at run time (GCC's
 * target_clones("arch=...") tests the CPU model, not its features, and so gave AVX-512 CPUs of
 * other vendors the AVX2 copy). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static void
dots_vnni(const int16_t *w, int cout, int k, const int16_t *col, int npos, int32_t *acc)
{
    dots_body(w, cout, k, col, npos, acc);
}

__attribute__((target("avx512f,avx512bw"))) static void
dots_avx512(const int16_t *w, int cout, int k, const int16_t *col, int npos, int32_t *acc)
{
    dots_body(w, cout, k, col, npos, acc);
}

__attribute__((target("avx2"))) static void dots_avx2(const int16_t *w, int cout, int k,
                                                      const int16_t *col, int npos, int32_t *acc)
{
    dots_body(w, cout, k, col, npos, acc);
}
#endif

static void dots(const int16_t *w, int cout, int k, const int16_t *col, int npos, int32_t *acc)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return dots_vnni(w, cout, k, col, npos, acc);
    if (__builtin_cpu_supports("avx512bw")) return dots_avx512(w, cout, k, col, npos, acc);
    if (__builtin_cpu_supports("avx2")) return dots_avx2(w, cout, k, col, npos, acc);
#endif
    dots_body(w, cout, k, col, npos, acc);
}

/* out[j] = the rescaled, saturated a[j] + bias[o] of output channel o, j < n: nn_int_rescale's
 * round half up, branch-free so that it vectorises. Here |a + bias| < 2^31 (the callers check
 * it) and mult < 2^15, so |v| < 2^46, and v + 2^62 is a non-negative multiple-of-2^S shift of
 * v (S <= 62): floor division of it by 2^S is a plain unsigned shift, the offset 2^(62-S) comes
 * off after. Same integers as nn_int_rescale. */
static void rescale_row(const nn_int_conv *l, int o, const int32_t *a, int n, int16_t *out)
{
    int32_t bias = l->bias ? l->bias[o] : 0;
    int sh = l->shift[o];
    uint64_t off = (uint64_t)1 << 62, half = sh ? (uint64_t)1 << (sh - 1) : 0;
    int64_t mult = l->mult[o], lo = l->out_min, hi = l->out_max;
    int64_t base = (int64_t)(off >> sh);
    for (int j = 0; j < n; j++) {
        int64_t v = ((int64_t)a[j] + bias) * mult;
        int64_t r = (int64_t)(((uint64_t)v + off + half) >> sh) - base;
        r = r < lo ? lo : r;
        r = r > hi ? hi : r;
        out[j] = (int16_t)r;
    }
}

/* Whether |bias| + sum |w| * xmax < 2^31 for every output of l. */
static int bound_fits(const nn_int_conv *l, int64_t xmax)
{
    int k = l->cin * l->kh * l->kw;
    for (int o = 0; o < l->cout; o++) {
        int64_t bound = l->bias ? (l->bias[o] < 0 ? -(int64_t)l->bias[o] : l->bias[o]) : 0;
        for (int i = 0; i < k; i++) {
            int32_t w = weight(l, (size_t)o * k + i);
            bound += (w < 0 ? -(int64_t)w : w) * xmax;
        }
        if (bound >= INT32_MAX) return 0;
    }
    return 1;
}

enum { FAST_BLOCK = 64 }; /* output positions per im2col block */

/* One task of conv_fast: the blocks of output positions [p_begin, p_end) of every image. */
typedef struct fast_job {
    const nn_int_conv *l;
    const nn_itensor *x;
    nn_itensor *y;
    const int16_t *w16;
    int16_t *col; /* FAST_BLOCK x k per task */
    int32_t *acc; /* FAST_BLOCK x cout per task */
    int wo, k, ntasks;
    size_t plane_out;
} fast_job;

static void fast_task(void *arg, int task)
{
    fast_job *jb = arg;
    const nn_int_conv *l = jb->l;
    const nn_itensor *x = jb->x;
    const nn_conv_params *p = &l->p;
    int k = jb->k, wo = jb->wo;
    size_t plane_in = (size_t)x->h * x->w, plane_out = jb->plane_out;
    size_t blocks = (plane_out + FAST_BLOCK - 1) / FAST_BLOCK;
    size_t b0 = blocks * (size_t)task / (size_t)jb->ntasks;
    size_t b1 = blocks * (size_t)(task + 1) / (size_t)jb->ntasks;
    int16_t *col = jb->col + (size_t)task * FAST_BLOCK * k;
    int32_t *acc = jb->acc + (size_t)task * FAST_BLOCK * l->cout;
    for (int b = 0; b < x->n; b++)
        for (size_t p0 = b0 * FAST_BLOCK; p0 < b1 * FAST_BLOCK && p0 < plane_out;
             p0 += FAST_BLOCK) {
            int npos = plane_out - p0 < FAST_BLOCK ? (int)(plane_out - p0) : FAST_BLOCK;
            for (int j = 0; j < npos; j++) {
                int oy = (int)((p0 + j) / wo), ox = (int)((p0 + j) % wo);
                int16_t *c = col + (size_t)j * k;
                int ix0 = ox - p->pad_w, inside = ix0 >= 0 && ix0 + l->kw <= x->w;
                for (int ci = 0; ci < l->cin; ci++) {
                    const int16_t *xc = x->data + ((size_t)b * l->cin + ci) * plane_in;
                    for (int ky = 0; ky < l->kh; ky++, c += l->kw) {
                        int iy = oy - p->pad_h + ky;
                        /* Rows of the kernel are contiguous in x: copied whole, zeros outside. */
                        if (iy < 0 || iy >= x->h) {
                            memset(c, 0, sizeof(int16_t) * (size_t)l->kw);
                            continue;
                        }
                        const int16_t *row = xc + (size_t)iy * x->w;
                        if (inside && l->kw == 3) { /* h_s's 3x3 kernels: no memcpy call */
                            c[0] = row[ix0], c[1] = row[ix0 + 1], c[2] = row[ix0 + 2];
                            continue;
                        }
                        if (inside) {
                            memcpy(c, row + ix0, sizeof(int16_t) * (size_t)l->kw);
                            continue;
                        }
                        for (int kx = 0; kx < l->kw; kx++) {
                            int ix = ix0 + kx;
                            c[kx] = ix < 0 || ix >= x->w ? 0 : row[ix];
                        }
                    }
                }
            }
            dots(jb->w16, l->cout, k, col, npos, acc);
            for (int o = 0; o < l->cout; o++)
                rescale_row(l, o, acc + (size_t)o * npos, npos,
                            jb->y->data + ((size_t)b * l->cout + o) * plane_out + p0);
        }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
#include <immintrin.h>
#define NN_INT_DIRECT 1

/* The direct path of "same" convolutions (stride 1, dilation 1, one group, output of the input's
 * size) on AVX-512: no im2col. The input is copied once, zero-padded, with pairs of input
 * channels interleaved (xi: one int32 = channels 2 cp and 2 cp + 1 of a position), so that one
 * vpdpwssd (or vpmaddwd + vpaddd without VNNI) multiplies 16 positions by one weight pair and
 * adds both products to 16 int32 sums. Output rows are spread over the pool. The same integer
 * sums as the definition (conv_direct checks the int32 bound first). */
typedef struct direct_job {
    const nn_int_conv *l;
    const int32_t *xi, *wp; /* xi [cpn][hp][wpad]; wp [cout][cpn][kh][kw] */
    int32_t *acc;           /* per task: 4 x wo16 */
    nn_itensor *y;
    int cpn, hp, wpad, wo16, ntasks, vnni;
} direct_job;

#define DIRECT_KERNEL(NAME, TARGET, DP)                                                            \
    __attribute__((target(TARGET))) static void NAME(const direct_job *j, int oy, int o0, int nb,  \
                                                     int32_t *acc)                                 \
    {                                                                                              \
        const nn_int_conv *l = j->l;                                                               \
        int wo = j->y->w, kh = l->kh, kw = l->kw;                                                  \
        for (int x0 = 0; x0 < wo; x0 += 16) {                                                      \
            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;                        \
            for (int cp = 0; cp < j->cpn; cp++) {                                                  \
                const int32_t *w0 = j->wp + ((size_t)o0 * j->cpn + cp) * kh * kw;                  \
                size_t ostride = (size_t)j->cpn * kh * kw;                                         \
                for (int ky = 0; ky < kh; ky++) {                                                  \
                    const int32_t *row = j->xi + ((size_t)cp * j->hp + oy + ky) * j->wpad + x0;    \
                    for (int kx = 0; kx < kw; kx++) {                                              \
                        __m512i v = _mm512_loadu_si512((const void *)(row + kx));                  \
                        const int32_t *w = w0 + ky * kw + kx;                                      \
                        s0 = DP(s0, v, _mm512_set1_epi32(w[0]));                                   \
                        if (nb > 1) s1 = DP(s1, v, _mm512_set1_epi32(w[ostride]));                 \
                        if (nb > 2) s2 = DP(s2, v, _mm512_set1_epi32(w[2 * ostride]));             \
                        if (nb > 3) s3 = DP(s3, v, _mm512_set1_epi32(w[3 * ostride]));             \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            _mm512_storeu_si512((void *)(acc + x0), s0);                                           \
            _mm512_storeu_si512((void *)(acc + j->wo16 + x0), s1);                                 \
            _mm512_storeu_si512((void *)(acc + 2 * (size_t)j->wo16 + x0), s2);                     \
            _mm512_storeu_si512((void *)(acc + 3 * (size_t)j->wo16 + x0), s3);                     \
        }                                                                                          \
    }

#define DP_VNNI(s, v, w) _mm512_dpwssd_epi32(s, v, w)
#define DP_BW(s, v, w) _mm512_add_epi32(s, _mm512_madd_epi16(v, w))
DIRECT_KERNEL(direct_rows_vnni, "avx512f,avx512bw,avx512vnni", DP_VNNI)
DIRECT_KERNEL(direct_rows_bw, "avx512f,avx512bw", DP_BW)

static void direct_task(void *arg, int task)
{
    const direct_job *j = arg;
    const nn_int_conv *l = j->l;
    int ho = j->y->h, wo = j->y->w;
    int32_t *acc = j->acc + (size_t)task * 4 * j->wo16;
    for (int oy = ho * task / j->ntasks; oy < ho * (task + 1) / j->ntasks; oy++)
        for (int o0 = 0; o0 < l->cout; o0 += 4) {
            int nb = l->cout - o0 < 4 ? l->cout - o0 : 4;
            if (j->vnni)
                direct_rows_vnni(j, oy, o0, nb, acc);
            else
                direct_rows_bw(j, oy, o0, nb, acc);
            for (int b = 0; b < nb; b++)
                rescale_row(l, o0 + b, acc + (size_t)b * j->wo16, wo,
                            j->y->data + ((size_t)(o0 + b) * ho + oy) * wo);
        }
}

/* lo and hi (int16 values) as the low and high halves of one int32: a vpdpwssd operand. */
static inline int32_t int16_pair(int32_t lo, int32_t hi)
{
    return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
}

/* wp [cout][cpn][kh][kw]: the weights of input channels 2 cp and 2 cp + 1 (zero past cin) as
 * the low and high int16 halves of one int32, the operand layout of vpdpwssd. */
static void pack_weight_pairs(const nn_int_conv *l, int cpn, int32_t *wp)
{
    int kk = l->kh * l->kw;
    for (int o = 0; o < l->cout; o++)
        for (int cp = 0; cp < cpn; cp++)
            for (int t = 0; t < kk; t++) {
                int32_t lo = weight(l, ((size_t)o * l->cin + 2 * cp) * kk + t);
                int32_t hi =
                    2 * cp + 1 < l->cin ? weight(l, ((size_t)o * l->cin + 2 * cp + 1) * kk + t) : 0;
                wp[((size_t)o * cpn + cp) * kk + t] = int16_pair(lo, hi);
            }
}

/* The direct path's input: channel ci is the low (even) or high half of pair ci / 2, inside
 * the zero border. One task per range of pairs, on the pool. */
typedef struct direct_prep_job {
    const nn_itensor *x;
    const nn_int_conv *l;
    int32_t *xi;
    int cpn, hp, wpad, ntasks;
} direct_prep_job;

static void direct_prep_task(void *arg, int task)
{
    const direct_prep_job *j = arg;
    const nn_itensor *x = j->x;
    const nn_conv_params *p = &j->l->p;
    for (int cp = j->cpn * task / j->ntasks; cp < j->cpn * (task + 1) / j->ntasks; cp++)
        for (int r = 0; r < x->h; r++) {
            const int16_t *s0 = x->data + ((size_t)2 * cp * x->h + r) * x->w;
            const int16_t *s1 = 2 * cp + 1 < j->l->cin ? s0 + (size_t)x->h * x->w : NULL;
            int32_t *dst = j->xi + ((size_t)cp * j->hp + r + p->pad_h) * j->wpad + p->pad_w;
            if (s1)
                for (int c = 0; c < x->w; c++)
                    dst[c] = int16_pair(s0[c], s1[c]);
            else
                for (int c = 0; c < x->w; c++)
                    dst[c] = int16_pair(s0[c], 0);
        }
}

/* Returns 0 when the path does not apply (the caller takes another). */
static int conv_direct(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y, int ho, int wo,
                       nn_pool *pool)
{
    const nn_conv_params *p = &l->p;
    if (x->n != 1 || ho != x->h || wo != x->w || 2 * p->pad_h != l->kh - 1 ||
        2 * p->pad_w != l->kw - 1 || !__builtin_cpu_supports("avx512f") ||
        !__builtin_cpu_supports("avx512bw"))
        return 0;
    int cpn = (l->cin + 1) / 2, hp = x->h + l->kh - 1, wo16 = (wo + 15) / 16 * 16;
    int wpad = wo16 + l->kw - 1; /* every 16-wide load stays inside the padded row */
    int ntasks = pool ? nn_pool_threads(pool) : 1;
    ntasks = ntasks < ho ? ntasks : ho;
    int32_t *xi = calloc((size_t)cpn * hp * wpad, sizeof(int32_t));
    int32_t *wp = malloc(sizeof(int32_t) * (size_t)l->cout * cpn * l->kh * l->kw);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)ntasks * 4 * wo16);
    if (!xi || !wp || !acc) {
        free(xi), free(wp), free(acc);
        return 0;
    }
    direct_prep_job pj = {x, l, xi, cpn, hp, wpad, ntasks < cpn ? ntasks : cpn};
    nn_pool_run(pj.ntasks > 1 ? pool : NULL, direct_prep_task, &pj, pj.ntasks);
    pack_weight_pairs(l, cpn, wp);
    y->n = 1, y->c = l->cout, y->h = ho, y->w = wo;
    direct_job j = {
        l, xi, wp, acc, y, cpn, hp, wpad, wo16, ntasks, __builtin_cpu_supports("avx512vnni")};
    nn_pool_run(pool, direct_task, &j, ntasks);
    free(xi), free(wp), free(acc);
    return 1;
}

/* The checkerboard variant of the direct path (nn_int_conv2d_checker): the outputs of one
 * parity of a row are every other column, so the zero-padded input is split by column parity
 * (plane t holds the padded columns 2 m + t at index m) and 16 outputs of a row read 16
 * contiguous values of one plane per tap. With a sparse input the taps that can only read zeros
 * are skipped (their products are 0: the same sums). Several layers on the same input share the
 * prepared input. */
enum { CHECKER_MAX_LAYERS = 4 };
typedef struct checker_job {
    const nn_int_conv *const *ls;
    const int32_t *xi;    /* [2][cpn][hp][wh] */
    int32_t **wp;         /* per layer: [cout][cpn][kh][kw] */
    int32_t *acc;         /* per task: 4 x wo16 */
    int16_t *tmp;         /* per task: wo16 */
    nn_itensor *ys;
    int nl, cpn, hp, wh, wo16, ntasks, vnni, parity, x_sparse;
} checker_job;

/* Two blocks of 16 outputs by four output channels per step: eight accumulators, so that each
 * loaded input vector and broadcast weight serves two multiply-adds. */
#define CHECKER_KERNEL(NAME, TARGET, DP)                                                           \
    __attribute__((target(TARGET))) static void NAME(const checker_job *j, const int32_t *wp,      \
                                                     int parity, int oy, int o0, int nb,           \
                                                     int32_t *acc)                                 \
    {                                                                                              \
        const nn_int_conv *l = j->ls[0];                                                           \
        int kh = l->kh, kw = l->kw, s = (parity + oy) & 1, mo = (j->ys[0].w - s + 1) / 2;          \
        int skip = j->x_sparse ? (parity + l->p.pad_h + l->p.pad_w) & 1 : -1;                      \
        size_t ostride = (size_t)j->cpn * kh * kw;                                                 \
        for (int m0 = 0; m0 < mo; m0 += 32) {                                                      \
            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;                        \
            __m512i t0 = s0, t1 = s0, t2 = s0, t3 = s0;                                            \
            for (int cp = 0; cp < j->cpn; cp++) {                                                  \
                const int32_t *w0 = wp + ((size_t)o0 * j->cpn + cp) * kh * kw;                     \
                for (int ky = 0; ky < kh; ky++)                                                    \
                    for (int kx = 0; kx < kw; kx++) {                                              \
                        if (((ky + kx) & 1) == (skip ^ 1)) continue;                               \
                        int t = (s + kx) & 1;                                                      \
                        const int32_t *row =                                                       \
                            j->xi + (((size_t)t * j->cpn + cp) * j->hp + oy + ky) * j->wh + m0 +   \
                            ((s + kx) >> 1);                                                       \
                        __m512i v = _mm512_loadu_si512((const void *)row);                         \
                        __m512i u = _mm512_loadu_si512((const void *)(row + 16));                  \
                        const int32_t *w = w0 + ky * kw + kx;                                      \
                        __m512i w_ = _mm512_set1_epi32(w[0]);                                      \
                        s0 = DP(s0, v, w_), t0 = DP(t0, u, w_);                                    \
                        if (nb > 1) {                                                              \
                            w_ = _mm512_set1_epi32(w[ostride]);                                    \
                            s1 = DP(s1, v, w_), t1 = DP(t1, u, w_);                                \
                        }                                                                          \
                        if (nb > 2) {                                                              \
                            w_ = _mm512_set1_epi32(w[2 * ostride]);                                \
                            s2 = DP(s2, v, w_), t2 = DP(t2, u, w_);                                \
                        }                                                                          \
                        if (nb > 3) {                                                              \
                            w_ = _mm512_set1_epi32(w[3 * ostride]);                                \
                            s3 = DP(s3, v, w_), t3 = DP(t3, u, w_);                                \
                        }                                                                          \
                    }                                                                              \
            }                                                                                      \
            int32_t *a0 = acc + m0;                                                                \
            _mm512_storeu_si512((void *)a0, s0);                                                   \
            _mm512_storeu_si512((void *)(a0 + 16), t0);                                            \
            _mm512_storeu_si512((void *)(a0 + j->wo16), s1);                                       \
            _mm512_storeu_si512((void *)(a0 + j->wo16 + 16), t1);                                  \
            _mm512_storeu_si512((void *)(a0 + 2 * (size_t)j->wo16), s2);                           \
            _mm512_storeu_si512((void *)(a0 + 2 * (size_t)j->wo16 + 16), t2);                      \
            _mm512_storeu_si512((void *)(a0 + 3 * (size_t)j->wo16), s3);                           \
            _mm512_storeu_si512((void *)(a0 + 3 * (size_t)j->wo16 + 16), t3);                      \
        }                                                                                          \
    }

CHECKER_KERNEL(checker_rows_vnni, "avx512f,avx512bw,avx512vnni", DP_VNNI)
CHECKER_KERNEL(checker_rows_bw, "avx512f,avx512bw", DP_BW)

static void checker_task(void *arg, int task)
{
    const checker_job *j = arg;
    int ho = j->ys[0].h, wo = j->ys[0].w;
    int32_t *acc = j->acc + (size_t)task * 4 * j->wo16;
    int16_t *tmp = j->tmp + (size_t)task * j->wo16;
    for (int oy = ho * task / j->ntasks; oy < ho * (task + 1) / j->ntasks; oy++)
        for (int parity = 0; parity < 2; parity++) {
            if (j->parity >= 0 && parity != j->parity) continue;
            int s = (parity + oy) & 1, mo = (wo - s + 1) / 2;
            for (int li = 0; li < j->nl; li++) {
                const nn_int_conv *l = j->ls[li];
                for (int o0 = 0; o0 < l->cout; o0 += 4) {
                    int nb = l->cout - o0 < 4 ? l->cout - o0 : 4;
                    if (j->vnni)
                        checker_rows_vnni(j, j->wp[li], parity, oy, o0, nb, acc);
                    else
                        checker_rows_bw(j, j->wp[li], parity, oy, o0, nb, acc);
                    for (int b = 0; b < nb; b++) {
                        int16_t *dst = j->ys[li].data + ((size_t)(o0 + b) * ho + oy) * wo;
                        rescale_row(l, o0 + b, acc + (size_t)b * j->wo16, mo, tmp);
                        for (int m = 0; m < mo; m++)
                            dst[2 * m + s] = tmp[m];
                    }
                }
            }
        }
}

/* The checkerboard path's input, split by column parity: channels 2 cp and 2 cp + 1 are the
 * low and high halves of pair cp (a missing last channel reads as zeros); padded column pc
 * goes to plane pc % 2, index pc / 2. One task per range of pairs, on the pool, each with the
 * largest input magnitude of its pairs. */
enum { CHECKER_MAX_TASKS = 64 };
typedef struct checker_prep_job {
    const nn_itensor *x;
    const nn_int_conv *l;
    int32_t *xi;
    int cpn, hp, wh, ntasks;
    int32_t amax[CHECKER_MAX_TASKS];
} checker_prep_job;

static void checker_prep_task(void *arg, int task)
{
    checker_prep_job *j = arg;
    const nn_itensor *x = j->x;
    const nn_conv_params *p = &j->l->p;
    size_t plane = (size_t)x->h * x->w;
    int32_t amax = 0;
    for (int cp = j->cpn * task / j->ntasks; cp < j->cpn * (task + 1) / j->ntasks; cp++)
        for (int r = 0; r < x->h; r++) {
            const int16_t *s0 = x->data + (size_t)2 * cp * plane + (size_t)r * x->w;
            const int16_t *s1 = 2 * cp + 1 < j->l->cin ? s0 + plane : NULL;
            int32_t lo = 0, hi = 0;
            for (int c = 0; c < x->w; c++) {
                lo = s0[c] < lo ? s0[c] : lo;
                hi = s0[c] > hi ? s0[c] : hi;
            }
            for (int c = 0; s1 && c < x->w; c++) {
                lo = s1[c] < lo ? s1[c] : lo;
                hi = s1[c] > hi ? s1[c] : hi;
            }
            amax = -lo > amax ? -lo : amax;
            amax = hi > amax ? hi : amax;
            for (int t = 0; t < 2; t++) {
                int c0 = (t + p->pad_w) & 1;
                int32_t *dst = j->xi + (((size_t)t * j->cpn + cp) * j->hp + r + p->pad_h) * j->wh +
                               ((c0 + p->pad_w) >> 1);
                int n = (x->w - c0 + 1) / 2;
                if (s1)
                    for (int m = 0; m < n; m++)
                        dst[m] = int16_pair(s0[c0 + 2 * m], s1[c0 + 2 * m]);
                else
                    for (int m = 0; m < n; m++)
                        dst[m] = int16_pair(s0[c0 + 2 * m], 0);
            }
        }
    j->amax[task] = amax;
}

/* Returns 0 when the path does not apply (the caller takes another). The layers have the same
 * cin, kernel and padding (checked by the caller). */
static int conv_checker(const nn_int_conv *const *ls, int nl, const nn_itensor *x,
                        nn_itensor *ys, int parity, int x_sparse, nn_pool *pool)
{
    const nn_int_conv *l = ls[0];
    const nn_conv_params *p = &l->p;
    if (x->n != 1 || 2 * p->pad_h != l->kh - 1 || 2 * p->pad_w != l->kw - 1 ||
        !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
        return 0;
    int ho = x->h, wo = x->w;
    /* wo16: the outputs of a row and parity rounded up to the kernel's step of 32 */
    int cpn = (l->cin + 1) / 2, hp = ho + l->kh - 1, wo16 = ((wo + 1) / 2 + 31) / 32 * 32;
    int wh = wo16 + l->kw / 2 + 1; /* every 16-wide load stays inside the padded plane row */
    int ntasks = pool ? nn_pool_threads(pool) : 1, kk = l->kh * l->kw, ok = 1;
    ntasks = ntasks < ho ? ntasks : ho;
    int32_t *xi = calloc((size_t)2 * cpn * hp * wh, sizeof(int32_t));
    int32_t *wp[CHECKER_MAX_LAYERS] = {0};
    for (int li = 0; li < nl; li++)
        ok &= (wp[li] = malloc(sizeof(int32_t) * (size_t)ls[li]->cout * cpn * kk)) != NULL;
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)ntasks * 4 * wo16);
    int16_t *tmp = malloc(sizeof(int16_t) * (size_t)ntasks * wo16);
    if (ok && xi && acc && tmp) {
        checker_prep_job pj = {x, l, xi, cpn, hp, wh, 0, {0}};
        int np = ntasks < cpn ? ntasks : cpn;
        np = np < CHECKER_MAX_TASKS ? np : CHECKER_MAX_TASKS;
        pj.ntasks = np;
        nn_pool_run(np > 1 ? pool : NULL, checker_prep_task, &pj, np);
        int32_t amax = 0; /* the input's largest magnitude, for the int32 bound */
        for (int t = 0; t < np; t++)
            amax = pj.amax[t] > amax ? pj.amax[t] : amax;
        for (int li = 0; li < nl && ok; li++)
            ok = bound_fits(ls[li], amax);
    }
    if (!ok || !xi || !acc || !tmp) {
        free(xi), free(acc), free(tmp);
        for (int li = 0; li < nl; li++)
            free(wp[li]);
        return 0;
    }
    for (int li = 0; li < nl; li++)
        pack_weight_pairs(ls[li], cpn, wp[li]);
    for (int li = 0; li < nl; li++)
        ys[li].n = 1, ys[li].c = ls[li]->cout, ys[li].h = ho, ys[li].w = wo;
    checker_job j = {ls,   xi, wp,  acc, tmp, ys, nl, cpn, hp, wh, wo16, ntasks,
                     __builtin_cpu_supports("avx512vnni"), parity, x_sparse};
    nn_pool_run(pool, checker_task, &j, ntasks);
    free(xi), free(acc), free(tmp);
    for (int li = 0; li < nl; li++)
        free(wp[li]);
    return 1;
}
#endif

/* Whether every sum of l on x provably fits in int32: |bias| + sum |w| * max |x| < 2^31 (a
 * plain conv, one group). */
static int sums_fit_int32(const nn_int_conv *l, const nn_itensor *x)
{
    size_t plane_in = (size_t)x->h * x->w;
    int64_t xmax = 0;
    for (size_t i = 0; i < (size_t)x->n * x->c * plane_in; i++) {
        int64_t a = x->data[i] < 0 ? -(int64_t)x->data[i] : x->data[i];
        if (a > xmax) xmax = a;
    }
    return bound_fits(l, xmax);
}

/* The fast path of the common case (plain conv: stride 1, dilation 1, one group): im2col of a
 * block of output positions, then int16 dot products accumulated in int32, the blocks spread
 * over the pool's threads (each output element is computed the same way whichever thread
 * does it). It is taken only when every sum provably fits in int32 (|bias| + sum |w| * max |x|
 * < 2^31), so its results are those of the int64 definition, exactly. Returns 0 when not
 * taken (or out of memory: the caller then runs the reference loops). */
static int conv_fast(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y, int ho, int wo,
                     nn_pool *pool)
{
    const nn_conv_params *p = &l->p;
    if (l->transposed || p->groups != 1 || p->stride_h != 1 || p->stride_w != 1 ||
        p->dilation_h != 1 || p->dilation_w != 1)
        return 0;
    if (!sums_fit_int32(l, x)) return 0;
    int k = l->cin * l->kh * l->kw;
#ifdef NN_INT_DIRECT
    if (conv_direct(l, x, y, ho, wo, pool)) return 1;
#endif
    int ntasks = pool ? nn_pool_threads(pool) : 1;
    int16_t *w16 = malloc(sizeof(int16_t) * (size_t)l->cout * k);
    int16_t *col = malloc(sizeof(int16_t) * (size_t)ntasks * FAST_BLOCK * k);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)ntasks * FAST_BLOCK * l->cout);
    if (!w16 || !col || !acc) {
        free(w16), free(col), free(acc);
        return 0;
    }
    for (size_t i = 0; i < (size_t)l->cout * k; i++)
        w16[i] = (int16_t)weight(l, i);
    fast_job jb = {l, x, y, w16, col, acc, wo, k, ntasks, (size_t)ho * wo};
    nn_pool_run(pool, fast_task, &jb, ntasks);
    free(w16), free(col), free(acc);
    return 1;
}

int nn_int_conv2d(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y)
{
    return nn_int_conv2d_pool(l, x, y, NULL);
}

int nn_int_conv2d_pool(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y, nn_pool *pool)
{
    int ho, wo, rc;
    if ((rc = nn_int_conv_check(l)) || !x || !x->data || !y || !y->data || x->c != l->cin ||
        x->n < 1 || x->h < 1 || x->w < 1)
        return rc ? rc : NN_ERR_ARG;
    if ((rc = nn_int_conv_out_size(l, x->h, x->w, &ho, &wo))) return rc;
    y->n = x->n, y->c = l->cout, y->h = ho, y->w = wo;
    if (conv_fast(l, x, y, ho, wo, pool)) return NN_OK;
    const nn_conv_params *p = &l->p;
    int g = p->groups, cg = l->cin / g, og = l->cout / g;
    y->n = x->n, y->c = l->cout, y->h = ho, y->w = wo;
    for (int b = 0; b < x->n; b++) {
        for (int o = 0; o < l->cout; o++) {
            int grp = o / og;
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    int64_t acc = l->bias ? l->bias[o] : 0;
                    for (int ci = grp * cg; ci < (grp + 1) * cg; ci++) {
                        const int16_t *xc = x->data + ((size_t)b * l->cin + ci) * x->h * x->w;
                        for (int ky = 0; ky < l->kh; ky++) {
                            for (int kx = 0; kx < l->kw; kx++) {
                                long iy, ix;
                                size_t wi;
                                if (l->transposed) {
                                    /* oy = iy stride - pad + ky dilation */
                                    long ty = (long)oy + p->pad_h - (long)ky * p->dilation_h;
                                    long tx = (long)ox + p->pad_w - (long)kx * p->dilation_w;
                                    if (ty < 0 || tx < 0 || ty % p->stride_h || tx % p->stride_w)
                                        continue;
                                    iy = ty / p->stride_h;
                                    ix = tx / p->stride_w;
                                    wi = (((size_t)ci * og + (size_t)(o - grp * og)) * l->kh + ky) *
                                             l->kw +
                                         kx;
                                } else {
                                    iy = (long)oy * p->stride_h - p->pad_h +
                                         (long)ky * p->dilation_h;
                                    ix = (long)ox * p->stride_w - p->pad_w +
                                         (long)kx * p->dilation_w;
                                    wi = (((size_t)o * cg + (size_t)(ci - grp * cg)) * l->kh + ky) *
                                             l->kw +
                                         kx;
                                }
                                if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) continue;
                                acc += (int64_t)weight(l, wi) * xc[(size_t)iy * x->w + ix];
                            }
                        }
                    }
                    y->data[(((size_t)b * l->cout + o) * ho + oy) * wo + ox] =
                        nn_int_rescale(acc, l->mult[o], l->shift[o], l->out_min, l->out_max);
                }
            }
        }
    }
    return NN_OK;
}

int nn_int_conv2d_checker(const nn_int_conv *const *ls, int nl, const nn_itensor *x,
                          nn_itensor *ys, int parity, int x_sparse, nn_pool *pool)
{
    int ho, wo, rc;
    if (!ls || nl < 1 || nl > 4 || !x || !x->data || !ys || x->n < 1 || x->h < 1 || x->w < 1 ||
        parity < -1 || parity > 1)
        return NN_ERR_ARG;
    for (int li = 0; li < nl; li++) {
        const nn_int_conv *l = ls[li];
        const nn_conv_params *p = &l->p;
        if ((rc = nn_int_conv_check(l))) return rc;
        if (!ys[li].data || l->cin != x->c || l->kh != ls[0]->kh || l->kw != ls[0]->kw ||
            p->pad_h != ls[0]->p.pad_h || p->pad_w != ls[0]->p.pad_w)
            return NN_ERR_ARG;
        if ((rc = nn_int_conv_out_size(l, x->h, x->w, &ho, &wo))) return rc;
        if (ho != x->h || wo != x->w || l->transposed || p->groups != 1 || p->stride_h != 1 ||
            p->stride_w != 1 || p->dilation_h != 1 || p->dilation_w != 1)
            return NN_ERR_ARG;
    }
#ifdef NN_INT_DIRECT
    if (conv_checker(ls, nl, x, ys, parity, x_sparse, pool)) return NN_OK;
#endif
    (void)x_sparse; /* the other paths compute every position */
    for (int li = 0; li < nl; li++)
        if ((rc = nn_int_conv2d_pool(ls[li], x, &ys[li], pool))) return rc;
    return NN_OK;
}

int nn_int_pixel_shuffle(const nn_itensor *x, int r, nn_itensor *y)
{
    if (!x || !y || !x->data || !y->data || r < 1 || x->c % (r * r)) return NN_ERR_ARG;
    int c = x->c / (r * r);
    y->n = x->n, y->c = c, y->h = x->h * r, y->w = x->w * r;
    for (int b = 0; b < x->n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++)
                    for (int yy = 0; yy < x->h; yy++)
                        for (int xx = 0; xx < x->w; xx++)
                            y->data[(((size_t)b * c + ch) * y->h + (size_t)yy * r + i) * y->w +
                                    (size_t)xx * r + j] =
                                x->data[((((size_t)b * c + ch) * r * r + (size_t)i * r + j) * x->h +
                                         yy) *
                                            x->w +
                                        xx];
    return NN_OK;
}
