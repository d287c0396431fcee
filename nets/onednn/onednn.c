/* oneDNN backend (see onednn.h), on oneDNN's C API.
 *
 * Compatibility: Debian 12 ships oneDNN 2.6; oneDNN 3.x replaced the op descriptors
 * (dnnl_*_desc_init + dnnl_primitive_desc_create) by dnnl_*_primitive_desc_create and made
 * memory descriptors opaque handles. The md_* and *_pd helpers below are the only places that
 * differ; everything else is common to both.
 *
 * Layouts: the convolutions are created with format "any", so oneDNN picks its fast blocked
 * layouts (e.g. nChw16c on AVX-512); the plain NCHW/OIHW user buffers are reordered in and out
 * when the chosen layout differs. oneDNN caches primitives itself (primitive cache, on by
 * default), so re-creating one for a shape seen before is cheap. Threads: oneDNN uses its own
 * OpenMP runtime; the context's thread count is applied to it around each call (see
 * threads_enter), not through the ref pool. */
#define _POSIX_C_SOURCE 200809L
#include "nets/onednn/onednn.h"

#include "nets/ref/ref.h"

#include <dnnl.h>
#if defined(__linux__) && defined(DNNL_CPU_RUNTIME) && DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
#include <dlfcn.h>
#define NN_DNNL_OMP 1
#endif
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct onednn_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads;
    /* OpenMP's omp_get_max_threads / omp_set_num_threads, found at run time in the OpenMP
     * library that libdnnl loaded (so neco links no OpenMP library itself); NULL when absent. */
    int (*omp_get)(void);
    void (*omp_set)(int);
} onednn_state;

/* oneDNN (OpenMP runtime) sizes its parallel regions, and the primitives it creates, from the
 * calling thread's nthreads ICV. That ICV is per thread, so setting it for the duration of a
 * call and restoring it afterwards applies the context's thread count without touching any
 * other thread or leaving state behind. Returns the value to restore (0: nothing to do). */
static int threads_enter(const onednn_state *s)
{
    if (!s->omp_get || !s->omp_set) return 0;
    int old = s->omp_get();
    if (old == s->threads) return 0;
    s->omp_set(s->threads);
    return old;
}

static void threads_leave(const onednn_state *s, int old)
{
    if (old > 0) s->omp_set(old);
}

#if DNNL_VERSION_MAJOR >= 3
typedef dnnl_memory_desc_t md_t; /* an opaque handle, owned */
typedef const_dnnl_memory_desc_t md_cptr;
#define MD(m) (m)
static int md_tag(md_t *m, int nd, const dnnl_dims_t d, dnnl_format_tag_t tag)
{
    return dnnl_memory_desc_create_with_tag(m, nd, d, dnnl_f32, tag) == dnnl_success;
}
static int md_strides(md_t *m, int nd, const dnnl_dims_t d, const dnnl_dims_t s)
{
    return dnnl_memory_desc_create_with_strides(m, nd, d, dnnl_f32, s) == dnnl_success;
}
static void md_free(md_t *m)
{
    if (*m) dnnl_memory_desc_destroy(*m);
    *m = NULL;
}
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, int transposed,
                             md_cptr src, md_cptr w, md_cptr b, md_cptr dst,
                             const dnnl_dims_t strides, const dnnl_dims_t dil, const dnnl_dims_t pl,
                             const dnnl_dims_t pr)
{
    if (transposed)
        return dnnl_deconvolution_forward_primitive_desc_create(pd, eng, dnnl_forward_inference,
                                                                dnnl_deconvolution_direct, src, w,
                                                                b, dst, strides, dil, pl, pr, NULL);
    return dnnl_convolution_forward_primitive_desc_create(pd, eng, dnnl_forward_inference,
                                                          dnnl_convolution_direct, src, w, b, dst,
                                                          strides, dil, pl, pr, NULL);
}
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, md_cptr a, md_cptr b,
                               md_cptr bias, md_cptr c)
{
    return dnnl_matmul_primitive_desc_create(pd, eng, a, b, bias, c, NULL);
}
#else
typedef dnnl_memory_desc_t md_t; /* a plain struct */
typedef const dnnl_memory_desc_t *md_cptr;
#define MD(m) (&(m))
static int md_tag(md_t *m, int nd, const dnnl_dims_t d, dnnl_format_tag_t tag)
{
    return dnnl_memory_desc_init_by_tag(m, nd, d, dnnl_f32, tag) == dnnl_success;
}
static int md_strides(md_t *m, int nd, const dnnl_dims_t d, const dnnl_dims_t s)
{
    return dnnl_memory_desc_init_by_strides(m, nd, d, dnnl_f32, s) == dnnl_success;
}
static void md_free(md_t *m)
{
    (void)m;
}
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, int transposed,
                             md_cptr src, md_cptr w, md_cptr b, md_cptr dst,
                             const dnnl_dims_t strides, const dnnl_dims_t dil, const dnnl_dims_t pl,
                             const dnnl_dims_t pr)
{
    dnnl_convolution_desc_t d; /* dnnl_deconvolution_desc_t is the same type */
    dnnl_status_t st =
        transposed ? dnnl_dilated_deconvolution_forward_desc_init(&d, dnnl_forward_inference,
                                                                  dnnl_deconvolution_direct, src, w,
                                                                  b, dst, strides, dil, pl, pr)
                   : dnnl_dilated_convolution_forward_desc_init(&d, dnnl_forward_inference,
                                                                dnnl_convolution_direct, src, w, b,
                                                                dst, strides, dil, pl, pr);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, NULL, eng, NULL);
}
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, md_cptr a, md_cptr b,
                               md_cptr bias, md_cptr c)
{
    dnnl_matmul_desc_t d;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, a, b, bias, c);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, NULL, eng, NULL);
}
#endif

static void state_free(void *p)
{
    onednn_state *s = p;
    if (!s) return;
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->engine) dnnl_engine_destroy(s->engine);
    free(s);
}

int nn_onednn_init(nn_context *ctx, char *err, size_t errlen)
{
    onednn_state *s = calloc(1, sizeof *s);
    if (!s) return NN_ERR_NOMEM;
    if (dnnl_engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags) != dnnl_success) {
        state_free(s);
        if (err && errlen) snprintf(err, errlen, "oneDNN: cannot create a CPU engine and stream");
        return NN_ERR_BACKEND;
    }
    s->threads = ctx->threads;
#ifdef NN_DNNL_OMP
    /* POSIX dlsym returns an object pointer; converting it to a function pointer is the
     * documented use (POSIX.1-2008 XSH 2.12.3). */
    void *get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (get && set) {
        memcpy(&s->omp_get, &get, sizeof get);
        memcpy(&s->omp_set, &set, sizeof set);
    }
#endif
    ctx->backend = s;
    ctx->backend_free = state_free;
    return NN_OK;
}

/* A buffer in the layout a primitive chose: the user's own when it is the same as the plain
 * layout, otherwise an aligned scratch filled (inputs) or drained (outputs) by a reorder. */
typedef struct io {
    dnnl_memory_t user, mem;
    void *scratch;
} io;

static void io_free(io *b)
{
    if (b->mem && b->mem != b->user) dnnl_memory_destroy(b->mem);
    if (b->user) dnnl_memory_destroy(b->user);
    free(b->scratch);
    memset(b, 0, sizeof *b);
}

static int run_reorder(onednn_state *s, dnnl_memory_t from, dnnl_memory_t to)
{
    md_cptr fmd, tmd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    int ok = 0;
    if (dnnl_memory_get_memory_desc(from, &fmd) != dnnl_success ||
        dnnl_memory_get_memory_desc(to, &tmd) != dnnl_success)
        return 0;
    if (dnnl_reorder_primitive_desc_create(&pd, fmd, s->engine, tmd, s->engine, NULL) ==
            dnnl_success &&
        dnnl_primitive_create(&p, pd) == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        ok = dnnl_primitive_execute(p, s->stream, 2, args) == dnnl_success &&
             dnnl_stream_wait(s->stream) == dnnl_success;
    }
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* Sets up b for a user buffer with plain descriptor user_md and the primitive's chosen md. */
static int io_setup(onednn_state *s, io *b, md_cptr user_md, md_cptr chosen, void *ptr,
                    int is_input)
{
    if (dnnl_memory_create(&b->user, user_md, s->engine, ptr) != dnnl_success) return 0;
    if (dnnl_memory_desc_equal(user_md, chosen)) {
        b->mem = b->user;
        return 1;
    }
    size_t size = dnnl_memory_desc_get_size(chosen);
    b->scratch = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!b->scratch || dnnl_memory_create(&b->mem, chosen, s->engine, b->scratch) != dnnl_success)
        return 0;
    return is_input ? run_reorder(s, b->user, b->mem) : 1;
}

static int conv_common(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                       const nn_conv_params *p, nn_tensor *y, int transposed)
{
    onednn_state *s = ctx->backend;
    int g = p->groups;
    /* oneDNN's deconvolution has no output padding: it becomes less right padding, which
     * oneDNN does not accept below zero; such shapes go to the ref kernel. */
    long pr_h = (long)p->pad_h - (transposed ? p->out_pad_h : 0);
    long pr_w = (long)p->pad_w - (transposed ? p->out_pad_w : 0);
    if (pr_h < 0 || pr_w < 0) return nn_ref_conv_transpose2d(ctx, x, w, b, p, y);
    dnnl_dims_t xd = {x->shape[0], x->shape[1], x->shape[2], x->shape[3]};
    dnnl_dims_t yd = {y->shape[0], y->shape[1], y->shape[2], y->shape[3]};
    dnnl_dims_t wd, bd = {y->shape[1]};
    int wnd;
    dnnl_format_tag_t wtag;
    if (transposed) { /* PyTorch [C_in, O/g, KH, KW] is oneDNN's (g,) o, i order "iohw" */
        if (g == 1) {
            wnd = 4, wtag = dnnl_iohw;
            wd[0] = y->shape[1], wd[1] = x->shape[1], wd[2] = w->shape[2], wd[3] = w->shape[3];
        } else {
            wnd = 5, wtag = dnnl_giohw;
            wd[0] = g, wd[1] = y->shape[1] / g, wd[2] = x->shape[1] / g;
            wd[3] = w->shape[2], wd[4] = w->shape[3];
        }
    } else if (g == 1) {
        wnd = 4, wtag = dnnl_oihw;
        wd[0] = w->shape[0], wd[1] = w->shape[1], wd[2] = w->shape[2], wd[3] = w->shape[3];
    } else {
        wnd = 5, wtag = dnnl_goihw;
        wd[0] = g, wd[1] = w->shape[0] / g, wd[2] = w->shape[1], wd[3] = w->shape[2];
        wd[4] = w->shape[3];
    }
    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t dil = {p->dilation_h - 1, p->dilation_w - 1}; /* oneDNN counts extra gaps */
    dnnl_dims_t pl = {p->pad_h, p->pad_w}, pr = {pr_h, pr_w};
    md_t ux = {0}, uw = {0}, ub = {0}, uy = {0}, ax = {0}, aw = {0}, ay = {0};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    io bx = {0}, bw = {0}, by = {0};
    dnnl_memory_t mb = NULL;
    int ok = md_tag(&ux, 4, xd, dnnl_nchw) && md_tag(&uy, 4, yd, dnnl_nchw) &&
             md_tag(&uw, wnd, wd, wtag) && md_tag(&ub, 1, bd, dnnl_x) &&
             md_tag(&ax, 4, xd, dnnl_format_tag_any) && md_tag(&ay, 4, yd, dnnl_format_tag_any) &&
             md_tag(&aw, wnd, wd, dnnl_format_tag_any);
    ok = ok && conv_pd(&pd, s->engine, transposed, MD(ax), MD(aw), b ? MD(ub) : NULL, MD(ay),
                       strides, dil, pl, pr) == dnnl_success;
    ok = ok && dnnl_primitive_create(&prim, pd) == dnnl_success;
    ok = ok && io_setup(s, &bx, MD(ux), dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                        x->data, 1);
    ok = ok && io_setup(s, &bw, MD(uw), dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                        w->data, 1);
    ok = ok && io_setup(s, &by, MD(uy), dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
                        y->data, 0);
    ok = ok && (!b || dnnl_memory_create(&mb, MD(ub), s->engine, (void *)b) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, bx.mem},
                                   {DNNL_ARG_WEIGHTS, bw.mem},
                                   {DNNL_ARG_DST, by.mem},
                                   {DNNL_ARG_BIAS, mb}};
        ok = dnnl_primitive_execute(prim, s->stream, b ? 4 : 3, args) == dnnl_success &&
             dnnl_stream_wait(s->stream) == dnnl_success;
        if (ok && by.mem != by.user) ok = run_reorder(s, by.mem, by.user);
    }
    io_free(&bx);
    io_free(&bw);
    io_free(&by);
    if (mb) dnnl_memory_destroy(mb);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    md_free(&ux), md_free(&uw), md_free(&ub), md_free(&uy);
    md_free(&ax), md_free(&aw), md_free(&ay);
    return ok ? NN_OK : NN_ERR_BACKEND;
}

static int onednn_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                         const nn_conv_params *p, nn_tensor *y)
{
    int old = threads_enter(ctx->backend);
    int rc = conv_common(ctx, x, w, b, p, y, 0);
    threads_leave(ctx->backend, old);
    return rc;
}

static int onednn_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w,
                                   const float *b, const nn_conv_params *p, nn_tensor *y)
{
    int old = threads_enter(ctx->backend);
    int rc = conv_common(ctx, x, w, b, p, y, 1);
    threads_leave(ctx->backend, old);
    return rc;
}

/* Batched matmul: A [batch, m, k] x B [batch | 1, k, n] (B^T given as [n][k] is described with
 * strides, no copy) + bias [1, 1, n] -> C [batch, m, n]. */
static int matmul_run(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                      const float *bias, float *c)
{
    onednn_state *s = ctx->backend;
    dnnl_dims_t ad = {p->batch, p->m, p->k}, cd = {p->batch, p->m, p->n};
    dnnl_dims_t bd = {p->b_shared ? 1 : p->batch, p->k, p->n}, biasd = {1, 1, p->n};
    dnnl_dims_t bs = {(dnnl_dim_t)p->k * p->n, p->trans_b ? 1 : p->n, p->trans_b ? p->k : 1};
    md_t am = {0}, bm = {0}, cm = {0}, biasm = {0};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mbias = NULL;
    int ok = md_tag(&am, 3, ad, dnnl_abc) && md_tag(&cm, 3, cd, dnnl_abc) &&
             md_strides(&bm, 3, bd, bs) && md_tag(&biasm, 3, biasd, dnnl_abc);
    ok = ok &&
         matmul_pd(&pd, s->engine, MD(am), MD(bm), bias ? MD(biasm) : NULL, MD(cm)) == dnnl_success;
    ok = ok && dnnl_primitive_create(&prim, pd) == dnnl_success;
    ok = ok && dnnl_memory_create(&ma, MD(am), s->engine, (void *)a) == dnnl_success &&
         dnnl_memory_create(&mb, MD(bm), s->engine, (void *)b) == dnnl_success &&
         dnnl_memory_create(&mc, MD(cm), s->engine, c) == dnnl_success &&
         (!bias || dnnl_memory_create(&mbias, MD(biasm), s->engine, (void *)bias) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_BIAS, mbias}};
        ok = dnnl_primitive_execute(prim, s->stream, bias ? 4 : 3, args) == dnnl_success &&
             dnnl_stream_wait(s->stream) == dnnl_success;
    }
    dnnl_memory_t mems[4] = {ma, mb, mc, mbias};
    for (int i = 0; i < 4; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    md_free(&am), md_free(&bm), md_free(&cm), md_free(&biasm);
    return ok ? NN_OK : NN_ERR_BACKEND;
}

static int onednn_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                         const float *bias, float *c)
{
    int old = threads_enter(ctx->backend);
    int rc = matmul_run(ctx, p, a, b, bias, c);
    threads_leave(ctx->backend, old);
    return rc;
}

/* GDN / IGDN (Balle et al. 2016): the normaliser beta_i + sum_j gamma_ij x_j^2 is a 1x1
 * convolution of x^2 with weights gamma [C][C][1][1] and bias beta, run on oneDNN into y;
 * then y = x / sqrt(y) (or x * sqrt(y)) elementwise. */
static int onednn_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
                      int inverse, nn_tensor *y)
{
    if (x->ndim < 3) return nn_ref_gdn(ctx, x, gamma, beta, inverse, y);
    size_t n = nn_tensor_numel(x), s = nn_ref_spatial(x);
    int c = x->shape[1];
    int s4[4] = {x->shape[0], c, 1, (int)s}, ws[4] = {c, c, 1, 1};
    if (s > (size_t)INT_MAX) return nn_ref_gdn(ctx, x, gamma, beta, inverse, y);
    nn_tensor sq = {0};
    int rc = nn_tensor_alloc(&sq, 4, s4);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        sq.data[i] = x->data[i] * x->data[i];
    nn_tensor w = nn_tensor_view((float *)(uintptr_t)gamma, 4, ws);
    nn_tensor norm = nn_tensor_view(y->data, 4, s4);
    nn_conv_params p = {1, 1, 0, 0, 1, 1, 1, 0, 0};
    int old = threads_enter(ctx->backend);
    rc = conv_common(ctx, &sq, &w, beta, &p, &norm, 0);
    threads_leave(ctx->backend, old);
    nn_tensor_free(&sq);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        float r = sqrtf(y->data[i]);
        y->data[i] = inverse ? x->data[i] * r : x->data[i] / r;
    }
    return NN_OK;
}

const nn_ops nn_onednn_ops = {
    .name = "onednn",
    .conv2d = onednn_conv2d,
    .conv_transpose2d = onednn_conv_transpose2d,
    .matmul = onednn_matmul,
    /* Memory-bound ops: the ref kernels (GDN is a 1x1 conv, above). */
    .activation = nn_ref_activation,
    .snake = nn_ref_snake,
    .gdn = onednn_gdn,
    .group_norm = nn_ref_group_norm,
    .layer_norm = nn_ref_layer_norm,
    .add = nn_ref_add,
    .channel_scale = nn_ref_channel_scale,
    .pixel_shuffle = nn_ref_pixel_shuffle,
};
