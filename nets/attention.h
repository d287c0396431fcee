/* The kernels of a Swin window's attention (swin.c), one query row at a time: the scores
 * q k^T, the softmax of the scaled scores plus position bias and shift mask, and the weighted
 * sum of the values. Each has a plain C form, which defines its result, and where the CPU has
 * AVX-512 a vector form that gives the same bits (tests/test_nets_ref.c "attention").
 *
 * Sums: the products run from 0 in k order with a multiply, then an add (no FMA), as
 * nn_matmul on ref (ops.h). The softmax's sum of exponentials is defined on 16 lanes: lane l
 * adds the elements l, l + 16, l + 32, ... in order, then the lanes are combined by halves
 * (l + 8, then l + 4, l + 2, l + 1); its exponential is nn_exp_det. Both are fixed sequences
 * of IEEE single operations, so the softmax is the same on every machine (the C library's
 * expf, which it used before, is not). */
#ifndef NECO_NETS_ATTENTION_H
#define NECO_NETS_ATTENTION_H

/* e^x for finite x in single precision, within 2 ulp of the exact value (Cody & Waite
 * reduction by ln 2 in two parts, then the degree-6 polynomial of Cephes' expf on
 * [-ln 2 / 2, ln 2 / 2], scaled by 2^n through the exponent bits). x below -87 (where e^x is
 * under 1.7e-38) gives 0, NaN gives 0, x above 88 gives e^88. Plain IEEE single operations
 * in a fixed order: the same result on every machine and compiler (-ffp-contract=off). */
float nn_exp_det(float x);

typedef struct nn_attn_kernels {
    /* row[t] = sum_d q[d] kt[d * nt + t], t < nt (kt: the keys transposed, [hd][nt]). */
    void (*scores)(const float *q, const float *kt, int hd, int nt, float *row);
    /* x[t] = row[t] scale + bias[t], plus -100 where lab (when not NULL) has lab[t] != li;
     * row[t] = e^(x[t] - max x) / sum_t e^(x[t] - max x), the sum on lanes (above). */
    void (*softmax)(float *row, const float *bias, const int *lab, int li, float scale, int nt);
    /* o[d] = sum_t a[t] v[t * hd + d], d < hd. */
    void (*weighted)(const float *a, const float *v, int nt, int hd, float *o);
} nn_attn_kernels;

/* The plain kernels (simd 0) or the fastest this CPU runs (simd 1). */
void nn_attn_kernels_get(nn_attn_kernels *k, int simd);
#endif
