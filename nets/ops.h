/* The op interface of nets/: what every backend implements, and the context that selects one.
 *
 * A backend is a folder (nets/ref/, nets/onednn/, ...) that fills an nn_ops table. The backend
 * is chosen once, when a context is created (nn_context_create), and every layer call goes
 * through ctx->ops; layers (nets/layers.h) check arguments and size the output before calling
 * the table, so a backend function may assume valid, preallocated arguments. A backend may
 * take any entry from the ref table (nn_ref_ops) where it has nothing faster.
 *
 * Conventions shared by every op: float32, row-major, NCHW images (NCL audio is NCHW with
 * H = 1). Weights follow PyTorch: conv2d OIHW with I = C_in / groups; transposed conv IOHW
 * with O = C_out / groups. Padding is zero padding of pad_h rows / pad_w columns on both sides.
 *
 * Reference arithmetic (ref backend, the definition of results): a conv, transposed conv or
 * matmul output is acc = 0; acc += w * x in order of input channel, kernel row, kernel column
 * (over the taps that reach an input sample; matmul: k ascending); y = acc + bias, each step
 * an IEEE float32 multiply or add (built with -ffp-contract=off: no FMA contraction). The
 * kernels vectorise across outputs only, so every CPU and thread count gives the same bits. */
#ifndef NECO_NETS_OPS_H
#define NECO_NETS_OPS_H
#include "nets/pool.h"
#include "nets/tensor.h"

#include <stddef.h>

typedef struct nn_context nn_context;

typedef struct nn_conv_params {
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int groups;
    int out_pad_h, out_pad_w; /* transposed conv only: extra rows/columns at the end */
} nn_conv_params;

/* C[b] = A[b] * op(B[b]) (+ bias): A is [batch][m][k]; B is [batch][n][k] when trans_b
 * (op(B) = B^T, the layout of linear-layer weights and of keys in attention) and [batch][k][n]
 * otherwise; C is [batch][m][n]; bias, when not NULL, has n entries added to every row.
 * b_shared: B has one matrix used for every batch entry. */
typedef struct nn_matmul_params {
    int batch, m, n, k;
    int trans_b;
    int b_shared;
} nn_matmul_params;

typedef enum nn_act {
    NN_ACT_RELU,
    NN_ACT_LEAKY_RELU, /* x >= 0 ? x : slope * x */
    NN_ACT_GELU,       /* exact (erf) form: 0.5 x (1 + erf(x / sqrt 2)), Hendrycks & Gimpel */
    NN_ACT_SILU,       /* x * sigmoid(x) */
} nn_act;

typedef struct nn_ops {
    const char *name;
    /* y = conv2d(x, w) + b. x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or NULL. */
    int (*conv2d)(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                  const nn_conv_params *p, nn_tensor *y);
    /* Transposed conv (the gradient of conv2d w.r.t. its input), PyTorch's ConvTranspose2d:
     * w [C, O/groups, KH, KW]; H_out = (H - 1) stride - 2 pad + dilation (KH - 1) + out_pad + 1. */
    int (*conv_transpose2d)(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                            const nn_conv_params *p, nn_tensor *y);
    int (*matmul)(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                  const float *bias, float *c);
    /* In-place activations on n floats. */
    int (*activation)(nn_context *ctx, nn_act act, float slope, float *x, size_t n);
    /* Snake (Ziyin et al. 2020, as in BigVGAN/DAC): x + 1/(alpha_c + 1e-9) sin^2(alpha_c x),
     * per channel; x [N, C, ...] in place. */
    int (*snake)(nn_context *ctx, nn_tensor *x, const float *alpha);
    /* GDN (Balle et al. 2016): y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2); inverse (IGDN):
     * y_i = x_i * sqrt(...). gamma [C][C] row i for output i, beta [C]; the effective
     * (already reparametrised) values, as CompressAI computes them. */
    int (*gdn)(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
               int inverse, nn_tensor *y);
    /* GroupNorm (Wu & He 2018): statistics over (C/groups, spatial) per sample and group;
     * biased variance; y = (x - mean) / sqrt(var + eps) * gamma_c + beta_c. In place. */
    int (*group_norm)(nn_context *ctx, nn_tensor *x, int groups, const float *gamma,
                      const float *beta, float eps);
    /* LayerNorm over channels at every position of [N, C, ...] (channels-first LN); for token
     * rows [rows, C] pass a 2-D tensor: then the last dimension is normalised. In place. */
    int (*layer_norm)(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta,
                      float eps);
    /* Token rows x [rows, C]: y = y + LayerNorm(x) (x unchanged), the same values as
     * layer_norm then add, in one pass (a Swin block's residual branches). */
    int (*layer_norm_add)(nn_context *ctx, const nn_tensor *x, const float *gamma,
                          const float *beta, float eps, nn_tensor *y);
    /* y = a + b elementwise (y may alias a or b). */
    int (*add)(nn_context *ctx, const float *a, const float *b, float *y, size_t n);
    /* Per-channel gain: x[n, c, ...] *= g[c] (+ bias[c] when not NULL). In place. */
    int (*channel_scale)(nn_context *ctx, nn_tensor *x, const float *g, const float *bias);
    /* The bias and activation after a conv run without its bias: x[n, c, ...] = act(x + b[c]),
     * in place (b NULL: act(x)); the same values as conv2d with the bias, then activation. */
    int (*bias_act)(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope);
    /* A residual branch's bias and the residual add: y = y + (x + b[c]) (b NULL: y + x); x and
     * y the same shape. The same values as conv2d with the bias, then add. */
    int (*bias_residual)(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y);
    /* Pixel shuffle (Shi et al. 2016), PyTorch order: [N, C r^2, H, W] -> [N, C, H r, W r],
     * y[c][h r + i][w r + j] = x[c r^2 + i r + j][h][w]. For [N, C r, L] -> [N, C, L r] (1-D),
     * y[c][l r + i] = x[c r + i][l]. */
    int (*pixel_shuffle)(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y);
    /* Optional (NULL: swin.c's host code on the pool): a Swin-V2 block's pieces between its
     * linear layers, for backends whose tensors live elsewhere. swin_rows: one image's map
     * img [C][H][W] to window-ordered token rows [nwin ws^2][C] (to_rows; row wi ws^2 + t is
     * window wi's token t of the map rolled by -shift) or back. window_attention: every
     * window's attention from qkv [nwin nt][3 C] (nt = ws^2, C = nh hd) into merged
     * [nwin nt][C], with bias [nh][nt][nt] and scale [nh], exactly as attention.h's plain
     * kernels compute it (swin.c swin_attention). */
    int (*swin_rows)(nn_context *ctx, float *img, float *rows, int c, int h, int w, int ws,
                     int shift, int to_rows);
    int (*window_attention)(nn_context *ctx, const float *qkv, const float *bias,
                            const float *scale, int c, int h, int w, int ws, int nh, int shift,
                            float *merged);
    /* Optional (NULL: nets/lifting97.c on the pool): the image models' CDF 9/7 lifting packet
     * of `levels` levels, forward or inverse (nn_lifting97: arguments checked; out is
     * (re)allocated by the op), with lifting97.c's bits. */
    int (*lifting97)(nn_context *ctx, const nn_tensor *in, int levels, int inverse, nn_tensor *out);
    /* Optional (NULL: nets/lifting97_1d.c): the audio models' 1-D packet, likewise
     * (nn_lifting97_1d). */
    int (*lifting97_1d)(nn_context *ctx, const nn_tensor *in, int levels, int inverse,
                        nn_tensor *out);
    /* Optional (NULL: every op has finished when it returns): waits for the work a backend's
     * ops left in flight (nn_context_sync). */
    int (*sync)(nn_context *ctx);
    /* Optional (NULL: malloc/free): where layer outputs and the context's work memory live.
     * The memory must be readable and writable by the host as well (the cuda backend's is
     * CUDA managed memory: it stays on the GPU between its ops and moves to the host when
     * host code touches it). release frees without a context, as nn_tensor_free does. */
    void *(*alloc)(nn_context *ctx, size_t bytes);
    void (*release)(void *p);
} nn_ops;

struct nn_context {
    const nn_ops *ops;
    nn_pool *pool; /* the ref kernels' threads (NULL when single-threaded) */
    int threads;
    void *backend; /* backend state (oneDNN engine, stream, primitive cache) */
    void (*backend_free)(void *backend);
    /* Work memory that layers keep between calls (swin.c: a block's buffers; nn_context_work),
     * grow-only, released with the context. */
    float *work;
    size_t work_cap; /* floats */
};

/* A context is used by one thread at a time (its pool runs one job at a time); threads that
 * run networks concurrently (e.g. one tile each) create one context each.
 * Creates a context for backend "ref" or "onednn" (when built), or the fastest available
 * when name is NULL or "auto". threads <= 0 uses 1. Returns NN_OK, NN_ERR_BACKEND (unknown or
 * failing backend, message in err) or NN_ERR_NOMEM. */
int nn_context_create(const char *name, int threads, nn_context **out, char *err, size_t errlen);
void nn_context_destroy(nn_context *ctx);
/* The context's work memory, at least n floats (contents unspecified; moved, not kept, when
 * it grows), or NULL when out of memory. Kept until the context is destroyed: the pages of a
 * fresh buffer cost a fault and a zeroing each on every call (with img-swin's Swin blocks,
 * about a quarter of its decode time). */
float *nn_context_work(nn_context *ctx, size_t n);
const char *nn_context_backend(const nn_context *ctx);
/* Waits until the context's ops have finished; host code calls it before it reads or writes
 * memory that ops produced or may still read (a no-op on the CPU backends; the cuda backend
 * leaves work in flight only when NECO_CUDA_ASYNC=1, an experiment for its first GPU run). */
int nn_context_sync(nn_context *ctx);
/* 1 when the named backend is compiled in (for cuda: whether or not a device is present). */
int nn_backend_available(const char *name);

/* The ref table (nets/ref/), which other backends may borrow entries from. */
extern const nn_ops nn_ref_ops;
#endif
