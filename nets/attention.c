/* Window-attention kernels (see attention.h). The vector forms repeat the plain forms'
 * operations one for one (multiply then add, the same constants, the same lane order), so
 * they give the same bits. */
#include "nets/attention.h"
#include "nets/expdet.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

float nn_exp_det(float x)
{
    return nn_exp_det_inline(x);
}

enum { LANES = 16, ROW_MAX = 64 }; /* ROW_MAX: outputs per pass of the plain products */

enum { NORM_LANES = 8 };

/* acc[0] after combining n lanes by halves: lane l + n/2 into l, then l + n/4, ... (n a power
 * of two). The vector forms end with the same additions. */
static float halves_total(float *acc, int n)
{
    for (int w = n / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = acc[l] + acc[l + w];
    return acc[0];
}

/* dst = src / max(|src|, 1e-12), the squares summed on NORM_LANES lanes (attention.h). */
static void l2_normalized(const float *src, int n, float *dst)
{
    float acc[NORM_LANES] = {0};
    int n8 = n / NORM_LANES * NORM_LANES;
    for (int i = 0; i < n8; i += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++)
            acc[l] += src[i + l] * src[i + l];
    for (int i = n8; i < n; i++)
        acc[i - n8] += src[i] * src[i];
    float d = sqrtf(halves_total(acc, NORM_LANES));
    if (d < 1e-12f) d = 1e-12f;
    for (int i = 0; i < n; i++)
        dst[i] = src[i] / d;
}

typedef void (*normalize_fn)(const float *src, int n, float *dst);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
#include <immintrin.h>

/* halves_total of 8 lanes: lane l + 4 into l, then l + 2, then l + 1. */
__attribute__((target("avx"))) static inline float halves_total8(__m256 acc)
{
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

/* The first min(n, 8) lanes. */
static __mmask8 lanes8(int n) { return (__mmask8)(n >= 8 ? 0xff : (1u << n) - 1); }

/* l2_normalized on 8 lanes of a ymm register: the same operations in the same order. */
__attribute__((target("avx512f,avx512vl"))) static void l2_normalized_avx512(const float *src,
                                                                             int n, float *dst)
{
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += NORM_LANES) {
        __mmask8 m = lanes8(n - i);
        __m256 x = _mm256_maskz_loadu_ps(m, src + i); /* past n: +0, which changes no sum */
        acc = _mm256_add_ps(acc, _mm256_mul_ps(x, x));
    }
    float d = sqrtf(halves_total8(acc));
    if (d < 1e-12f) d = 1e-12f;
    __m256 vd = _mm256_set1_ps(d);
    for (int i = 0; i < n; i += NORM_LANES) {
        __mmask8 m = lanes8(n - i);
        _mm256_mask_storeu_ps(dst + i, m, _mm256_div_ps(_mm256_maskz_loadu_ps(m, src + i), vd));
    }
}
#endif

static void split_heads(normalize_fn norm, const float *qkv, int nt, int nh, int hd, float *q,
                        float *kt, float *v)
{
    int c = nh * hd;
    float kn[NN_ATTN_MAX_HEAD_DIM];
    for (int hh = 0; hh < nh; hh++) {
        float *qh = q + (size_t)hh * nt * hd, *kh = kt + (size_t)hh * nt * hd;
        float *vh = v + (size_t)hh * nt * hd;
        for (int t = 0; t < nt; t++) {
            const float *src = qkv + (size_t)t * 3 * c + (size_t)hh * hd;
            norm(src, hd, qh + (size_t)t * hd);
            norm(src + c, hd, kn);
            for (int d = 0; d < hd; d++)
                kh[(size_t)d * nt + t] = kn[d];
            memcpy(vh + (size_t)t * hd, src + 2 * c, sizeof(float) * (size_t)hd);
        }
    }
}

static void split_heads_plain(const float *qkv, int nt, int nh, int hd, float *q, float *kt,
                              float *v)
{
    split_heads(l2_normalized, qkv, nt, nh, hd, q, kt, v);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
static void split_heads_avx512(const float *qkv, int nt, int nh, int hd, float *q, float *kt,
                               float *v)
{
    split_heads(l2_normalized_avx512, qkv, nt, nh, hd, q, kt, v);
}
#endif

/* out[j] = sum_i x[i] m[i][j] for j < cols (m [k][cols]), ROW_MAX outputs per pass. */
static void row_product(const float *x, int k, const float *m, int cols, float *out)
{
    for (int c0 = 0; c0 < cols; c0 += ROW_MAX) {
        int n = cols - c0 < ROW_MAX ? cols - c0 : ROW_MAX;
        float acc[ROW_MAX] = {0};
        for (int i = 0; i < k; i++) {
            float xi = x[i];
            const float *mr = m + (size_t)i * cols + c0;
            for (int j = 0; j < n; j++)
                acc[j] += xi * mr[j];
        }
        memcpy(out + c0, acc, (size_t)n * sizeof(float));
    }
}

static void scores_plain(const float *q, const float *kt, int hd, int nt, int nrows, float *rows)
{
    for (int r = 0; r < nrows; r++)
        row_product(q + (size_t)r * hd, hd, kt, nt, rows + (size_t)r * nt);
}

static void weighted_plain(const float *a, const float *v, const float *sum, int nt, int hd,
                           int nrows, float *o, size_t ostride)
{
    float acc[NN_ATTN_MAX_HEAD_DIM];
    for (int r = 0; r < nrows; r++) {
        row_product(a + (size_t)r * nt, nt, v, hd, acc);
        for (int d = 0; d < hd; d++)
            o[(size_t)r * ostride + d] = acc[d] / sum[r];
    }
}

static float softmax_plain(float *row, const float *bias, const int *lab, int li, float scale,
                           int nt)
{
    float mx = -INFINITY;
    for (int t = 0; t < nt; t++) {
        float x = row[t] * scale + bias[t];
        if (lab && lab[t] != li) x = x + -100.0f;
        row[t] = x;
        mx = x > mx ? x : mx;
    }
    float acc[LANES] = {0};
    for (int t = 0; t < nt; t++) {
        float e = nn_exp_det(row[t] - mx);
        row[t] = e;
        acc[t % LANES] += e;
    }
    return halves_total(acc, LANES);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
/* acc += x v: a multiply, then an add (no FMA: the rounding of the plain loops) */
#define MAC(acc, x, v) (acc) = _mm512_add_ps((acc), _mm512_mul_ps((x), (v)))

static __mmask16 lanes_of(int n) { return (__mmask16)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1); }

/* Two query rows by 64 outputs (eight vectors) in registers per pass (named, not arrays:
 * GCC kept arrays of accumulators on the stack). */
AVX512 static void scores_avx512(const float *q, const float *kt, int hd, int nt, int nrows,
                                 float *rows)
{
    for (int r = 0; r < nrows; r += 2) {
        int two = r + 1 < nrows;
        const float *q0 = q + (size_t)r * hd, *q1 = two ? q0 + hd : q0;
        for (int t0 = 0; t0 < nt; t0 += 64) {
            int n = nt - t0;
            __mmask16 m0 = lanes_of(n), m1 = lanes_of(n - 16), m2 = lanes_of(n - 32),
                      m3 = lanes_of(n - 48);
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int d = 0; d < hd; d++) {
                __m512 x0 = _mm512_set1_ps(q0[d]), x1 = _mm512_set1_ps(q1[d]);
                const float *kr = kt + (size_t)d * nt + t0;
                __m512 k0 = _mm512_maskz_loadu_ps(m0, kr), k1 = _mm512_maskz_loadu_ps(m1, kr + 16);
                __m512 k2 = _mm512_maskz_loadu_ps(m2, kr + 32), k3 = _mm512_maskz_loadu_ps(m3, kr + 48);
                MAC(a0, x0, k0), MAC(a1, x0, k1), MAC(a2, x0, k2), MAC(a3, x0, k3);
                MAC(b0, x1, k0), MAC(b1, x1, k1), MAC(b2, x1, k2), MAC(b3, x1, k3);
            }
            float *o = rows + (size_t)r * nt + t0;
            _mm512_mask_storeu_ps(o, m0, a0);
            _mm512_mask_storeu_ps(o + 16, m1, a1);
            _mm512_mask_storeu_ps(o + 32, m2, a2);
            _mm512_mask_storeu_ps(o + 48, m3, a3);
            if (two) {
                o += nt;
                _mm512_mask_storeu_ps(o, m0, b0);
                _mm512_mask_storeu_ps(o + 16, m1, b1);
                _mm512_mask_storeu_ps(o + 32, m2, b2);
                _mm512_mask_storeu_ps(o + 48, m3, b3);
            }
        }
    }
}

/* Four rows by 32 outputs (eight vectors) per pass. */
AVX512 static void weighted_avx512(const float *a, const float *v, const float *sum, int nt,
                                   int hd, int nrows, float *o, size_t ostride)
{
    for (int r0 = 0; r0 < nrows; r0 += 4) {
        int nr = nrows - r0 < 4 ? nrows - r0 : 4;
        const float *a0 = a + (size_t)r0 * nt, *a1 = nr > 1 ? a0 + nt : a0;
        const float *a2 = nr > 2 ? a0 + 2 * (size_t)nt : a0, *a3 = nr > 3 ? a0 + 3 * (size_t)nt : a0;
        for (int d0 = 0; d0 < hd; d0 += 32) {
            int n = hd - d0;
            __mmask16 m0 = lanes_of(n), m1 = lanes_of(n - 16);
            __m512 s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00;
            __m512 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
            for (int t = 0; t < nt; t++) {
                const float *vr = v + (size_t)t * hd + d0;
                __m512 v0 = _mm512_maskz_loadu_ps(m0, vr), v1 = _mm512_maskz_loadu_ps(m1, vr + 16);
                __m512 x0 = _mm512_set1_ps(a0[t]), x1 = _mm512_set1_ps(a1[t]);
                __m512 x2 = _mm512_set1_ps(a2[t]), x3 = _mm512_set1_ps(a3[t]);
                MAC(s00, x0, v0), MAC(s01, x0, v1), MAC(s10, x1, v0), MAC(s11, x1, v1);
                MAC(s20, x2, v0), MAC(s21, x2, v1), MAC(s30, x3, v0), MAC(s31, x3, v1);
            }
            __m512 lo[4] = {s00, s10, s20, s30}, hi[4] = {s01, s11, s21, s31};
            for (int k = 0; k < nr; k++) {
                __m512 sk = _mm512_set1_ps(sum[r0 + k]);
                float *ok = o + (size_t)(r0 + k) * ostride + d0;
                _mm512_mask_storeu_ps(ok, m0, _mm512_div_ps(lo[k], sk));
                _mm512_mask_storeu_ps(ok + 16, m1, _mm512_div_ps(hi[k], sk));
            }
        }
    }
}

/* nn_exp_det on 16 lanes. */
AVX512 static __m512 exp_avx512(__m512 x)
{
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LO), _CMP_GE_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(EXP_LO)); /* x > lo ? x : lo; NaN -> lo */
    x = _mm512_min_ps(x, _mm512_set1_ps(EXP_HI));
    __m512 r = _mm512_sub_ps(
        _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), _mm512_set1_ps(EXP_ROUND)),
        _mm512_set1_ps(EXP_ROUND));
    __m512 f = _mm512_sub_ps(x, _mm512_mul_ps(r, _mm512_set1_ps(EXP_LN2_HI)));
    f = _mm512_sub_ps(f, _mm512_mul_ps(r, _mm512_set1_ps(EXP_LN2_LO)));
    __m512 p = _mm512_set1_ps(EXP_P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(EXP_P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(EXP_P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(EXP_P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(EXP_P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, f), _mm512_set1_ps(EXP_P5));
    __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(f, f)), f),
                             _mm512_set1_ps(1.0f));
    __m512i n = _mm512_cvtps_epi32(r); /* r is an integer: exact in any rounding mode */
    __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    return _mm512_maskz_mov_ps(keep, _mm512_mul_ps(y, s));
}

AVX512 static float softmax_avx512(float *row, const float *bias, const int *lab, int li,
                                   float scale, int nt)
{
    __m512 vs = _mm512_set1_ps(scale), vmx = _mm512_set1_ps(-INFINITY);
    for (int t = 0; t < nt; t += LANES) {
        __mmask16 m = lanes_of(nt - t);
        __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + t), vs),
                                 _mm512_maskz_loadu_ps(m, bias + t));
        if (lab) {
            __mmask16 other = _mm512_mask_cmpneq_epi32_mask(
                m, _mm512_maskz_loadu_epi32(m, lab + t), _mm512_set1_epi32(li));
            x = _mm512_mask_add_ps(x, other, x, _mm512_set1_ps(-100.0f));
        }
        _mm512_mask_storeu_ps(row + t, m, x);
        vmx = _mm512_mask_max_ps(vmx, m, x, vmx); /* x > max ? x : max, per lane */
    }
    /* the maximum does not depend on the order it is taken in */
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < nt; t += LANES) {
        __mmask16 m = lanes_of(nt - t);
        __m512 e = _mm512_maskz_mov_ps(m, exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + t), mx)));
        _mm512_mask_storeu_ps(row + t, m, e);
        acc = _mm512_add_ps(acc, e); /* lanes past nt add +0, which changes no sum */
    }
    return halves_total8(_mm256_add_ps(
        _mm512_castps512_ps256(acc),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1))));
}
#endif

void nn_attn_kernels_get(nn_attn_kernels *k, int simd)
{
    k->split_heads = split_heads_plain;
    k->scores = scores_plain, k->softmax = softmax_plain, k->weighted = weighted_plain;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_CLONES)
    if (simd && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
        k->split_heads = split_heads_avx512;
        k->scores = scores_avx512, k->softmax = softmax_avx512, k->weighted = weighted_avx512;
    }
#else
    (void)simd;
#endif
}
