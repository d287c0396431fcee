/* The cuda backend of nets/ (cuda.h; nets/README.md "Backends"): every op of ops.h on the GPU.
 * Convolutions and transposed convolutions on cuDNN (legacy API: forward and backward-data,
 * algorithms from cuDNN's heuristics restricted to deterministic FMA-math ones, no TF32),
 * matrix products on cuBLAS (strided batched SGEMM), everything else on the kernels of
 * kernels.h, all on one stream per context.
 *
 * Memory. The op interface passes host-visible pointers (host code reads and writes tensors
 * between ops: quantisers, entropy coding, wavelets), so this backend allocates layer outputs
 * and the context's work memory as CUDA managed memory (ops.h, nn_ops.alloc): a tensor made
 * by one op and read by the next stays on the device, and moves to the host only when host
 * code touches it. Each op then resolves its pointers: managed or device memory is used in
 * place; plain host memory is staged, inputs copied to a stream-ordered device buffer,
 * outputs copied back after the kernels; parameters (weights, biases, norms' gains) are kept
 * on the device between calls, keyed by address and size and checked against a host copy of
 * what was uploaded (memcmp), as onednn's weight cache does, so weights changed in place or
 * reallocated at the same address are uploaded again. Every op ends by synchronising its
 * stream, since host code may read its output next. */
#include "nets/cuda/cuda.h"
#include "nets/cuda/kernels.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace
{

enum { MAX_STAGED = 12, WEIGHT_SLOTS = 512, ALGO_SLOTS = 128, BLOCK = 256 };

struct weight_entry {
    const void *host;
    size_t bytes;
    void *dev;
    void *shadow; /* the host bytes the device copy was made from */
    unsigned long long used;
};

struct algo_key {
    int transposed, n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g, oh, ow;
};

struct algo_entry {
    algo_key key;
    int algo;
    size_t workspace;
    int valid;
};

struct backend {
    int async; /* NECO_CUDA_ASYNC=1: ops return with their work in flight (nn_context_sync) */
    cudaStream_t stream;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    weight_entry weights[WEIGHT_SLOTS];
    unsigned long long tick;
    algo_entry algos[ALGO_SLOTS];
    int next_algo;
};

struct staged {
    const void *host;
    void *dev;
    size_t bytes;
    int back; /* copied back to host after the op */
};

/* One op call: its staged buffers and its first error. */
struct op {
    backend *be;
    staged st[MAX_STAGED];
    int n;
    int rc;
};

backend *be_of(nn_context *ctx)
{
    return static_cast<backend *>(ctx->backend);
}

int fail(op *o, int rc)
{
    if (!o->rc) o->rc = rc;
    return rc;
}

bool cu_ok(op *o, cudaError_t e)
{
    if (e == cudaSuccess) return true;
    (void)cudaGetLastError();
    fail(o, e == cudaErrorMemoryAllocation ? NN_ERR_NOMEM : NN_ERR_BACKEND);
    return false;
}

bool dnn_ok(op *o, cudnnStatus_t s)
{
    if (s == CUDNN_STATUS_SUCCESS) return true;
    fail(o, s == CUDNN_STATUS_ALLOC_FAILED ? NN_ERR_NOMEM : NN_ERR_BACKEND);
    return false;
}

bool device_accessible(const void *p)
{
    cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return at.type == cudaMemoryTypeManaged || at.type == cudaMemoryTypeDevice;
}

void *stage(op *o, const void *host, size_t bytes, bool upload, bool back)
{
    if (o->rc) return NULL;
    if (device_accessible(host)) return const_cast<void *>(host);
    if (o->n == MAX_STAGED) {
        fail(o, NN_ERR_BACKEND);
        return NULL;
    }
    void *d = NULL;
    if (!cu_ok(o, cudaMallocAsync(&d, bytes ? bytes : 1, o->be->stream))) return NULL;
    o->st[o->n++] = staged{host, d, bytes, back ? 1 : 0};
    if (upload && !cu_ok(o, cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, o->be->stream)))
        return NULL;
    return d;
}

const float *in(op *o, const float *p, size_t n)
{
    return static_cast<const float *>(stage(o, p, n * sizeof(float), true, false));
}

float *out(op *o, float *p, size_t n)
{
    return static_cast<float *>(stage(o, p, n * sizeof(float), false, true));
}

float *inout(op *o, float *p, size_t n)
{
    return static_cast<float *>(stage(o, p, n * sizeof(float), true, true));
}

/* A parameter's device copy (NULL stays NULL: an optional parameter left out). */
const float *param(op *o, const float *p, size_t n)
{
    if (!p || o->rc) return NULL;
    if (device_accessible(p)) return p;
    backend *be = o->be;
    size_t bytes = n * sizeof(float);
    weight_entry *e = NULL, *lru = &be->weights[0];
    for (int i = 0; i < WEIGHT_SLOTS && !e; i++) {
        weight_entry *c = &be->weights[i];
        if (c->host == p && c->bytes == bytes) e = c;
        if (c->used < lru->used) lru = c;
    }
    if (e && memcmp(e->shadow, p, bytes) == 0) {
        e->used = ++be->tick;
        return static_cast<const float *>(e->dev);
    }
    if (!e) { /* a new parameter: the least recently used slot (or an empty one) */
        e = lru;
        if (e->dev) (void)cudaFree(e->dev); /* waits for the work that may still read it */
        free(e->shadow);
        *e = weight_entry{NULL, 0, NULL, NULL, 0};
        void *d = NULL, *s = malloc(bytes ? bytes : 1);
        if (!s) {
            fail(o, NN_ERR_NOMEM);
            return NULL;
        }
        if (!cu_ok(o, cudaMalloc(&d, bytes ? bytes : 1))) {
            free(s);
            return NULL;
        }
        *e = weight_entry{p, bytes, d, s, 0};
    } else {
        (void)cudaStreamSynchronize(be->stream); /* the old copy may still be read */
    }
    memcpy(e->shadow, p, bytes);
    e->used = ++be->tick;
    if (!cu_ok(o, cudaMemcpyAsync(e->dev, e->shadow, bytes, cudaMemcpyHostToDevice, be->stream)))
        return NULL;
    return static_cast<const float *>(e->dev);
}

/* Ends an op: launch errors, outputs copied back to the host, the stream synchronised, the
 * staging buffers released. */
int finish(op *o)
{
    backend *be = o->be;
    if (!o->rc) cu_ok(o, cudaGetLastError());
    int copies_back = 0;
    for (int i = 0; i < o->n; i++) {
        copies_back |= o->st[i].back;
        if (!o->rc && o->st[i].back)
            cu_ok(o, cudaMemcpyAsync(const_cast<void *>(o->st[i].host), o->st[i].dev,
                                     o->st[i].bytes, cudaMemcpyDeviceToHost, be->stream));
    }
    /* Without copies back to the host, an async context leaves the work in flight: host code
     * calls nn_context_sync before it touches what the op made (ops.h). Staging buffers are
     * freed in stream order either way. */
    if (!be->async || copies_back || o->rc) {
        cudaError_t e = cudaStreamSynchronize(be->stream);
        if (e != cudaSuccess) cu_ok(o, e);
    }
    for (int i = 0; i < o->n; i++)
        (void)cudaFreeAsync(o->st[i].dev, be->stream);
    o->n = 0;
    return o->rc;
}

#define NN_GRID(name)                                                                              \
    __global__ void g_##name(size_t n, name##_args a)                                              \
    {                                                                                              \
        for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;                      \
             i += (size_t)gridDim.x * blockDim.x)                                                  \
            name(i, &a);                                                                           \
    }

NN_GRID(k_act)
NN_GRID(k_scale)
NN_GRID(k_bias_cols)
NN_GRID(k_residual)
NN_GRID(k_add)
NN_GRID(k_snake)
NN_GRID(k_shuffle)
NN_GRID(k_gdn)
NN_GRID(k_ln_chan)
NN_GRID(k_ln_rows)
NN_GRID(k_swin_rows)
NN_GRID(k_attn_norm)
NN_GRID(k_attn)
NN_GRID(k_l97)

/* The three GroupNorm kernels share k_gn_args. */
typedef k_gn_args k_gn_part_args, k_gn_stats_args, k_gn_apply_args;
NN_GRID(k_gn_part)
NN_GRID(k_gn_stats)
NN_GRID(k_gn_apply)

template <class A> void launch(op *o, void (*g)(size_t, A), size_t n, const A &a)
{
    if (o->rc || n == 0) return;
    size_t blocks = (n + BLOCK - 1) / BLOCK;
    if (blocks > (1u << 20)) blocks = 1u << 20; /* the grid-stride loop covers the rest */
    g<<<(unsigned)blocks, BLOCK, 0, o->be->stream>>>(n, a);
    cu_ok(o, cudaGetLastError());
}

size_t numel(const nn_tensor *t) /* nn_tensor_numel: the module links nothing of neco's */
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

size_t spatial(const nn_tensor *x)
{
    size_t s = 1;
    for (int i = 2; i < x->ndim; i++)
        s *= (size_t)x->shape[i];
    return s;
}

/* ---- convolutions (cuDNN) ---- */

struct conv_desc {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t c;
};

void conv_desc_free(conv_desc *d)
{
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
    if (d->w) cudnnDestroyFilterDescriptor(d->w);
    if (d->c) cudnnDestroyConvolutionDescriptor(d->c);
}

/* The first entry of cuDNN's ranking that the rule below accepts, else the fallback. */
template <class Perf, class Algo>
Algo pick(const Perf *perf, int got, Algo fallback, Algo fft, Algo fft_tiling)
{
    for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
            perf[i].mathType != CUDNN_TENSOR_OP_MATH &&
            perf[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && perf[i].algo != fft &&
            perf[i].algo != fft_tiling)
            return perf[i].algo;
    return fallback;
}

/* The algorithm of a layer shape: the first of cuDNN's heuristic ranking that succeeds, is
 * deterministic, uses no tensor-core math (the descriptor asks for FMA math: no TF32, whose
 * 10-bit mantissa inputs would be far outside ops.h's results) and is not FFT-based (whose
 * error grows with the transform size); else implicit GEMM / backward-data ALGO_1.
 * Chosen from the shape alone, never by timing, and cached per context. */
algo_entry *conv_algo(op *o, const algo_key &k, conv_desc *d)
{
    backend *be = o->be;
    for (int i = 0; i < ALGO_SLOTS; i++)
        if (be->algos[i].valid && memcmp(&be->algos[i].key, &k, sizeof k) == 0)
            return &be->algos[i];
    algo_entry *e = &be->algos[be->next_algo];
    be->next_algo = (be->next_algo + 1) % ALGO_SLOTS;
    e->valid = 0;
    e->key = k;
    int got = 0;
    size_t ws = 0;
    if (!k.transposed) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        if (cudnnGetConvolutionForwardAlgorithm_v7(be->dnn, d->x, d->w, d->c, d->y,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                   perf) != CUDNN_STATUS_SUCCESS)
            got = 0;
        cudnnConvolutionFwdAlgo_t algo =
            pick(perf, got, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                 CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING);
        if (!dnn_ok(o, cudnnGetConvolutionForwardWorkspaceSize(be->dnn, d->x, d->w, d->c, d->y,
                                                               algo, &ws)))
            return NULL;
        e->algo = (int)algo;
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        if (cudnnGetConvolutionBackwardDataAlgorithm_v7(be->dnn, d->w, d->x, d->c, d->y,
                                                        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got,
                                                        perf) != CUDNN_STATUS_SUCCESS)
            got = 0;
        cudnnConvolutionBwdDataAlgo_t algo =
            pick(perf, got, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING);
        if (!dnn_ok(o, cudnnGetConvolutionBackwardDataWorkspaceSize(be->dnn, d->w, d->x, d->c, d->y,
                                                                    algo, &ws)))
            return NULL;
        e->algo = (int)algo;
    }
    e->workspace = ws;
    e->valid = 1;
    return e;
}

/* conv2d (x -> y) or transposed conv (x is the "dy" of cuDNN's backward data, y its "dx"). The
 * filter descriptor is w's shape in both cases: [O][C/g] forward, [C][O/g] transposed. */
int conv(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
         const nn_conv_params *p, nn_tensor *y, int transposed)
{
    op o = {be_of(ctx), {}, 0, 0};
    backend *be = o.be;
    const float *dx = in(&o, x->data, numel(x));
    const float *dw = param(&o, w->data, numel(w));
    const float *db = param(&o, b, (size_t)y->shape[1]);
    float *dy = out(&o, y->data, numel(y));
    conv_desc d = {NULL, NULL, NULL, NULL};
    void *ws = NULL;
    algo_key k = {transposed,    x->shape[0],   x->shape[1], x->shape[2], x->shape[3], y->shape[1],
                  w->shape[2],   w->shape[3],   p->stride_h, p->stride_w, p->pad_h,    p->pad_w,
                  p->dilation_h, p->dilation_w, p->groups,   y->shape[2], y->shape[3]};
    if (!o.rc && dnn_ok(&o, cudnnCreateTensorDescriptor(&d.x)) &&
        dnn_ok(&o, cudnnCreateTensorDescriptor(&d.y)) &&
        dnn_ok(&o, cudnnCreateFilterDescriptor(&d.w)) &&
        dnn_ok(&o, cudnnCreateConvolutionDescriptor(&d.c)) &&
        dnn_ok(&o, cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, x->shape[0],
                                              x->shape[1], x->shape[2], x->shape[3])) &&
        dnn_ok(&o, cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, y->shape[0],
                                              y->shape[1], y->shape[2], y->shape[3])) &&
        dnn_ok(&o, cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, w->shape[0],
                                              w->shape[1], w->shape[2], w->shape[3])) &&
        dnn_ok(&o, cudnnSetConvolution2dDescriptor(d.c, p->pad_h, p->pad_w, p->stride_h,
                                                   p->stride_w, p->dilation_h, p->dilation_w,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) &&
        dnn_ok(&o, cudnnSetConvolutionGroupCount(d.c, p->groups)) &&
        dnn_ok(&o, cudnnSetConvolutionMathType(d.c, CUDNN_FMA_MATH))) {
        algo_entry *a = conv_algo(&o, k, &d);
        if (a && (a->workspace == 0 || cu_ok(&o, cudaMallocAsync(&ws, a->workspace, be->stream)))) {
            const float one = 1.0f, zero = 0.0f;
            if (!transposed)
                dnn_ok(&o, cudnnConvolutionForward(be->dnn, &one, d.x, dx, d.w, dw, d.c,
                                                   (cudnnConvolutionFwdAlgo_t)a->algo, ws,
                                                   a->workspace, &zero, d.y, dy));
            else
                dnn_ok(&o, cudnnConvolutionBackwardData(be->dnn, &one, d.w, dw, d.x, dx, d.c,
                                                        (cudnnConvolutionBwdDataAlgo_t)a->algo, ws,
                                                        a->workspace, &zero, d.y, dy));
        }
    }
    if (db) launch(&o, g_k_scale, numel(y), k_scale_args{dy, NULL, db, spatial(y), y->shape[1]});
    if (ws) (void)cudaFreeAsync(ws, be->stream);
    int rc = finish(&o);
    conv_desc_free(&d);
    return rc;
}

int cuda_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                const nn_conv_params *p, nn_tensor *y)
{
    return conv(ctx, x, w, b, p, y, 0);
}

int cuda_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                          const nn_conv_params *p, nn_tensor *y)
{
    return conv(ctx, x, w, b, p, y, 1);
}

/* ---- matrix products (cuBLAS, column-major: C^T = op(B)^T A^T) ---- */

int cuda_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                const float *bias, float *c)
{
    op o = {be_of(ctx), {}, 0, 0};
    size_t m = (size_t)p->m, n = (size_t)p->n, k = (size_t)p->k, batch = (size_t)p->batch;
    size_t bcount = (p->b_shared ? 1 : batch) * n * k;
    const float *da = in(&o, a, batch * m * k);
    /* B^T shared by the batch is a linear layer's weight matrix: a parameter */
    const float *dbm = p->trans_b && p->b_shared ? param(&o, b, bcount) : in(&o, b, bcount);
    const float *dbias = param(&o, bias, n);
    float *dc = out(&o, c, batch * m * n);
    if (!o.rc) {
        const float one = 1.0f, zero = 0.0f;
        cublasStatus_t s = cublasSgemmStridedBatched(
            o.be->blas, p->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, p->n, p->m, p->k, &one,
            dbm, p->trans_b ? p->k : p->n, p->b_shared ? 0 : (long long)(n * k), da, p->k,
            (long long)(m * k), &zero, dc, p->n, (long long)(m * n), p->batch);
        if (s != CUBLAS_STATUS_SUCCESS)
            fail(&o, s == CUBLAS_STATUS_ALLOC_FAILED ? NN_ERR_NOMEM : NN_ERR_BACKEND);
    }
    if (dbias) launch(&o, g_k_bias_cols, batch * m * n, k_bias_cols_args{dc, dbias, n});
    return finish(&o);
}

/* ---- elementwise, norms, shuffles (kernels.h) ---- */

int cuda_activation(nn_context *ctx, nn_act act, float slope, float *x, size_t n)
{
    op o = {be_of(ctx), {}, 0, 0};
    float *dx = inout(&o, x, n);
    launch(&o, g_k_act, n, k_act_args{dx, NULL, 1, 1, (int)act, slope});
    return finish(&o);
}

int cuda_snake(nn_context *ctx, nn_tensor *x, const float *alpha)
{
    op o = {be_of(ctx), {}, 0, 0};
    float *dx = inout(&o, x->data, numel(x));
    const float *da = param(&o, alpha, (size_t)x->shape[1]);
    launch(&o, g_k_snake, numel(x), k_snake_args{dx, da, spatial(x), x->shape[1]});
    return finish(&o);
}

int cuda_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
             int inverse, nn_tensor *y)
{
    op o = {be_of(ctx), {}, 0, 0};
    size_t c = (size_t)x->shape[1];
    const float *dx = in(&o, x->data, numel(x));
    const float *dg = param(&o, gamma, c * c), *dbeta = param(&o, beta, c);
    float *dy = out(&o, y->data, numel(y));
    launch(&o, g_k_gdn, numel(x), k_gdn_args{dx, dg, dbeta, dy, spatial(x), x->shape[1], inverse});
    return finish(&o);
}

int cuda_group_norm(nn_context *ctx, nn_tensor *x, int groups, const float *gamma,
                    const float *beta, float eps)
{
    op o = {be_of(ctx), {}, 0, 0};
    size_t c = (size_t)x->shape[1], s = spatial(x), n = c / (size_t)groups * s;
    size_t q = (size_t)x->shape[0] * (size_t)groups, chunks = (n + K_GN_CHUNK - 1) / K_GN_CHUNK;
    float *dx = inout(&o, x->data, numel(x));
    const float *dg = param(&o, gamma, c), *db = param(&o, beta, c);
    void *buf = NULL;
    if (!o.rc)
        cu_ok(&o, cudaMallocAsync(&buf, (q * chunks + 2 * q) * sizeof(double), o.be->stream));
    double *part = static_cast<double *>(buf);
    k_gn_args a = {dx,          dg,     db, part, part ? part + q * chunks : NULL, n, chunks, s,
                   x->shape[1], groups, 0,  eps};
    launch(&o, g_k_gn_part, q * chunks, a);
    launch(&o, g_k_gn_stats, q, a);
    a.second = 1;
    launch(&o, g_k_gn_part, q * chunks, a);
    launch(&o, g_k_gn_stats, q, a);
    launch(&o, g_k_gn_apply, q * n, a);
    if (buf) (void)cudaFreeAsync(buf, o.be->stream);
    return finish(&o);
}

int cuda_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta, float eps)
{
    op o = {be_of(ctx), {}, 0, 0};
    float *dx = inout(&o, x->data, numel(x));
    const float *dg = param(&o, gamma, (size_t)x->shape[1]);
    const float *db = param(&o, beta, (size_t)x->shape[1]);
    if (x->ndim == 2)
        launch(&o, g_k_ln_rows, (size_t)x->shape[0],
               k_ln_rows_args{dx, NULL, dg, db, eps, x->shape[1]});
    else
        launch(&o, g_k_ln_chan, (size_t)x->shape[0] * spatial(x),
               k_ln_chan_args{dx, dg, db, eps, spatial(x), x->shape[1]});
    return finish(&o);
}

int cuda_layer_norm_add(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
                        float eps, nn_tensor *y)
{
    op o = {be_of(ctx), {}, 0, 0};
    /* k_ln_rows reads x only, but takes it as float *: the staged copy or x's own memory */
    float *dx = const_cast<float *>(in(&o, x->data, numel(x)));
    float *dy = inout(&o, y->data, numel(y));
    const float *dg = param(&o, gamma, (size_t)x->shape[1]),
                *db = param(&o, beta, (size_t)x->shape[1]);
    launch(&o, g_k_ln_rows, (size_t)x->shape[0], k_ln_rows_args{dx, dy, dg, db, eps, x->shape[1]});
    return finish(&o);
}

int cuda_add(nn_context *ctx, const float *a, const float *b, float *y, size_t n)
{
    op o = {be_of(ctx), {}, 0, 0};
    const float *da = in(&o, a, n), *db = in(&o, b, n);
    float *dy = out(&o, y, n);
    launch(&o, g_k_add, n, k_add_args{da, db, dy});
    return finish(&o);
}

int cuda_channel_scale(nn_context *ctx, nn_tensor *x, const float *g, const float *bias)
{
    op o = {be_of(ctx), {}, 0, 0};
    float *dx = inout(&o, x->data, numel(x));
    const float *dg = param(&o, g, (size_t)x->shape[1]), *db = param(&o, bias, (size_t)x->shape[1]);
    launch(&o, g_k_scale, numel(x), k_scale_args{dx, dg, db, spatial(x), x->shape[1]});
    return finish(&o);
}

int cuda_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope)
{
    op o = {be_of(ctx), {}, 0, 0};
    float *dx = inout(&o, x->data, numel(x));
    const float *db = param(&o, b, (size_t)x->shape[1]);
    launch(&o, g_k_act, numel(x), k_act_args{dx, db, spatial(x), x->shape[1], (int)act, slope});
    return finish(&o);
}

int cuda_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y)
{
    op o = {be_of(ctx), {}, 0, 0};
    const float *dx = in(&o, x->data, numel(x));
    const float *db = param(&o, b, (size_t)x->shape[1]);
    float *dy = inout(&o, y->data, numel(y));
    launch(&o, g_k_residual, numel(x), k_residual_args{dx, db, dy, spatial(x), x->shape[1]});
    return finish(&o);
}

int cuda_pixel_shuffle(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y)
{
    op o = {be_of(ctx), {}, 0, 0};
    const float *dx = in(&o, x->data, numel(x));
    float *dy = out(&o, y->data, numel(y));
    int one_d = x->ndim == 3;
    k_shuffle_args a = {
        dx, dy, y->shape[1], one_d ? 1 : x->shape[2], one_d ? x->shape[2] : x->shape[3], r, one_d};
    launch(&o, g_k_shuffle, numel(y), a);
    return finish(&o);
}

int cuda_swin_rows(nn_context *ctx, float *img, float *rows, int c, int h, int w, int ws, int shift,
                   int to_rows)
{
    op o = {be_of(ctx), {}, 0, 0};
    size_t n = (size_t)c * h * w; /* every pixel is in exactly one window */
    float *di = to_rows ? const_cast<float *>(in(&o, img, n)) : out(&o, img, n);
    float *dr = to_rows ? out(&o, rows, n) : const_cast<float *>(in(&o, rows, n));
    launch(&o, g_k_swin_rows, n,
           k_swin_rows_args{di, dr, (size_t)h * w, c, h, w, ws, shift, to_rows});
    return finish(&o);
}

int cuda_window_attention(nn_context *ctx, const float *qkv, const float *bias, const float *scale,
                          int c, int h, int w, int ws, int nh, int shift, float *merged)
{
    int nt = ws * ws;
    if (nt > K_ATTN_MAX_NT) return NN_ERR_ARG;
    op o = {be_of(ctx), {}, 0, 0};
    size_t rows = (size_t)h * w;
    const float *dq = in(&o, qkv, rows * 3 * (size_t)c);
    const float *db = in(&o, bias, (size_t)nh * nt * nt), *ds = in(&o, scale, (size_t)nh);
    float *dm = out(&o, merged, rows * (size_t)c);
    void *qk = NULL; /* the normalised q and k, [rows][2 c] */
    if (!o.rc) cu_ok(&o, cudaMallocAsync(&qk, rows * 2 * (size_t)c * sizeof(float), o.be->stream));
    float *dqk = static_cast<float *>(qk);
    launch(&o, g_k_attn_norm, rows * (size_t)nh * 2, k_attn_norm_args{dq, dqk, c, nh});
    launch(&o, g_k_attn, rows * (size_t)nh,
           k_attn_args{dq, dqk, db, ds, dm, c, h, w, ws, nh, shift});
    if (qk) (void)cudaFreeAsync(qk, o.be->stream);
    return finish(&o);
}

int cuda_sync(nn_context *ctx)
{
    op o = {be_of(ctx), {}, 0, 0};
    cu_ok(&o, cudaStreamSynchronize(o.be->stream));
    return o.rc;
}

/* Managed memory beyond what the device has free can hang the GPU (not only the process) on
 * these drivers: a request larger than half the free device memory is refused as out of
 * memory instead. */
void *cuda_alloc(nn_context *ctx, size_t bytes)
{
    (void)ctx;
    size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess || bytes > free_bytes / 2) {
        (void)cudaGetLastError();
        return NULL;
    }
    void *p = NULL;
    if (cudaMallocManaged(&p, bytes ? bytes : 1, cudaMemAttachGlobal) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

void cuda_release(void *p)
{
    if (p) (void)cudaFree(p);
}

/* The lifting packets, 2-D (kernels.h K_L97_FORWARD / INVERSE per level) or 1-D (the _1D
 * sequences): levels ping-pong between two device buffers, the last writes the output,
 * allocated here as layers' are. */
int lifting(nn_context *ctx, const nn_tensor *src, int levels, int inverse, nn_tensor *dst,
            int one_d)
{
    int shape[4];
    k_l97_out_shape(src->shape, levels, inverse, one_d, shape);
    size_t n = numel(src);
    float *y = static_cast<float *>(cuda_alloc(ctx, n * sizeof(float)));
    if (!y) return NN_ERR_NOMEM;
    op o = {be_of(ctx), {}, 0, 0};
    const float *dx = in(&o, src->data, n);
    void *buf = NULL;
    if (!o.rc) cu_ok(&o, cudaMallocAsync(&buf, 3 * n * sizeof(float), o.be->stream));
    float *t = static_cast<float *>(buf), *ping[2] = {t ? t + n : NULL, t ? t + 2 * n : NULL};
    if (levels == 0 && !o.rc)
        cu_ok(&o, cudaMemcpyAsync(y, dx, n * sizeof(float), cudaMemcpyDefault, o.be->stream));
    for (int l = 0; l < levels && !o.rc; l++) {
        k_l97_args a = one_d ? k_l97_1d_level(dx, t, ping, y, src->shape, n, levels, inverse, l)
                             : k_l97_level(dx, t, ping, y, src->shape, n, levels, inverse, l);
        const k_l97_step *steps = one_d ? (inverse ? K_L97_INVERSE_1D : K_L97_FORWARD_1D)
                                        : (inverse ? K_L97_INVERSE : K_L97_FORWARD);
        int nsteps = one_d ? (inverse ? 7 : 6) : 11;
        for (int k = 0; k < nsteps; k++) {
            a.op = steps[k].op, a.sub = steps[k].sub, a.k = steps[k].k;
            launch(&o, g_k_l97, k_l97_count(&a), a);
        }
    }
    if (buf) (void)cudaFreeAsync(buf, o.be->stream);
    int rc = finish(&o);
    if (rc) {
        cuda_release(y);
        return rc;
    }
    if (dst->owns) /* nn_tensor_free, which the module does not link */
        dst->release ? dst->release(dst->data) : free(dst->data);
    dst->data = y, dst->owns = 1, dst->release = cuda_release, dst->ndim = one_d ? 3 : 4;
    memcpy(dst->shape, shape, sizeof shape);
    return NN_OK;
}

int cuda_lifting97(nn_context *ctx, const nn_tensor *src, int levels, int inverse, nn_tensor *dst)
{
    return lifting(ctx, src, levels, inverse, dst, 0);
}

int cuda_lifting97_1d(nn_context *ctx, const nn_tensor *src, int levels, int inverse,
                      nn_tensor *dst)
{
    return lifting(ctx, src, levels, inverse, dst, 1);
}

void backend_free(void *v)
{
    backend *be = static_cast<backend *>(v);
    if (!be) return;
    if (be->stream) (void)cudaStreamSynchronize(be->stream);
    for (int i = 0; i < WEIGHT_SLOTS; i++) {
        if (be->weights[i].dev) (void)cudaFree(be->weights[i].dev);
        free(be->weights[i].shadow);
    }
    if (be->blas) cublasDestroy(be->blas);
    if (be->dnn) cudnnDestroy(be->dnn);
    if (be->stream) (void)cudaStreamDestroy(be->stream);
    free(be);
}

int say(char *err, size_t errlen, int rc, const char *what, const char *why)
{
    if (err && errlen) snprintf(err, errlen, "backend 'cuda': %s (%s)", what, why);
    return rc;
}

const nn_ops cuda_ops = {
    .name = "cuda",
    .conv2d = cuda_conv2d,
    .conv_transpose2d = cuda_conv_transpose2d,
    .matmul = cuda_matmul,
    .activation = cuda_activation,
    .snake = cuda_snake,
    .gdn = cuda_gdn,
    .group_norm = cuda_group_norm,
    .layer_norm = cuda_layer_norm,
    .layer_norm_add = cuda_layer_norm_add,
    .add = cuda_add,
    .channel_scale = cuda_channel_scale,
    .bias_act = cuda_bias_act,
    .bias_residual = cuda_bias_residual,
    .pixel_shuffle = cuda_pixel_shuffle,
    .swin_rows = cuda_swin_rows,
    .window_attention = cuda_window_attention,
    .lifting97 = cuda_lifting97,
    .lifting97_1d = cuda_lifting97_1d,
    .sync = cuda_sync,
    .alloc = cuda_alloc,
    .release = cuda_release,
};

int cuda_devices(char *name, size_t namelen)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    cudaDeviceProp pr;
    if (n > 0 && name && namelen && cudaGetDeviceProperties(&pr, 0) == cudaSuccess)
        snprintf(name, namelen, "%s", pr.name);
    return n;
}

int cuda_init(nn_context *ctx, char *err, size_t errlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return say(err, errlen, NN_ERR_BACKEND, "no CUDA device", cudaGetErrorString(e));
    }
    if (n < 1) return say(err, errlen, NN_ERR_BACKEND, "no CUDA device", "none found");
    int managed = 0;
    if (cudaSetDevice(0) != cudaSuccess ||
        cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, 0) != cudaSuccess || !managed) {
        (void)cudaGetLastError();
        return say(err, errlen, NN_ERR_BACKEND, "device 0 cannot be used", "no managed memory");
    }
    backend *be = static_cast<backend *>(calloc(1, sizeof *be));
    if (!be) return NN_ERR_NOMEM;
    const char *why = NULL;
    if ((e = cudaStreamCreateWithFlags(&be->stream, cudaStreamNonBlocking)) != cudaSuccess)
        why = cudaGetErrorString(e);
    else if (cublasCreate(&be->blas) != CUBLAS_STATUS_SUCCESS ||
             cublasSetStream(be->blas, be->stream) != CUBLAS_STATUS_SUCCESS ||
             cublasSetMathMode(be->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)
        why = "cuBLAS does not start";
    else if (cudnnCreate(&be->dnn) != CUDNN_STATUS_SUCCESS ||
             cudnnSetStream(be->dnn, be->stream) != CUDNN_STATUS_SUCCESS)
        why = "cuDNN does not start";
    if (why) {
        (void)cudaGetLastError();
        backend_free(be);
        return say(err, errlen, NN_ERR_BACKEND, "cannot start", why);
    }
    /* Stream-ordered staging buffers come from the device's default pool; keep what it has
     * (the default threshold 0 returns memory to the driver at every synchronisation). */
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
        uint64_t keep = UINT64_MAX;
        (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    (void)cudaGetLastError();
    const char *async = getenv("NECO_CUDA_ASYNC");
    be->async = async && strcmp(async, "1") == 0;
    ctx->backend = be;
    ctx->backend_free = backend_free;
    return NN_OK;
}

const nn_cuda_module cuda_module = {&cuda_ops, cuda_init, cuda_devices};

} // namespace

extern "C" __attribute__((visibility("default"))) const nn_cuda_module *
nn_cuda_module_get(int abi, size_t ops_size, size_t context_size, size_t tensor_size)
{
    if (abi != NN_CUDA_MODULE_ABI || ops_size != sizeof(nn_ops) ||
        context_size != sizeof(nn_context) || tensor_size != sizeof(nn_tensor))
        return NULL;
    return &cuda_module;
}
