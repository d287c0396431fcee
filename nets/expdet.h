/* nn_exp_det's definition (attention.h), shared by the C kernels (attention.c) and the cuda
 * backend's (cuda/kernels.h, compiled by nvcc for the GPU): a fixed sequence of IEEE single
 * operations, hence the same bits on every machine built without FMA contraction. */
#ifndef NECO_NETS_EXPDET_H
#define NECO_NETS_EXPDET_H
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define NN_HD static inline __host__ __device__
#else
#define NN_HD static inline
#endif

#define EXP_LO -87.0f
#define EXP_HI 88.0f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_ROUND 12582912.0f /* 1.5 * 2^23: x + it - it rounds x to an integer */
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

NN_HD float nn_exp_det_inline(float x)
{
    int keep = x >= EXP_LO; /* 0 for NaN too */
    x = x >= EXP_LO ? x : EXP_LO;
    x = x <= EXP_HI ? x : EXP_HI;
    float r = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND; /* n = round(x / ln 2) */
    float f = x - r * EXP_LN2_HI;
    f = f - r * EXP_LN2_LO;
    float p = EXP_P0;
    p = p * f + EXP_P1;
    p = p * f + EXP_P2;
    p = p * f + EXP_P3;
    p = p * f + EXP_P4;
    p = p * f + EXP_P5;
    float y = p * (f * f) + f + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)r + 127) << 23; /* 2^n, n in [-126, 127] */
    float s;
    memcpy(&s, &bits, sizeof s);
    return keep ? y * s : 0.0f;
}
#endif
