/* Swin Transformer V2 block (Liu et al., "Swin Transformer V2: Scaling Up Capacity and
 * Resolution", CVPR 2022), as in the official swin_transformer_v2.py:
 *
 *   windows of window x window tokens, cyclically shifted by `shift` (Swin V1 section 3.2,
 *   with its attention mask: -100 between tokens of different regions of the shifted map);
 *   scaled cosine attention (V2 section 3.2, eq. 2): sim(q, k) = cos(q, k) * exp(min(t_h,
 *   log 100)) per head h, with F.normalize's eps 1e-12;
 *   log-spaced continuous relative position bias (V2 eq. 3-4): relative offsets divided by
 *   (window - 1), times 8, mapped by sign(x) log2(1 + |x|) / log2(8), fed to the CPB MLP
 *   Linear(2, cpb_hidden) -> ReLU -> Linear(cpb_hidden, heads, no bias), then 16 sigmoid();
 *   qkv projection with biases (q_bias, 0, v_bias);
 *   res-post-norm (V2 section 3.1): x = x + LN1(attn(x)); x = x + LN2(MLP(x)), LN eps 1e-5,
 *   MLP = Linear(dim, hidden) -> GELU (erf) -> Linear(hidden, dim).
 *
 * The block runs on an image tensor [N, dim, H, W] in place (tokens are the pixels, in
 * row-major order); H and W must be multiples of window. As in the reference code, the shift
 * is dropped when the map is no larger than one window. Weights are PyTorch's layouts. */
#ifndef NECO_NETS_SWIN_H
#define NECO_NETS_SWIN_H
#include "nets/ops.h"

typedef struct nn_swin_block {
    int dim, heads, window, shift, hidden, cpb_hidden;
    const float *qkv_w;       /* [3 dim][dim] */
    const float *q_bias;      /* [dim] */
    const float *v_bias;      /* [dim] */
    const float *logit_scale; /* [heads] (log of the scale, before the clamp) */
    const float *cpb_w1;      /* [cpb_hidden][2] */
    const float *cpb_b1;      /* [cpb_hidden] */
    const float *cpb_w2;      /* [heads][cpb_hidden] */
    const float *proj_w;      /* [dim][dim] */
    const float *proj_b;      /* [dim] */
    const float *norm1_w, *norm1_b, *norm2_w, *norm2_b; /* [dim] */
    const float *fc1_w;                                 /* [hidden][dim] */
    const float *fc1_b;                                 /* [hidden] */
    const float *fc2_w;                                 /* [dim][hidden] */
    const float *fc2_b;                                 /* [dim] */
} nn_swin_block;

/* The block's work memory (a few hundred MB on a large map) is the context's
 * (nn_context_work), kept across blocks, stages and calls: allocating it in every block cost
 * about 12 % of img-swin's decode time in page faults. */
int nn_swin_block_forward(nn_context *ctx, const nn_swin_block *blk, nn_tensor *x);
/* The same, keeping the shift on a map of a single window when keep_shift is 1 (img-swin's
 * train/models_swin.py shifts every odd block whatever the map size; train/ARCH.md "img-swin"). */
int nn_swin_block_forward_ex(nn_context *ctx, const nn_swin_block *blk, nn_tensor *x,
                             int keep_shift);

#endif
