/* oneDNN backend (see onednn.h), on oneDNN's C API.
 *
 * Compatibility: Debian 12 ships oneDNN 2.6; oneDNN 3.x replaced the op descriptors
 * (dnnl_*_desc_init + dnnl_primitive_desc_create) by dnnl_*_primitive_desc_create and made
 * memory descriptors opaque handles. The md_* and *_pd helpers below are the only places that
 * differ; everything else is common to both.
 *
 * Layouts: the convolutions are created with format "any", so oneDNN picks its fast blocked
 * layouts (e.g. nChw16c on AVX-512); the plain NCHW user activations are reordered in and out
 * when the chosen layout differs (the op interface, ops.h, passes plain NCHW tensors between
 * ops, and the ops borrowed from ref read them, so activations cannot stay blocked between
 * layers). 1x1 convs, the bulk of img-wave's g_s and of the audio models, need no layout: they
 * run as plain matmuls (pointwise_entry_create), and GELU and SiLU as eltwise primitives on the
 * plain buffers (onednn_activation); together that took img-wave's decode of a 768x512 image
 * from 177 to 104 ms on one core (tests/bench/bench_image.c). Stride-1 depthwise convs run on
 * ref's blocked loops (depthwise_plain), and a bias with the GELU or residual add after it as
 * one binary primitive with a post-op (binary_run).
 *
 * Primitive cache (per context, so no global state and no locking: a context is used by one
 * thread at a time, ops.h): a conv layer is identified by its weights' address plus every
 * shape and parameter; its entry holds the primitive, the reorder primitives of its
 * activations, and its weights already reordered into the primitive's layout. The weights are
 * reordered once, on the first call; later calls only compare them with the plain copy they
 * were made from (a memcmp, well under 1 % of a call's time), so a weights
 * buffer that was changed, or freed and reused at the same address, is reordered again
 * instead of silently running stale weights. Matmuls are cached by their shape only (their
 * B operand is often an activation: keys and values in attention). The blocked copies of the
 * activations live in two scratch buffers of the context that grow to the largest layer and
 * are reused by every layer. oneDNN's own primitive cache (global, inside the library) makes
 * creating a primitive cheap but still costs a descriptor, a lookup and, without ours, the
 * weights reorder and fresh scratch pages on every call; measured on the 3x3 128->128 conv of
 * the benchmark (nets/README.md) this was a third of the call's time.
 *
 * Algorithm: 3x3 convs with stride 1, no dilation, one group, at least 32 channels in and out
 * and at least 64x64 output positions run oneDNN's Winograd convolution (Lavin & Gray 2016,
 * "Fast Algorithms for Convolutional Neural Networks"; oneDNN 2.x picks F(2x2, 3x3) or
 * F(4x4, 3x3) by shape and thread count, jit_fp32_wino_2x3 / jit_wino_4x3 on AVX-512): about 2x the
 * direct conv's speed at the same size. Its weights transform is done once per layer, in the cache;
 * at 64x64 it costs about one direct call. Its error against ref is of the same order as the
 * direct conv's (tests/test_nets_onednn.c prints both). Where the library has no Winograd
 * kernel for the shape (other CPUs; oneDNN 3.x removed it on x86) creation fails and the
 * direct conv is used. The choice depends on the shape and the library only, never on timing
 * or on what ran before, so a layer gives the same bits on every call.
 *
 * Threads: oneDNN uses its own OpenMP runtime; the context's thread count is applied to it
 * around each call (see threads_enter), not through the ref pool. */
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

/* Cached layers per context: far more than any graph of the four models has (a full
 * img-swin decoder is a few dozen convs and matmul shapes), so a network never evicts its own
 * layers; the bound only keeps a long-lived context that meets ever new shapes (images of
 * many sizes) from growing without limit. Least recently used entries go first. */
enum { CACHE_MAX = 256 };

/* Winograd thresholds (see the top of the file): measured on AVX-512 (Zen 5), the weights
 * transform of a 128->128 layer costs about one direct call at 64x64; from 32 channels on the
 * Winograd kernel beat the direct one at every map size tried (8x8 to 384x256). */
enum { WINO_MIN_CHANNELS = 32, WINO_MIN_POSITIONS = 64 * 64 };

typedef struct conv_key {
    int transposed, has_bias;
    int x[4], y[4], w[4];
    nn_conv_params p;
} conv_key;

/* A primitive and its scratchpad. Every primitive is created with the user scratchpad mode:
 * oneDNN 2.x's default, library-managed scratchpad is a thread-local buffer for some kernels
 * (jit_wino_4x3, the gemm convs), sized when a primitive is created and looked up in the thread
 * that executes it, so a cached primitive run on another thread than its creator's (a context
 * may move between threads, ops.h) would get that thread's buffer, or none (it crashed:
 * tests/test_nets_onednn.c "other_thread"). The scratchpad memory is the context's scratch
 * buffer 3, attached per call. */
typedef struct op {
    dnnl_primitive_t prim;
    dnnl_memory_t pad; /* NULL when the primitive needs no scratchpad */
    size_t pad_bytes;
} op;

typedef struct cache_entry cache_entry;
enum entry_kind { ENTRY_MATMUL, ENTRY_CONV, ENTRY_ELTWISE, ENTRY_BINARY };

struct cache_entry {
    cache_entry *prev, *next; /* most recently used first */
    int kind;                 /* enum entry_kind */
    conv_key conv;            /* conv: key (with wid) */
    const float *wid;         /* conv: address of the user's weights */
    nn_matmul_params matmul;  /* matmul: key (with matmul_bias) */
    int matmul_bias;
    int elt_alg; /* eltwise: key (with elt_n); binary: its post-op (with bin_dims) */
    size_t elt_n;
    dnnl_dim_t bin_dims[3]; /* binary: [N, C, spatial] */
    dnnl_primitive_desc_t pd;
    op main;
    size_t pad_max; /* largest scratchpad of main and the reorders */
    /* Activations: the user's plain buffers and the primitive's layout (the same object when
     * the layouts agree; otherwise a context scratch buffer, filled and drained by reorders). */
    dnnl_memory_t src_user, src, dst_user, dst, bias;
    op src_reorder, dst_reorder; /* prim NULL when not needed */
    size_t src_bytes, dst_bytes; /* scratch sizes; 0 when the user buffer is used directly */
    /* Weights: used in place (wplain NULL) or reordered once into wbuf from wplain, the plain
     * copy that each call compares the user's weights with. */
    dnnl_memory_t wei_user, wei;
    float *wplain;
    void *wbuf;
    size_t wbytes;
    int wready;
    int pointwise; /* a 1x1 conv run as a matmul (pointwise_entry_create) */
};

typedef struct onednn_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads;
    /* OpenMP's omp_get_max_threads / omp_set_num_threads, found at run time in the OpenMP
     * library that libdnnl loaded (so neco links no OpenMP library itself); NULL when absent. */
    int (*omp_get)(void);
    void (*omp_set)(int);
    cache_entry *head, *tail;
    int entries;
    dnnl_primitive_attr_t attr; /* user scratchpad mode, for every primitive (see op) */
    /* 0, 1: blocked src / dst of the running conv; 2: x^2 of GDN; 3: primitive scratchpads.
     * Grow only, reused by every call (fresh buffers of this size cost a page fault per 4 KiB
     * on every call). */
    void *scratch[4];
    size_t scratch_size[4];
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
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                             const_dnnl_primitive_attr_t attr, int transposed, int winograd,
                             md_cptr src, md_cptr w, md_cptr b, md_cptr dst,
                             const dnnl_dims_t strides, const dnnl_dims_t dil, const dnnl_dims_t pl,
                             const dnnl_dims_t pr)
{
    if (transposed)
        return dnnl_deconvolution_forward_primitive_desc_create(pd, eng, dnnl_forward_inference,
                                                                dnnl_deconvolution_direct, src, w,
                                                                b, dst, strides, dil, pl, pr, attr);
    return dnnl_convolution_forward_primitive_desc_create(
        pd, eng, dnnl_forward_inference,
        winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, src, w, b, dst, strides,
        dil, pl, pr, attr);
}
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, md_cptr a, md_cptr b, md_cptr bias,
                               md_cptr c)
{
    return dnnl_matmul_primitive_desc_create(pd, eng, a, b, bias, c, attr);
}
static dnnl_status_t eltwise_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                const_dnnl_primitive_attr_t attr, dnnl_alg_kind_t alg, md_cptr x,
                                float alpha)
{
    return dnnl_eltwise_forward_primitive_desc_create(pd, eng, dnnl_forward_inference, alg, x, x,
                                                      alpha, 0.0f, attr);
}
static dnnl_status_t binary_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, md_cptr a, md_cptr b, md_cptr c)
{
    return dnnl_binary_primitive_desc_create(pd, eng, dnnl_binary_add, a, b, c, attr);
}
static dnnl_status_t post_eltwise(dnnl_post_ops_t po, dnnl_alg_kind_t alg, float alpha)
{
    return dnnl_post_ops_append_eltwise(po, alg, alpha, 0.0f);
}
static dnnl_status_t post_sum(dnnl_post_ops_t po)
{
    return dnnl_post_ops_append_sum(po, 1.0f, 0, dnnl_data_type_undef);
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
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                             const_dnnl_primitive_attr_t attr, int transposed, int winograd,
                             md_cptr src, md_cptr w, md_cptr b, md_cptr dst,
                             const dnnl_dims_t strides, const dnnl_dims_t dil, const dnnl_dims_t pl,
                             const dnnl_dims_t pr)
{
    dnnl_convolution_desc_t d; /* dnnl_deconvolution_desc_t is the same type */
    dnnl_status_t st =
        transposed ? dnnl_dilated_deconvolution_forward_desc_init(&d, dnnl_forward_inference,
                                                                  dnnl_deconvolution_direct, src, w,
                                                                  b, dst, strides, dil, pl, pr)
                   : dnnl_dilated_convolution_forward_desc_init(
                         &d, dnnl_forward_inference,
                         winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, src, w, b,
                         dst, strides, dil, pl, pr);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, attr, eng, NULL);
}
static dnnl_status_t matmul_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, md_cptr a, md_cptr b, md_cptr bias,
                               md_cptr c)
{
    dnnl_matmul_desc_t d;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, a, b, bias, c);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, attr, eng, NULL);
}
static dnnl_status_t eltwise_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                const_dnnl_primitive_attr_t attr, dnnl_alg_kind_t alg, md_cptr x,
                                float alpha)
{
    dnnl_eltwise_desc_t d;
    dnnl_status_t st =
        dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, alg, x, alpha, 0.0f);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, attr, eng, NULL);
}
static dnnl_status_t binary_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                               const_dnnl_primitive_attr_t attr, md_cptr a, md_cptr b, md_cptr c)
{
    dnnl_binary_desc_t d;
    dnnl_status_t st = dnnl_binary_desc_init(&d, dnnl_binary_add, a, b, c);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, attr, eng, NULL);
}
static dnnl_status_t post_eltwise(dnnl_post_ops_t po, dnnl_alg_kind_t alg, float alpha)
{
    return dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f);
}
static dnnl_status_t post_sum(dnnl_post_ops_t po)
{
    return dnnl_post_ops_append_sum(po, 1.0f);
}
#endif

/* ---- primitives with their scratchpads ---- */

static void op_free(op *o)
{
    if (o->pad) dnnl_memory_destroy(o->pad);
    if (o->prim) dnnl_primitive_destroy(o->prim);
    memset(o, 0, sizeof *o);
}

/* Creates o's primitive from pd and a memory object (no buffer yet) for its scratchpad. */
static int op_create(dnnl_engine_t engine, const_dnnl_primitive_desc_t pd, op *o)
{
    if (dnnl_primitive_create(&o->prim, pd) != dnnl_success) return 0;
    md_cptr md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    o->pad_bytes = md ? dnnl_memory_desc_get_size(md) : 0;
    return !o->pad_bytes ||
           dnnl_memory_create(&o->pad, md, engine, DNNL_MEMORY_NONE) == dnnl_success;
}

/* Scratch buffer i with at least size bytes (contents not kept); NULL when out of memory. */
static void *scratch(onednn_state *s, int i, size_t size);

/* Runs o with args (at most 5) and, when it has one, its scratchpad on scratch buffer 3. */
static int op_run(onednn_state *s, const op *o, int nargs, const dnnl_exec_arg_t *args)
{
    dnnl_exec_arg_t a[6];
    memcpy(a, args, (size_t)nargs * sizeof *a);
    if (o->pad) {
        void *buf = scratch(s, 3, o->pad_bytes);
        if (!buf || dnnl_memory_set_data_handle(o->pad, buf) != dnnl_success) return 0;
        a[nargs].arg = DNNL_ARG_SCRATCHPAD, a[nargs].memory = o->pad;
        nargs++;
    }
    return dnnl_primitive_execute(o->prim, s->stream, nargs, a) == dnnl_success;
}

/* ---- cache ---- */

static void entry_free(cache_entry *e)
{
    if (!e) return;
    if (e->src && e->src != e->src_user) dnnl_memory_destroy(e->src);
    if (e->dst && e->dst != e->dst_user) dnnl_memory_destroy(e->dst);
    dnnl_memory_t mems[5] = {e->src_user, e->dst_user, e->bias, e->wei_user, e->wei};
    for (int i = 0; i < 5; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    op_free(&e->main), op_free(&e->src_reorder), op_free(&e->dst_reorder);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    free(e->wplain);
    free(e->wbuf);
    free(e);
}

static void cache_unlink(onednn_state *s, cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void cache_push_front(onednn_state *s, cache_entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head) s->head->prev = e;
    s->head = e;
    if (!s->tail) s->tail = e;
}

/* Inserts a new entry as the most recent one, evicting the least recent beyond CACHE_MAX. */
static void cache_insert(onednn_state *s, cache_entry *e)
{
    cache_push_front(s, e);
    if (++s->entries > CACHE_MAX) {
        cache_entry *old = s->tail;
        cache_unlink(s, old);
        entry_free(old);
        s->entries--;
    }
}

static cache_entry *cache_find_conv(onednn_state *s, const conv_key *k, const float *wid)
{
    for (cache_entry *e = s->head; e; e = e->next)
        if (e->kind == ENTRY_CONV && e->wid == wid && memcmp(&e->conv, k, sizeof *k) == 0) {
            if (e != s->head) cache_unlink(s, e), cache_push_front(s, e);
            return e;
        }
    return NULL;
}

static cache_entry *cache_find_matmul(onednn_state *s, const nn_matmul_params *k, int bias)
{
    for (cache_entry *e = s->head; e; e = e->next)
        if (e->kind == ENTRY_MATMUL && e->matmul_bias == bias &&
            memcmp(&e->matmul, k, sizeof *k) == 0) {
            if (e != s->head) cache_unlink(s, e), cache_push_front(s, e);
            return e;
        }
    return NULL;
}

static cache_entry *cache_find_eltwise(onednn_state *s, dnnl_alg_kind_t alg, size_t n)
{
    for (cache_entry *e = s->head; e; e = e->next)
        if (e->kind == ENTRY_ELTWISE && e->elt_alg == (int)alg && e->elt_n == n) {
            if (e != s->head) cache_unlink(s, e), cache_push_front(s, e);
            return e;
        }
    return NULL;
}

static cache_entry *cache_find_binary(onednn_state *s, int post, const dnnl_dim_t *d)
{
    for (cache_entry *e = s->head; e; e = e->next)
        if (e->kind == ENTRY_BINARY && e->elt_alg == post &&
            memcmp(e->bin_dims, d, sizeof e->bin_dims) == 0) {
            if (e != s->head) cache_unlink(s, e), cache_push_front(s, e);
            return e;
        }
    return NULL;
}

static void *scratch(onednn_state *s, int i, size_t size)
{
    if (s->scratch_size[i] < size) {
        free(s->scratch[i]);
        s->scratch_size[i] = 0;
        s->scratch[i] = aligned_alloc(64, (size + 63) / 64 * 64);
        if (!s->scratch[i]) return NULL;
        s->scratch_size[i] = size;
    }
    return s->scratch[i];
}

static void state_free(void *p)
{
    onednn_state *s = p;
    if (!s) return;
    while (s->head) {
        cache_entry *e = s->head;
        cache_unlink(s, e);
        entry_free(e);
    }
    for (int i = 0; i < 4; i++)
        free(s->scratch[i]);
    if (s->attr) dnnl_primitive_attr_destroy(s->attr);
    if (s->stream) dnnl_stream_destroy(s->stream);
    if (s->engine) dnnl_engine_destroy(s->engine);
    free(s);
}

int nn_onednn_init(nn_context *ctx, char *err, size_t errlen)
{
    onednn_state *s = calloc(1, sizeof *s);
    if (!s) return NN_ERR_NOMEM;
    if (dnnl_engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags) != dnnl_success ||
        dnnl_primitive_attr_create(&s->attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(s->attr, dnnl_scratchpad_mode_user) !=
            dnnl_success) {
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

static int reorder_create(onednn_state *s, md_cptr from, md_cptr to, op *out)
{
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_reorder_primitive_desc_create(&pd, from, s->engine, to, s->engine, s->attr) ==
                 dnnl_success &&
             op_create(s->engine, pd, out);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

static int reorder_run(onednn_state *s, const op *r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return op_run(s, r, 2, args);
}

/* The user's plain buffer (user_md) and the primitive's layout (chosen): one memory object
 * when they agree (*bytes = 0), else a second one on scratch (*bytes its size) and a reorder
 * from the first to the second (input) or back (output). Handles are set per call. */
static int io_create(onednn_state *s, md_cptr user_md, md_cptr chosen, int is_input,
                     dnnl_memory_t *user, dnnl_memory_t *mem, op *reorder, size_t *bytes)
{
    if (dnnl_memory_create(user, user_md, s->engine, DNNL_MEMORY_NONE) != dnnl_success) return 0;
    if (dnnl_memory_desc_equal(user_md, chosen)) {
        *mem = *user;
        *bytes = 0;
        return 1;
    }
    *bytes = dnnl_memory_desc_get_size(chosen);
    if (dnnl_memory_create(mem, chosen, s->engine, DNNL_MEMORY_NONE) != dnnl_success) return 0;
    return is_input ? reorder_create(s, user_md, chosen, reorder)
                    : reorder_create(s, chosen, user_md, reorder);
}

static int winograd_fits(const conv_key *k)
{
    return !k->transposed && k->w[2] == 3 && k->w[3] == 3 && k->p.stride_h == 1 &&
           k->p.stride_w == 1 && k->p.dilation_h == 1 && k->p.dilation_w == 1 && k->p.groups == 1 &&
           k->x[1] >= WINO_MIN_CHANNELS && k->y[1] >= WINO_MIN_CHANNELS &&
           (long)k->y[2] * k->y[3] >= WINO_MIN_POSITIONS;
}

static int pointwise(const conv_key *k)
{
    return !k->transposed && k->w[2] == 1 && k->w[3] == 1 && k->p.stride_h == 1 &&
           k->p.stride_w == 1 && k->p.pad_h == 0 && k->p.pad_w == 0 && k->p.groups == 1 &&
           (long)k->y[2] * k->y[3] <= INT_MAX;
}

/* A 1x1 conv (stride 1, no padding, one group) on NCHW is, per image, the matrix product
 * y[O][HW] = w[O][I] x[I][HW] + b[O]: a oneDNN matmul with the weights as its first operand and
 * the activations as its second, all in the plain layouts, so the reorders to and from a blocked
 * layout that a conv primitive needs (as long as the time of the conv itself for g_s of img-wave,
 * ONEDNN_VERBOSE) are not needed. Same sums as the conv, in oneDNN's order. */
static cache_entry *pointwise_entry_create(onednn_state *s, cache_entry *e)
{
    const conv_key *k = &e->conv;
    dnnl_dim_t O = k->y[1], I = k->x[1], P = (dnnl_dim_t)k->y[2] * k->y[3];
    dnnl_dims_t ad = {O, I}, bd = {I, P}, cd = {O, P};
    md_t am = {0}, bm = {0}, cm = {0};
    int ok =
        md_tag(&am, 2, ad, dnnl_ab) && md_tag(&bm, 2, bd, dnnl_ab) && md_tag(&cm, 2, cd, dnnl_ab);
    ok = ok && matmul_pd(&e->pd, s->engine, s->attr, MD(am), MD(bm), NULL, MD(cm)) == dnnl_success;
    ok = ok && op_create(s->engine, e->pd, &e->main);
    e->pad_max = e->main.pad_bytes;
    ok = ok && dnnl_memory_create(&e->wei, MD(am), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    ok =
        ok && dnnl_memory_create(&e->src_user, MD(bm), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    ok =
        ok && dnnl_memory_create(&e->dst_user, MD(cm), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    md_free(&am), md_free(&bm), md_free(&cm);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    e->src = e->src_user, e->dst = e->dst_user;
    e->pointwise = 1;
    return e;
}

/* Creates the entry of a conv layer: primitive, activation memories and reorders, and the
 * weights' memories (filled by conv_weights on first use). NULL on failure. */
static cache_entry *conv_entry_create(onednn_state *s, const conv_key *k, const float *wid)
{
    cache_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = ENTRY_CONV;
    e->conv = *k;
    e->wid = wid;
    if (pointwise(k)) return pointwise_entry_create(s, e);
    const nn_conv_params *p = &k->p;
    int g = p->groups;
    long pr_h = (long)p->pad_h - (k->transposed ? p->out_pad_h : 0);
    long pr_w = (long)p->pad_w - (k->transposed ? p->out_pad_w : 0);
    dnnl_dims_t xd = {k->x[0], k->x[1], k->x[2], k->x[3]};
    dnnl_dims_t yd = {k->y[0], k->y[1], k->y[2], k->y[3]};
    dnnl_dims_t wd, bd = {k->y[1]};
    int wnd;
    dnnl_format_tag_t wtag;
    if (k->transposed) { /* PyTorch [C_in, O/g, KH, KW] is oneDNN's (g,) o, i order "iohw" */
        if (g == 1) {
            wnd = 4, wtag = dnnl_iohw;
            wd[0] = k->y[1], wd[1] = k->x[1], wd[2] = k->w[2], wd[3] = k->w[3];
        } else {
            wnd = 5, wtag = dnnl_giohw;
            wd[0] = g, wd[1] = k->y[1] / g, wd[2] = k->x[1] / g;
            wd[3] = k->w[2], wd[4] = k->w[3];
        }
    } else if (g == 1) {
        wnd = 4, wtag = dnnl_oihw;
        wd[0] = k->w[0], wd[1] = k->w[1], wd[2] = k->w[2], wd[3] = k->w[3];
    } else {
        wnd = 5, wtag = dnnl_goihw;
        wd[0] = g, wd[1] = k->w[0] / g, wd[2] = k->w[1], wd[3] = k->w[2], wd[4] = k->w[3];
    }
    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t dil = {p->dilation_h - 1, p->dilation_w - 1}; /* oneDNN counts extra gaps */
    dnnl_dims_t pl = {p->pad_h, p->pad_w}, pr = {pr_h, pr_w};
    md_t ux = {0}, uw = {0}, ub = {0}, uy = {0}, ax = {0}, aw = {0}, ay = {0};
    /* 1-D convs (H = 1, the audio models) keep the plain layout: oneDNN's blocked 1-D kernels
     * were fast, but the reorders in and out of them cost as much again (ONEDNN_VERBOSE), and
     * its im2col + GEMM kernel on the plain layout took aud-grvq's decode of 30 s of speech from
     * 0.33 to 0.15 s of CPU (tools/bench_audio_speed.py). */
    dnnl_format_tag_t act_tag = k->x[2] == 1 && k->y[2] == 1 ? dnnl_nchw : dnnl_format_tag_any;
    int ok = md_tag(&ux, 4, xd, dnnl_nchw) && md_tag(&uy, 4, yd, dnnl_nchw) &&
             md_tag(&uw, wnd, wd, wtag) && md_tag(&ub, 1, bd, dnnl_x) &&
             md_tag(&ax, 4, xd, act_tag) && md_tag(&ay, 4, yd, act_tag) &&
             md_tag(&aw, wnd, wd, dnnl_format_tag_any);
    md_cptr bias_md = k->has_bias ? MD(ub) : NULL;
    if (ok &&
        !(winograd_fits(k) && conv_pd(&e->pd, s->engine, s->attr, 0, 1, MD(ax), MD(aw), bias_md,
                                      MD(ay), strides, dil, pl, pr) == dnnl_success)) {
        e->pd = NULL; /* no Winograd kernel for this shape or CPU: the direct conv */
        ok = conv_pd(&e->pd, s->engine, s->attr, k->transposed, 0, MD(ax), MD(aw), bias_md, MD(ay),
                     strides, dil, pl, pr) == dnnl_success;
    }
    ok = ok && op_create(s->engine, e->pd, &e->main);
    ok = ok && io_create(s, MD(ux), dnnl_primitive_desc_query_md(e->pd, dnnl_query_src_md, 0), 1,
                         &e->src_user, &e->src, &e->src_reorder, &e->src_bytes);
    ok = ok && io_create(s, MD(uy), dnnl_primitive_desc_query_md(e->pd, dnnl_query_dst_md, 0), 0,
                         &e->dst_user, &e->dst, &e->dst_reorder, &e->dst_bytes);
    size_t pads[3] = {e->main.pad_bytes, e->src_reorder.pad_bytes, e->dst_reorder.pad_bytes};
    for (int i = 0; i < 3; i++)
        e->pad_max = pads[i] > e->pad_max ? pads[i] : e->pad_max;
    ok = ok && (!k->has_bias ||
                dnnl_memory_create(&e->bias, MD(ub), s->engine, DNNL_MEMORY_NONE) == dnnl_success);
    if (ok) {
        md_cptr wchosen = dnnl_primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0);
        e->wbytes = dnnl_memory_desc_get_size(MD(uw));
        if (dnnl_memory_desc_equal(MD(uw), wchosen)) {
            ok = dnnl_memory_create(&e->wei, MD(uw), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
        } else {
            size_t size = dnnl_memory_desc_get_size(wchosen);
            e->wplain = malloc(e->wbytes);
            e->wbuf = aligned_alloc(64, (size + 63) / 64 * 64);
            ok = e->wplain && e->wbuf &&
                 dnnl_memory_create(&e->wei_user, MD(uw), s->engine, e->wplain) == dnnl_success &&
                 dnnl_memory_create(&e->wei, wchosen, s->engine, e->wbuf) == dnnl_success;
        }
    }
    md_free(&ux), md_free(&uw), md_free(&ub), md_free(&uy);
    md_free(&ax), md_free(&aw), md_free(&ay);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    return e;
}

/* Makes e's weights those of w: in place, or reordered from a plain copy when w's contents
 * differ from the copy the current reorder was made from (first call, or changed weights). */
static int conv_weights(onednn_state *s, cache_entry *e, const float *w)
{
    if (!e->wplain) return dnnl_memory_set_data_handle(e->wei, (void *)w) == dnnl_success;
    if (e->wready && memcmp(e->wplain, w, e->wbytes) == 0) return 1;
    e->wready = 0;
    memcpy(e->wplain, w, e->wbytes);
    md_cptr from, to;
    op r = {0};
    int ok = dnnl_memory_get_memory_desc(e->wei_user, &from) == dnnl_success &&
             dnnl_memory_get_memory_desc(e->wei, &to) == dnnl_success &&
             reorder_create(s, from, to, &r) && reorder_run(s, &r, e->wei_user, e->wei) &&
             dnnl_stream_wait(s->stream) == dnnl_success;
    op_free(&r);
    e->wready = ok;
    return ok;
}

/* Runs a 1x1 conv entry: one matmul per image of the batch. */
static int pointwise_run(nn_context *ctx, cache_entry *e, const nn_tensor *x, const nn_tensor *w,
                         const float *b, nn_tensor *y)
{
    onednn_state *s = ctx->backend;
    size_t xs = (size_t)x->shape[1] * x->shape[2] * x->shape[3];
    size_t ys = (size_t)y->shape[1] * y->shape[2] * y->shape[3];
    int ok = dnnl_memory_set_data_handle(e->wei, (void *)w->data) == dnnl_success &&
             (!e->pad_max || scratch(s, 3, e->pad_max));
    for (int n = 0; ok && n < x->shape[0]; n++) {
        ok = dnnl_memory_set_data_handle(e->src_user, x->data + (size_t)n * xs) == dnnl_success &&
             dnnl_memory_set_data_handle(e->dst_user, y->data + (size_t)n * ys) == dnnl_success;
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_SRC, e->wei}, {DNNL_ARG_WEIGHTS, e->src_user}, {DNNL_ARG_DST, e->dst_user}};
        ok = ok && op_run(s, &e->main, 3, args) && dnnl_stream_wait(s->stream) == dnnl_success;
    }
    /* The bias, per output channel: oneDNN 2.6 has no fast matmul kernel for a bias along M (it
     * falls back to its reference kernel, 1000x slower), so ref's channel gain adds it, on the
     * pool (gain 1: y + b exactly). */
    if (ok && b) return nn_ref_channel_scale(ctx, y, NULL, b);
    return ok ? NN_OK : NN_ERR_BACKEND;
}

static int depthwise_plain(const nn_tensor *x, const nn_tensor *w, const nn_conv_params *p,
                           int transposed)
{
    return !transposed && p->groups == x->shape[1] && w->shape[0] == p->groups &&
           w->shape[1] == 1 && w->shape[2] * w->shape[3] > 1 && p->stride_h == 1 &&
           p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1;
}

static int conv_common(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                       const nn_conv_params *p, nn_tensor *y, int transposed)
{
    onednn_state *s = ctx->backend;
    /* oneDNN's deconvolution has no output padding: it becomes less right padding, which
     * oneDNN does not accept below zero; such shapes go to the ref kernel. */
    if (transposed && (p->out_pad_h > p->pad_h || p->out_pad_w > p->pad_w))
        return nn_ref_conv_transpose2d(ctx, x, w, b, p, y);
    /* Depthwise convs with stride 1 (g_s of img-wave: 5x5 on 96 channels): ref's
     * register-blocked loops on the plain layout took the three of a 768x512 decode from 7.3 to
     * 3.2 ms (2 threads); oneDNN's kernel needs a blocked layout, and the reorders in and out
     * of it cost more than the conv itself. */
    if (depthwise_plain(x, w, p, transposed))
        return nn_ref_conv2d(ctx, x, w, b, p, y);
    conv_key k;
    memset(&k, 0, sizeof k);
    k.transposed = transposed, k.has_bias = b != NULL, k.p = *p;
    for (int i = 0; i < 4; i++)
        k.x[i] = x->shape[i], k.y[i] = y->shape[i], k.w[i] = w->shape[i];
    cache_entry *e = cache_find_conv(s, &k, w->data);
    if (!e) {
        e = conv_entry_create(s, &k, w->data);
        if (!e) return NN_ERR_BACKEND;
        cache_insert(s, e);
    }
    if (e->pointwise) return pointwise_run(ctx, e, x, w, b, y);
    void *xs = e->src_bytes ? scratch(s, 0, e->src_bytes) : x->data;
    void *ys = e->dst_bytes ? scratch(s, 1, e->dst_bytes) : y->data;
    if (!xs || !ys) return NN_ERR_NOMEM;
    if (!conv_weights(s, e, w->data)) return NN_ERR_BACKEND;
    int ok = dnnl_memory_set_data_handle(e->src_user, x->data) == dnnl_success &&
             dnnl_memory_set_data_handle(e->dst_user, y->data) == dnnl_success &&
             (e->src == e->src_user || dnnl_memory_set_data_handle(e->src, xs) == dnnl_success) &&
             (e->dst == e->dst_user || dnnl_memory_set_data_handle(e->dst, ys) == dnnl_success) &&
             (!b || dnnl_memory_set_data_handle(e->bias, (void *)b) == dnnl_success);
    /* Grown once before the first primitive runs, so no buffer moves under a running one. */
    ok = ok && (!e->pad_max || scratch(s, 3, e->pad_max));
    ok = ok && (!e->src_reorder.prim || reorder_run(s, &e->src_reorder, e->src_user, e->src));
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src},
                                   {DNNL_ARG_WEIGHTS, e->wei},
                                   {DNNL_ARG_DST, e->dst},
                                   {DNNL_ARG_BIAS, e->bias}};
        ok = op_run(s, &e->main, b ? 4 : 3, args);
    }
    ok = ok && (!e->dst_reorder.prim || reorder_run(s, &e->dst_reorder, e->dst, e->dst_user));
    /* The stream is in order: one wait covers the reorders and the conv. */
    ok = dnnl_stream_wait(s->stream) == dnnl_success && ok;
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
 * strides, no copy) + bias [1, 1, n] -> C [batch, m, n]. Plain layouts throughout, so only the
 * primitive is cached; the buffers are attached per call. */
static cache_entry *matmul_entry_create(onednn_state *s, const nn_matmul_params *p, int has_bias)
{
    cache_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->matmul = *p;
    e->matmul_bias = has_bias;
    dnnl_dims_t ad = {p->batch, p->m, p->k}, cd = {p->batch, p->m, p->n};
    dnnl_dims_t bd = {p->b_shared ? 1 : p->batch, p->k, p->n}, biasd = {1, 1, p->n};
    dnnl_dims_t bs = {(dnnl_dim_t)p->k * p->n, p->trans_b ? 1 : p->n, p->trans_b ? p->k : 1};
    md_t am = {0}, bm = {0}, cm = {0}, biasm = {0};
    int ok = md_tag(&am, 3, ad, dnnl_abc) && md_tag(&cm, 3, cd, dnnl_abc) &&
             md_strides(&bm, 3, bd, bs) && md_tag(&biasm, 3, biasd, dnnl_abc);
    ok = ok && matmul_pd(&e->pd, s->engine, s->attr, MD(am), MD(bm), has_bias ? MD(biasm) : NULL,
                         MD(cm)) == dnnl_success;
    ok = ok && op_create(s->engine, e->pd, &e->main);
    ok =
        ok && dnnl_memory_create(&e->src_user, MD(am), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && dnnl_memory_create(&e->wei, MD(bm), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    ok =
        ok && dnnl_memory_create(&e->dst_user, MD(cm), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && (!has_bias || dnnl_memory_create(&e->bias, MD(biasm), s->engine, DNNL_MEMORY_NONE) ==
                                 dnnl_success);
    md_free(&am), md_free(&bm), md_free(&cm), md_free(&biasm);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    e->src = e->src_user, e->dst = e->dst_user;
    return e;
}

static int matmul_run(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                      const float *bias, float *c)
{
    onednn_state *s = ctx->backend;
    nn_matmul_params k = *p;
    cache_entry *e = cache_find_matmul(s, &k, bias != NULL);
    if (!e) {
        e = matmul_entry_create(s, &k, bias != NULL);
        if (!e) return NN_ERR_BACKEND;
        cache_insert(s, e);
    }
    int ok = dnnl_memory_set_data_handle(e->src, (void *)a) == dnnl_success &&
             dnnl_memory_set_data_handle(e->wei, (void *)b) == dnnl_success &&
             dnnl_memory_set_data_handle(e->dst, c) == dnnl_success &&
             (!bias || dnnl_memory_set_data_handle(e->bias, (void *)bias) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src},
                                   {DNNL_ARG_WEIGHTS, e->wei},
                                   {DNNL_ARG_DST, e->dst},
                                   {DNNL_ARG_BIAS, e->bias}};
        ok = op_run(s, &e->main, bias ? 4 : 3, args) && dnnl_stream_wait(s->stream) == dnnl_success;
    }
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
 * convolution of x^2 with weights gamma [C][C][1][1] and bias beta, run on oneDNN into y
 * (cached like any conv, keyed by gamma); then y = x / sqrt(y) (or x * sqrt(y)) elementwise. */
static int onednn_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
                      int inverse, nn_tensor *y)
{
    if (x->ndim < 3) return nn_ref_gdn(ctx, x, gamma, beta, inverse, y);
    size_t n = nn_tensor_numel(x), s = nn_ref_spatial(x);
    int c = x->shape[1];
    int s4[4] = {x->shape[0], c, 1, (int)s}, ws[4] = {c, c, 1, 1};
    if (s > (size_t)INT_MAX) return nn_ref_gdn(ctx, x, gamma, beta, inverse, y);
    float *sq = scratch(ctx->backend, 2, n * sizeof(float));
    if (!sq) return NN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        sq[i] = x->data[i] * x->data[i];
    nn_tensor sqt = nn_tensor_view(sq, 4, s4);
    nn_tensor w = nn_tensor_view((float *)(uintptr_t)gamma, 4, ws);
    nn_tensor norm = nn_tensor_view(y->data, 4, s4);
    nn_conv_params p = {1, 1, 0, 0, 1, 1, 1, 0, 0};
    int old = threads_enter(ctx->backend);
    int rc = conv_common(ctx, &sqt, &w, beta, &p, &norm, 0);
    threads_leave(ctx->backend, old);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        float r = sqrtf(y->data[i]);
        y->data[i] = inverse ? x->data[i] * r : x->data[i] / r;
    }
    return NN_OK;
}

/* Activations whose ref loop calls libm per element (erff for GELU, expf for SiLU) run as a
 * oneDNN eltwise primitive, in place on the plain buffer: its vectorised polynomial erf/exp
 * (within the tolerance of tests/test_nets_onednn.c), and on the context's threads. The exact
 * GELU was 18 % of img-wave's decode time in ref's scalar loop. The others stay on ref. An
 * entry is cached per (algorithm, length). */
static int onednn_activation(nn_context *ctx, nn_act act, float slope, float *x, size_t n)
{
    onednn_state *s = ctx->backend;
    if ((act != NN_ACT_GELU && act != NN_ACT_SILU) || n == 0 || n > (size_t)INT64_MAX / 4)
        return nn_ref_activation(ctx, act, slope, x, n);
    /* swish(x) = x sigmoid(alpha x) with alpha = 1 is SiLU. */
    dnnl_alg_kind_t alg = act == NN_ACT_GELU ? dnnl_eltwise_gelu_erf : dnnl_eltwise_swish;
    float alpha = act == NN_ACT_GELU ? 0.0f : 1.0f;
    cache_entry *e = cache_find_eltwise(s, alg, n);
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) return NN_ERR_NOMEM;
        e->kind = ENTRY_ELTWISE, e->elt_alg = (int)alg, e->elt_n = n;
        dnnl_dims_t d = {(dnnl_dim_t)n};
        md_t m = {0};
        int ok =
            md_tag(&m, 1, d, dnnl_a) &&
            eltwise_pd(&e->pd, s->engine, s->attr, alg, MD(m), alpha) == dnnl_success &&
            op_create(s->engine, e->pd, &e->main) &&
            dnnl_memory_create(&e->src_user, MD(m), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
        md_free(&m);
        if (!ok) {
            entry_free(e);
            return nn_ref_activation(ctx, act, slope, x, n);
        }
        e->src = e->src_user; /* in place: no dst memory of its own */
        e->pad_max = e->main.pad_bytes;
        cache_insert(s, e);
    }
    int old = threads_enter(s);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, e->src_user}, {DNNL_ARG_DST, e->src_user}};
    int ok = dnnl_memory_set_data_handle(e->src_user, x) == dnnl_success &&
             (!e->pad_max || scratch(s, 3, e->pad_max)) && op_run(s, &e->main, 2, args) &&
             dnnl_stream_wait(s->stream) == dnnl_success;
    threads_leave(s, old);
    return ok ? NN_OK : NN_ERR_BACKEND;
}

/* The bias of a conv run without it, followed by GELU / SiLU (bias_act) or by a residual add
 * (bias_residual), as one binary primitive (x + b, b broadcast over [N, C, S]) with an eltwise
 * or a sum post-op: one pass over the activations instead of two (img-wave's g_s: the 1x1
 * convs run as plain matmuls, pointwise_run, and their bias along M has no fast kernel). post:
 * the eltwise algorithm, or -1 for the sum. dst may be x itself. 0 when oneDNN has no
 * primitive for it (the caller falls back to ref). */
enum { POST_SUM = -1 };

static int binary_run(nn_context *ctx, int post, const nn_tensor *x, const float *b, float *dst)
{
    onednn_state *s = ctx->backend;
    dnnl_dim_t d[3] = {x->shape[0], x->shape[1], (dnnl_dim_t)nn_ref_spatial(x)};
    cache_entry *e = cache_find_binary(s, post, d);
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) return 0;
        e->kind = ENTRY_BINARY, e->elt_alg = post;
        memcpy(e->bin_dims, d, sizeof e->bin_dims);
        dnnl_dims_t xd = {d[0], d[1], d[2]}, bd = {1, d[1], 1};
        md_t xm = {0}, bm = {0};
        dnnl_post_ops_t po = NULL;
        dnnl_primitive_attr_t attr = NULL;
        int ok = md_tag(&xm, 3, xd, dnnl_abc) && md_tag(&bm, 3, bd, dnnl_abc) &&
                 dnnl_primitive_attr_clone(&attr, s->attr) == dnnl_success &&
                 dnnl_post_ops_create(&po) == dnnl_success &&
                 (post == POST_SUM ? post_sum(po) : post_eltwise(po, (dnnl_alg_kind_t)post,
                                                                 post == (int)dnnl_eltwise_swish
                                                                     ? 1.0f
                                                                     : 0.0f)) == dnnl_success &&
                 dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success &&
                 binary_pd(&e->pd, s->engine, attr, MD(xm), MD(bm), MD(xm)) == dnnl_success &&
                 op_create(s->engine, e->pd, &e->main) &&
                 dnnl_memory_create(&e->src_user, MD(xm), s->engine, DNNL_MEMORY_NONE) ==
                     dnnl_success &&
                 dnnl_memory_create(&e->dst_user, MD(xm), s->engine, DNNL_MEMORY_NONE) ==
                     dnnl_success &&
                 dnnl_memory_create(&e->bias, MD(bm), s->engine, DNNL_MEMORY_NONE) == dnnl_success;
        if (po) dnnl_post_ops_destroy(po);
        if (attr) dnnl_primitive_attr_destroy(attr);
        md_free(&xm), md_free(&bm);
        if (!ok) {
            entry_free(e);
            return 0;
        }
        e->src = e->src_user, e->dst = e->dst_user;
        e->pad_max = e->main.pad_bytes;
        cache_insert(s, e);
    }
    int old = threads_enter(s);
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC_0, e->src_user}, {DNNL_ARG_SRC_1, e->bias}, {DNNL_ARG_DST, e->dst_user}};
    int ok = dnnl_memory_set_data_handle(e->src_user, x->data) == dnnl_success &&
             dnnl_memory_set_data_handle(e->dst_user, dst) == dnnl_success &&
             dnnl_memory_set_data_handle(e->bias, (void *)b) == dnnl_success &&
             (!e->pad_max || scratch(s, 3, e->pad_max)) && op_run(s, &e->main, 3, args) &&
             dnnl_stream_wait(s->stream) == dnnl_success;
    threads_leave(s, old);
    return ok;
}

static int onednn_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope)
{
    if (b && (act == NN_ACT_GELU || act == NN_ACT_SILU) &&
        binary_run(ctx, act == NN_ACT_GELU ? (int)dnnl_eltwise_gelu_erf : (int)dnnl_eltwise_swish,
                   x, b, x->data))
        return NN_OK;
    int rc = b ? nn_ref_channel_scale(ctx, x, NULL, b) : NN_OK;
    return rc ? rc : onednn_activation(ctx, act, slope, x->data, nn_tensor_numel(x));
}

static int onednn_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y)
{
    if (b && binary_run(ctx, POST_SUM, x, b, y->data)) return NN_OK;
    return nn_ref_bias_residual(ctx, x, b, y);
}

const nn_ops nn_onednn_ops = {
    .name = "onednn",
    .conv2d = onednn_conv2d,
    .conv_transpose2d = onednn_conv_transpose2d,
    .matmul = onednn_matmul,
    /* Memory-bound ops: the ref kernels (GDN is a 1x1 conv, above; GELU and SiLU above). */
    .activation = onednn_activation,
    .snake = nn_ref_snake,
    .gdn = onednn_gdn,
    .group_norm = nn_ref_group_norm,
    .layer_norm = nn_ref_layer_norm,
    .layer_norm_add = nn_ref_layer_norm_add,
    .add = nn_ref_add,
    .channel_scale = nn_ref_channel_scale,
    .bias_act = onednn_bias_act,
    .bias_residual = onednn_bias_residual,
    .pixel_shuffle = nn_ref_pixel_shuffle,
};
