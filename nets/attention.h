/* The kernels of a Swin window's attention (swin.c), one query row at a time: the scores
 * q k^T, the softmax of the scaled scores plus position bias and shift mask, and the weighted
 * sum of the values. Each has a plain C form, which defines its result, and where the CPU has
 * AVX-512 a vector form that gives the same bits (tests/test_nets_ref.c "attention").
 *
 * Sums: the products run from 0 in k order with a multiply, then an add (no FMA), as
 * nn_matmul on ref (ops.h). The softmax's sum of exponentials is defined on 16 lanes: lane l
 * adds the elements l, l + 16, l + 32, ... in order, then the lanes are combined by halves
 * (l + 8, then l + 4, l + 2, l + 1); its exponential is nn_exp_det; the division by the sum
 * is applied to the weighted sum of the values (hd divisions instead of nt). All are fixed
 * sequences of IEEE single operations, so the attention is the same on every machine (the C
 * library's expf, which it used before, is not). The vector forms take several rows at once
 * (independent sums in flight; one row's chain of dependent additions left the vector units
 * waiting). */
#ifndef NECO_NETS_ATTENTION_H
#define NECO_NETS_ATTENTION_H
#include <stddef.h>

/* e^x for finite x in single precision, within 2 ulp of the exact value (Cody & Waite
 * reduction by ln 2 in two parts, then the degree-6 polynomial of Cephes' expf on
 * [-ln 2 / 2, ln 2 / 2], scaled by 2^n through the exponent bits). x below -87 (where e^x is
 * under 1.7e-38) gives 0, NaN gives 0, x above 88 gives e^88. Plain IEEE single operations
 * in a fixed order: the same result on every machine and compiler (-ffp-contract=off). */
float nn_exp_det(float x);

typedef struct nn_attn_kernels {
    /* The heads of one window's token rows qkv [nt][3 c] (c = nh hd: q, k, v side by side,
     * head h in channels h hd .. h hd + hd - 1 of each): q [nh][nt][hd] and k transposed
     * [nh][hd][nt], both L2-normalised as F.normalize (x / max(|x|, 1e-12), the sum of squares
     * on 8 lanes: lane l adds the squares of elements l, l + 8, ..., then halves are
     * combined), and v [nh][nt][hd]. hd <= NN_ATTN_MAX_HEAD_DIM. */
    void (*split_heads)(const float *qkv, int nt, int nh, int hd, float *q, float *kt, float *v);
    /* rows[r][t] = sum_d q[r][d] kt[d][t] for r < nrows, t < nt: the scores of nrows queries
     * (q [nrows][hd]; kt: the keys transposed, [hd][nt]; rows [nrows][nt]). */
    void (*scores)(const float *q, const float *kt, int hd, int nt, int nrows, float *rows);
    /* x[t] = row[t] scale + bias[t], plus -100 where lab (when not NULL) has lab[t] != li;
     * row[t] = e^(x[t] - max x); returns sum_t row[t] (on lanes, above). */
    float (*softmax)(float *row, const float *bias, const int *lab, int li, float scale, int nt);
    /* o[r][d] = (sum_t a[r][t] v[t][d]) / sum[r] for r < nrows, d < hd: the softmax's
     * normalisation applied to the weighted sum (a [nrows][nt]; v [nt][hd]; o rows ostride
     * apart). */
    void (*weighted)(const float *a, const float *v, const float *sum, int nt, int hd, int nrows,
                     float *o, size_t ostride);
} nn_attn_kernels;

/* Largest head size (dim / heads) the kernels take (img-swin: 24 and 32). */
#define NN_ATTN_MAX_HEAD_DIM 256

/* The heads of one window's token rows qkv [nt][3 c] (c = nh hd: q, k, v side by side, head h
 * in channels h hd .. h hd + hd - 1 of each): q [nh][nt][hd] and k transposed [nh][hd][nt],
 * both L2-normalised as F.normalize (x / max(|x|, 1e-12), the sum of squares on 8 lanes:
 * lane l adds the squares of elements l, l + 8, ..., then halves are combined), and v
 * [nh][nt][hd]. hd <= NN_ATTN_MAX_HEAD_DIM. */
void nn_attn_split_heads(const float *qkv, int nt, int nh, int hd, float *q, float *kt, float *v);

/* The plain kernels (simd 0) or the fastest this CPU runs (simd 1). */
void nn_attn_kernels_get(nn_attn_kernels *k, int simd);
#endif
