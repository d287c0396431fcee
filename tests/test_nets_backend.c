/* A backend against ref (the dav1d checkasm idea: every fast op checked against its C twin) on
 * deterministic random input: built once per backend, NN_TEST_BACKEND "onednn" or "cuda"
 * (tests/nets.cmake). Each case prints its maximum abs error; the bound is tol * max(1,
 * max |ref|) with tol = 1e-5 for every op (float32 sums of at most ~1200 terms accumulated in
 * another order by oneDNN or cuDNN/cuBLAS, or through Winograd's transforms; cuda: FP32 FMA
 * math, no TF32, CUDA's erff/expf/sinf). cuda without a device (or driver): the program says
 * why and exits 77, which ctest reports as skipped, never as passed. */
#define _POSIX_C_SOURCE 200809L
#ifndef NN_TEST_BACKEND
#error "build with -DNN_TEST_BACKEND=\"onednn\" or \"cuda\""
#endif
#define IS_CUDA (NN_TEST_BACKEND[0] == 'c')
#include "nets/layers.h"
#include "nets/lifting97.h"
#include "nets/lifting97_1d.h"
#include "nets/swin.h"
#include "test.h"
#include "test_nets_util.h"
#ifdef NECO_HAVE_CUDA
#include "nets/cuda/cuda.h"
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double TOL = 1e-5;

/* The backend context under test. Host code calls nn_context_sync before it reads what ops
 * made (ops.h): cuda with NECO_CUDA_ASYNC=1 returns with the work in flight (the first GPU run
 * failed every such read here: outputs still zero). Every comparison syncs it first. */
static nn_context *g_dev;

static void dev_sync(void)
{
    if (g_dev) CU_ASSERT_EQUAL(nn_context_sync(g_dev), NN_OK);
}

static int synced_close(const char *what, const nn_tensor *got, const nn_tensor *want, double tol)
{
    dev_sync();
    return fx_close(what, got, want, tol);
}

static double synced_max_err(const float *a, const float *b, size_t n)
{
    dev_sync();
    return fx_max_err(a, b, n);
}
#define fx_close synced_close
#define fx_max_err synced_max_err

typedef struct ctxs {
    nn_context *ref, *dnn;
} ctxs;

static int open_ctxs(ctxs *c)
{
    char err[128];
    if (nn_context_create("ref", 2, &c->ref, err, sizeof err) ||
        nn_context_create(NN_TEST_BACKEND, 2, &c->dnn, err, sizeof err)) {
        printf("\n%s\n", err);
        CU_FAIL("cannot create contexts");
        return 0;
    }
    CU_ASSERT_STRING_EQUAL(nn_context_backend(c->dnn), NN_TEST_BACKEND);
    g_dev = c->dnn;
    return 1;
}

static void close_ctxs(ctxs *c)
{
    nn_context_destroy(c->ref);
    nn_context_destroy(c->dnn);
    g_dev = NULL;
}

static void rand_tensor(nn_tensor *t, int ndim, const int *shape, uint64_t *seed)
{
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(t, ndim, shape), NN_OK);
    fx_random(seed, t->data, nn_tensor_numel(t));
}

typedef struct conv_case {
    const char *name;
    int n, c, h, w, o, kh, kw;
    nn_conv_params p;
    int transposed;
} conv_case;

static void run_conv(const ctxs *cx, const conv_case *k, uint64_t *seed)
{
    nn_tensor x = {0}, w = {0}, b = {0}, yr = {0}, yd = {0};
    int g = k->p.groups;
    int xs[4] = {k->n, k->c, k->h, k->w};
    int ws[4] = {k->transposed ? k->c : k->o, k->transposed ? k->o / g : k->c / g, k->kh, k->kw};
    int bs[1] = {k->o};
    rand_tensor(&x, 4, xs, seed);
    rand_tensor(&w, 4, ws, seed);
    rand_tensor(&b, 1, bs, seed);
    int r1 = k->transposed ? nn_conv_transpose2d(cx->ref, &x, &w, b.data, &k->p, &yr)
                           : nn_conv2d(cx->ref, &x, &w, b.data, &k->p, &yr);
    int r2 = k->transposed ? nn_conv_transpose2d(cx->dnn, &x, &w, b.data, &k->p, &yd)
                           : nn_conv2d(cx->dnn, &x, &w, b.data, &k->p, &yd);
    CU_ASSERT_EQUAL(r1, NN_OK);
    CU_ASSERT_EQUAL(r2, NN_OK);
    CU_ASSERT(fx_close(k->name, &yd, &yr, TOL));
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&b);
    nn_tensor_free(&yr), nn_tensor_free(&yd);
}

static void test_conv(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 1;
    const conv_case cases[] = {
        {"conv2d 3x3 32->48", 1, 32, 20, 17, 48, 3, 3, {1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
        {"conv2d 5x5 s2 g2", 2, 8, 19, 16, 12, 5, 5, {2, 2, 2, 2, 1, 1, 2, 0, 0}, 0},
        {"conv2d depthwise 3x3", 1, 24, 12, 13, 24, 3, 3, {1, 1, 1, 1, 1, 1, 24, 0, 0}, 0},
        {"conv2d depthwise 5x5 96", 1, 96, 21, 35, 96, 5, 5, {1, 1, 2, 2, 1, 1, 96, 0, 0}, 0},
        {"conv2d depthwise 3x3 s2", 1, 16, 12, 13, 16, 3, 3, {2, 2, 1, 1, 1, 1, 16, 0, 0}, 0},
        /* 1x1 convs (onednn: run as matmuls, pointwise_entry_create), also batched */
        {"conv2d 1x1 64->16", 1, 64, 9, 11, 16, 1, 1, {1, 1, 0, 0, 1, 1, 1, 0, 0}, 0},
        {"conv2d 1x1 96->192 batch 3", 3, 96, 12, 40, 192, 1, 1, {1, 1, 0, 0, 1, 1, 1, 0, 0}, 0},
        {"conv2d 1x1 s2 (a conv)", 1, 16, 10, 10, 8, 1, 1, {2, 2, 0, 0, 1, 1, 1, 0, 0}, 0},
        {"conv2d 3x3 dilation 2", 1, 6, 15, 14, 10, 3, 3, {1, 2, 2, 1, 2, 2, 1, 0, 0}, 0},
        {"conv1d k7 s2 d3 g2 (as 2-D)", 2, 8, 1, 300, 6, 1, 7, {1, 2, 0, 3, 1, 3, 2, 0, 0}, 0},
        {"tconv2d 4x4 s2", 1, 16, 9, 7, 12, 4, 4, {2, 2, 1, 1, 1, 1, 1, 0, 0}, 1},
        {"tconv2d 5x5 s2 g2 outpad 1", 1, 8, 6, 5, 6, 5, 5, {2, 2, 2, 2, 1, 1, 2, 1, 1}, 1},
        {"tconv2d 3x3 s2 outpad>pad (ref)", 1, 4, 5, 5, 4, 3, 3, {2, 2, 0, 0, 1, 1, 1, 1, 1}, 1},
        {"tconv1d k8 s4 (as 2-D)", 2, 6, 1, 40, 5, 1, 8, {1, 4, 0, 2, 1, 1, 1, 0, 0}, 1},
        /* At onednn.c's Winograd thresholds (3x3, stride 1, >= 32 channels, >= 64x64
         * positions): Winograd where the library has the kernel, the direct conv elsewhere;
         * cuDNN's heuristics may pick Winograd too. */
        {"conv2d 3x3 64->64 (Winograd)", 1, 64, 64, 64, 64, 3, 3, {1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_conv(&cx, &cases[i], &seed);
    /* The 1-D entry points reach the backend through the same 2-D ops. */
    nn_tensor x = {0}, w = {0}, yr = {0}, yd = {0};
    int xs[3] = {1, 4, 64}, ws[3] = {8, 4, 5};
    rand_tensor(&x, 3, xs, &seed);
    rand_tensor(&w, 3, ws, &seed);
    nn_conv1d_params p = {1, 4, 2, 1, 0};
    CU_ASSERT_EQUAL(nn_conv1d(cx.ref, &x, &w, NULL, &p, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_conv1d(cx.dnn, &x, &w, NULL, &p, &yd), NN_OK);
    CU_ASSERT(fx_close("conv1d k5 d2 (nn_conv1d)", &yd, &yr, TOL));
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&yr), nn_tensor_free(&yd);
    close_ctxs(&cx);
}

static void test_matmul(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 2;
    const nn_matmul_params cases[] = {
        {1, 70, 33, 45, 1, 1}, /* linear layer */
        {12, 16, 16, 8, 1, 0}, /* q k^T */
        {12, 16, 8, 16, 0, 0}, /* attn v */
        {3, 9, 10, 11, 0, 1},  /* shared B, not transposed */
    };
    const char *names[] = {"matmul linear (B^T, bias)", "matmul batched A B^T",
                           "matmul batched A B", "matmul shared B"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nn_matmul_params *p = &cases[i];
        int as[1] = {p->batch * p->m * p->k};
        int bsz[1] = {(p->b_shared ? 1 : p->batch) * p->k * p->n};
        int cs[1] = {p->batch * p->m * p->n}, ns[1] = {p->n};
        nn_tensor a = {0}, b = {0}, bias = {0}, cr = {0}, cd = {0};
        rand_tensor(&a, 1, as, &seed);
        rand_tensor(&b, 1, bsz, &seed);
        rand_tensor(&bias, 1, ns, &seed);
        nn_tensor_alloc(&cr, 1, cs);
        nn_tensor_alloc(&cd, 1, cs);
        const float *bb = i == 0 ? bias.data : NULL;
        CU_ASSERT_EQUAL(nn_matmul(cx.ref, p, a.data, b.data, bb, cr.data), NN_OK);
        CU_ASSERT_EQUAL(nn_matmul(cx.dnn, p, a.data, b.data, bb, cd.data), NN_OK);
        CU_ASSERT(fx_close(names[i], &cd, &cr, TOL));
        nn_tensor_free(&a), nn_tensor_free(&b), nn_tensor_free(&bias);
        nn_tensor_free(&cr), nn_tensor_free(&cd);
    }
    close_ctxs(&cx);
}

/* The backend's cache (onednn.c's primitive cache: a layer keyed by its weights' address,
 * shapes and parameters, its reordered weights reused while their contents are unchanged;
 * cuda.cu's parameter cache: weights kept on the device by address and size, uploaded again
 * when their contents change). */
static void test_cache(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 5;
    nn_conv_params p = nn_conv_default();
    p.pad_h = p.pad_w = 1;
    int xs[4] = {1, 32, 12, 10}, ws[4] = {40, 32, 3, 3}, bs[1] = {40};
    nn_tensor x = {0}, w = {0}, b = {0}, yr = {0}, y1 = {0}, y2 = {0};
    rand_tensor(&x, 4, xs, &seed);
    rand_tensor(&w, 4, ws, &seed);
    rand_tensor(&b, 1, bs, &seed);
    /* A second call (cache hit) gives the first call's bits. */
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x, &w, b.data, &p, &y1), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x, &w, b.data, &p, &y2), NN_OK);
    CU_ASSERT_EQUAL(fx_max_err(y1.data, y2.data, nn_tensor_numel(&y1)), 0.0);
    /* Weights changed in place (same address, same shape) are used, not the cached reorder. */
    for (size_t i = 0; i < nn_tensor_numel(&w); i += 7)
        w.data[i] = -2.0f * w.data[i];
    CU_ASSERT_EQUAL(nn_conv2d(cx.ref, &x, &w, b.data, &p, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x, &w, b.data, &p, &y2), NN_OK);
    CU_ASSERT(fx_close("cache: weights changed in place", &y2, &yr, TOL));
    CU_ASSERT(fx_max_err(y1.data, y2.data, nn_tensor_numel(&y1)) > 0.1);
    /* The same weights with another input size and without bias: other entries. */
    nn_tensor x2 = {0};
    int xs2[4] = {2, 32, 7, 9};
    rand_tensor(&x2, 4, xs2, &seed);
    nn_tensor_free(&yr), nn_tensor_free(&y2);
    CU_ASSERT_EQUAL(nn_conv2d(cx.ref, &x2, &w, NULL, &p, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x2, &w, NULL, &p, &y2), NN_OK);
    CU_ASSERT(fx_close("cache: same weights, other shape", &y2, &yr, TOL));
    /* More layers than the cache holds (300 weight sets, least recently used evicted), then
     * the first ones again: recreated, still right. */
    enum { LAYERS = 300 };
    int wsmall[4] = {LAYERS * 4, 4, 1, 1}, xsmall[4] = {1, 4, 3, 3};
    nn_tensor wl = {0}, xl = {0};
    rand_tensor(&wl, 4, wsmall, &seed);
    rand_tensor(&xl, 4, xsmall, &seed);
    nn_conv_params p1 = nn_conv_default();
    int ok = 1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < LAYERS; i += pass ? 37 : 1) {
            int one[4] = {4, 4, 1, 1};
            nn_tensor wi = nn_tensor_view(wl.data + (size_t)i * 16, 4, one), ya = {0}, yb = {0};
            ok &= nn_conv2d(cx.ref, &xl, &wi, NULL, &p1, &ya) == NN_OK;
            ok &= nn_conv2d(cx.dnn, &xl, &wi, NULL, &p1, &yb) == NN_OK;
            ok &= fx_max_err(ya.data, yb.data, nn_tensor_numel(&ya)) <= TOL * 10;
            nn_tensor_free(&ya), nn_tensor_free(&yb);
        }
    CU_ASSERT(ok);
    nn_tensor_free(&wl), nn_tensor_free(&xl), nn_tensor_free(&x2);
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&b);
    nn_tensor_free(&yr), nn_tensor_free(&y1), nn_tensor_free(&y2);
    close_ctxs(&cx);
}

typedef struct conv_job {
    nn_context *ctx;
    const nn_tensor *x, *w;
    nn_conv_params p;
    nn_tensor y;
    int rc;
    int destroy; /* destroy ctx after the conv */
} conv_job;

static void *conv_job_run(void *v)
{
    conv_job *j = v;
    j->rc = nn_conv2d(j->ctx, j->x, j->w, NULL, &j->p, &j->y);
    if (!j->rc) j->rc = nn_context_sync(j->ctx);
    if (j->destroy) nn_context_destroy(j->ctx);
    return NULL;
}

/* A context may move between threads (ops.h: one thread at a time). onednn: its cached layers
 * were created on the first thread and run on the next; oneDNN 2.x's default, library-managed
 * scratchpad is thread-local for some kernels (jit_wino_4x3, the gemm convs), which would hand
 * such a layer another thread's buffer, or none, so onednn.c gives every primitive the
 * context's own scratchpad (the layer below runs on jit_wino_4x3 on AVX-512). cuda: its stream,
 * handles and cached weights move along (the runtime's current device is per thread; the
 * backend uses device 0, every thread's default). The context is then destroyed on a third
 * thread. */
static void test_other_thread(void)
{
    nn_context *ref, *dnn;
    CU_ASSERT_EQUAL_FATAL(nn_context_create("ref", 1, &ref, NULL, 0), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_context_create(NN_TEST_BACKEND, 1, &dnn, NULL, 0), NN_OK);
    uint64_t seed = 6;
    int xs[4] = {1, 64, 64, 128}, ws[4] = {64, 64, 3, 3};
    nn_tensor x = {0}, w = {0}, yr = {0}, y0 = {0};
    rand_tensor(&x, 4, xs, &seed);
    rand_tensor(&w, 4, ws, &seed);
    nn_conv_params p = nn_conv_default();
    p.pad_h = p.pad_w = 1;
    CU_ASSERT_EQUAL(nn_conv2d(ref, &x, &w, NULL, &p, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(dnn, &x, &w, NULL, &p, &y0), NN_OK);
    CU_ASSERT_EQUAL(nn_context_sync(dnn), NN_OK);
    for (int t = 0; t < 2; t++) {
        conv_job j = {dnn, &x, &w, p, {0}, -1, t == 1};
        pthread_t th;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, conv_job_run, &j), 0);
        pthread_join(th, NULL);
        CU_ASSERT_EQUAL(j.rc, NN_OK);
        CU_ASSERT(fx_close("conv on another thread", &j.y, &yr, TOL));
        CU_ASSERT_EQUAL(fx_max_err(j.y.data, y0.data, nn_tensor_numel(&y0)), 0.0);
        nn_tensor_free(&j.y);
    }
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&yr), nn_tensor_free(&y0);
    nn_context_destroy(ref);
}

/* GDN / IGDN (onednn: the normaliser is a 1x1 conv; cuda: kernels.h k_gdn). */
static void test_gdn(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 4;
    int c = 48, xs[4] = {2, c, 13, 11}, gs[2] = {c, c}, bs[1] = {c};
    nn_tensor x = {0}, g = {0}, b = {0};
    rand_tensor(&x, 4, xs, &seed);
    rand_tensor(&g, 2, gs, &seed);
    rand_tensor(&b, 1, bs, &seed);
    for (int i = 0; i < c * c; i++) /* non-negative, as the reparametrisation guarantees */
        g.data[i] = 0.05f * (g.data[i] + 1.0f);
    for (int i = 0; i < c; i++)
        b.data[i] = b.data[i] + 1.5f;
    for (int inverse = 0; inverse <= 1; inverse++) {
        nn_tensor yr = {0}, yd = {0};
        CU_ASSERT_EQUAL(nn_gdn(cx.ref, &x, g.data, b.data, inverse, &yr), NN_OK);
        CU_ASSERT_EQUAL(nn_gdn(cx.dnn, &x, g.data, b.data, inverse, &yd), NN_OK);
        CU_ASSERT(fx_close(inverse ? "igdn 48 channels" : "gdn 48 channels", &yd, &yr, TOL));
        nn_tensor_free(&yr), nn_tensor_free(&yd);
    }
    nn_tensor_free(&x), nn_tensor_free(&g), nn_tensor_free(&b);
    close_ctxs(&cx);
}

/* The activations (onednn: GELU and SiLU as eltwise primitives, vectorised erf and exp, the
 * others ref's loops; cuda: kernels.h k_act with CUDA's erff / expf); inputs over [-8, 8) reach
 * both tails. Each is run twice (onednn: the second time from the primitive cache), and a 1x1
 * conv without bias goes through the path the GELU follows in img-wave's g_s. */
static void test_activation(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 6;
    const struct {
        const char *name;
        nn_act act;
    } acts[] = {{"gelu", NN_ACT_GELU},
                {"silu", NN_ACT_SILU},
                {"relu", NN_ACT_RELU},
                {"leaky relu", NN_ACT_LEAKY_RELU}};
    int xs[4] = {1, 7, 33, 29};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (int round = 0; round < 2; round++) {
            nn_tensor yr = {0}, yd = {0};
            rand_tensor(&yr, 4, xs, &seed);
            CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&yd, 4, xs), NN_OK);
            for (size_t i = 0; i < nn_tensor_numel(&yr); i++)
                yd.data[i] = yr.data[i] = 8.0f * yr.data[i];
            CU_ASSERT_EQUAL(nn_activation(cx.ref, acts[a].act, 0.1f, &yr), NN_OK);
            CU_ASSERT_EQUAL(nn_activation(cx.dnn, acts[a].act, 0.1f, &yd), NN_OK);
            CU_ASSERT(fx_close(acts[a].name, &yd, &yr, TOL));
            nn_tensor_free(&yr), nn_tensor_free(&yd);
        }
    /* The bias ops (onednn: one binary primitive with a post-op for GELU / SiLU and for the
     * residual add, the others through ref), 3-D and 4-D. */
    const int shapes[2][4] = {{2, 9, 17, 13}, {3, 5, 301, 1}};
    for (int sh = 0; sh < 2; sh++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            int nd = sh ? 3 : 4;
            nn_tensor yr = {0}, yd = {0}, bias = {0};
            int bs[1] = {shapes[sh][1]};
            rand_tensor(&yr, nd, shapes[sh], &seed);
            rand_tensor(&bias, 1, bs, &seed);
            CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&yd, nd, shapes[sh]), NN_OK);
            for (size_t i = 0; i < nn_tensor_numel(&yr); i++)
                yd.data[i] = yr.data[i] = 8.0f * yr.data[i];
            CU_ASSERT_EQUAL(nn_bias_act(cx.ref, &yr, bias.data, acts[a].act, 0.1f), NN_OK);
            CU_ASSERT_EQUAL(nn_bias_act(cx.dnn, &yd, bias.data, acts[a].act, 0.1f), NN_OK);
            char name[64];
            snprintf(name, sizeof name, "bias + %s (%d-D)", acts[a].name, nd);
            CU_ASSERT(fx_close(name, &yd, &yr, TOL));
            /* y += x + b, twice */
            nn_tensor x = {0}, acc_r = {0}, acc_d = {0};
            rand_tensor(&x, nd, shapes[sh], &seed);
            rand_tensor(&acc_r, nd, shapes[sh], &seed);
            CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&acc_d, nd, shapes[sh]), NN_OK);
            memcpy(acc_d.data, acc_r.data, nn_tensor_numel(&x) * sizeof(float));
            for (int k = 0; k < 2; k++) {
                CU_ASSERT_EQUAL(nn_bias_residual(cx.ref, &x, bias.data, &acc_r), NN_OK);
                CU_ASSERT_EQUAL(nn_bias_residual(cx.dnn, &x, bias.data, &acc_d), NN_OK);
            }
            snprintf(name, sizeof name, "bias + residual (%d-D)", nd);
            CU_ASSERT(fx_close(name, &acc_d, &acc_r, TOL));
            nn_tensor_free(&x), nn_tensor_free(&acc_r), nn_tensor_free(&acc_d);
            nn_tensor_free(&yr), nn_tensor_free(&yd), nn_tensor_free(&bias);
        }
    nn_tensor x = {0}, w = {0}, yr = {0}, yd = {0};
    int xs2[4] = {1, 24, 16, 12}, ws[4] = {48, 24, 1, 1};
    rand_tensor(&x, 4, xs2, &seed);
    rand_tensor(&w, 4, ws, &seed);
    nn_conv_params p = nn_conv_default();
    CU_ASSERT_EQUAL(nn_conv2d(cx.ref, &x, &w, NULL, &p, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x, &w, NULL, &p, &yd), NN_OK);
    CU_ASSERT(fx_close("conv2d 1x1 24->48 no bias", &yd, &yr, TOL));
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&yr), nn_tensor_free(&yd);
    close_ctxs(&cx);
}

/* A whole Swin-V2 block against ref, on the PyTorch fixture (onednn: its matmuls; cuda: the
 * whole block, gathers and window attention included). */
static void test_swin(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    nn_weights *ws = fx_load("swin_shift");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_swin_block b = fx_swin_block(ws);
    nn_tensor x = fx_tensor(ws, "x"), yr = {0}, yd = {0};
    nn_tensor_alloc(&yr, x.ndim, x.shape);
    nn_tensor_alloc(&yd, x.ndim, x.shape);
    memcpy(yr.data, x.data, nn_tensor_numel(&x) * sizeof(float));
    memcpy(yd.data, x.data, nn_tensor_numel(&x) * sizeof(float));
    CU_ASSERT_EQUAL(nn_swin_block_forward(cx.ref, &b, &yr), NN_OK);
    CU_ASSERT_EQUAL(nn_swin_block_forward(cx.dnn, &b, &yd), NN_OK);
    CU_ASSERT(fx_close("swin-v2 block", &yd, &yr, TOL));
    nn_tensor_free(&yr), nn_tensor_free(&yd);
    nn_weights_free(ws);
    close_ctxs(&cx);
}

/* GroupNorm, LayerNorm (channels and token rows, with the residual), Snake, add, per-channel
 * gain and pixel shuffle against ref. */
static void test_norms(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 8;
    int s4[4] = {2, 16, 40, 70}, cs[1] = {16};
    nn_tensor x = {0}, g = {0}, b = {0};
    rand_tensor(&x, 4, s4, &seed), rand_tensor(&g, 1, cs, &seed), rand_tensor(&b, 1, cs, &seed);
    for (int op = 0; op < 5; op++) {
        nn_tensor yr = {0}, yd = {0};
        CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&yr, 4, s4), NN_OK);
        CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&yd, 4, s4), NN_OK);
        memcpy(yr.data, x.data, nn_tensor_numel(&x) * sizeof(float));
        memcpy(yd.data, x.data, nn_tensor_numel(&x) * sizeof(float));
        const char *name[5] = {"group norm (4 groups)", "layer norm (channels)", "snake",
                               "channel gain + bias", "add"};
        int ra = 0, rb = 0;
        switch (op) {
        case 0:
            ra = nn_group_norm(cx.ref, &yr, 4, g.data, b.data, 1e-5f);
            rb = nn_group_norm(cx.dnn, &yd, 4, g.data, b.data, 1e-5f);
            break;
        case 1:
            ra = nn_layer_norm(cx.ref, &yr, g.data, b.data, 1e-5f);
            rb = nn_layer_norm(cx.dnn, &yd, g.data, b.data, 1e-5f);
            break;
        case 2:
            for (int i = 0; i < 16; i++)
                g.data[i] = 0.5f + (g.data[i] + 1.0f);
            ra = nn_snake(cx.ref, &yr, g.data);
            rb = nn_snake(cx.dnn, &yd, g.data);
            break;
        case 3:
            ra = nn_channel_scale(cx.ref, &yr, g.data, b.data);
            rb = nn_channel_scale(cx.dnn, &yd, g.data, b.data);
            break;
        default:
            ra = nn_add(cx.ref, &x, &yr, &yr);
            rb = nn_add(cx.dnn, &x, &yd, &yd);
            break;
        }
        CU_ASSERT_EQUAL(ra, NN_OK);
        CU_ASSERT_EQUAL(rb, NN_OK);
        CU_ASSERT(fx_close(name[op], &yd, &yr, TOL));
        nn_tensor_free(&yr), nn_tensor_free(&yd);
    }
    /* token rows: LayerNorm in place and added to a residual */
    int rs[2] = {300, 40}, c40[1] = {40};
    nn_tensor t = {0}, tg = {0}, tb = {0}, rr = {0}, rd = {0}, tr = {0}, td = {0};
    rand_tensor(&t, 2, rs, &seed), rand_tensor(&tg, 1, c40, &seed), rand_tensor(&tb, 1, c40, &seed);
    rand_tensor(&rr, 2, rs, &seed);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&rd, 2, rs), NN_OK);
    memcpy(rd.data, rr.data, nn_tensor_numel(&rr) * sizeof(float));
    CU_ASSERT_EQUAL(nn_layer_norm_add(cx.ref, &t, tg.data, tb.data, 1e-5f, &rr), NN_OK);
    CU_ASSERT_EQUAL(nn_layer_norm_add(cx.dnn, &t, tg.data, tb.data, 1e-5f, &rd), NN_OK);
    CU_ASSERT(fx_close("layer norm + residual (rows)", &rd, &rr, TOL));
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&tr, 2, rs), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(&td, 2, rs), NN_OK);
    memcpy(tr.data, t.data, nn_tensor_numel(&t) * sizeof(float));
    memcpy(td.data, t.data, nn_tensor_numel(&t) * sizeof(float));
    CU_ASSERT_EQUAL(nn_layer_norm(cx.ref, &tr, tg.data, tb.data, 1e-5f), NN_OK);
    CU_ASSERT_EQUAL(nn_layer_norm(cx.dnn, &td, tg.data, tb.data, 1e-5f), NN_OK);
    CU_ASSERT(fx_close("layer norm (rows)", &td, &tr, TOL));
    /* pixel shuffle, 2-D and 1-D */
    nn_tensor p2r = {0}, p2d = {0}, p1r = {0}, p1d = {0}, x1 = {0};
    CU_ASSERT_EQUAL(nn_pixel_shuffle(cx.ref, &x, 2, &p2r), NN_OK);
    CU_ASSERT_EQUAL(nn_pixel_shuffle(cx.dnn, &x, 2, &p2d), NN_OK);
    CU_ASSERT(fx_close("pixel shuffle 2-D", &p2d, &p2r, 0.0));
    int s3[3] = {2, 12, 50};
    rand_tensor(&x1, 3, s3, &seed);
    CU_ASSERT_EQUAL(nn_pixel_shuffle(cx.ref, &x1, 3, &p1r), NN_OK);
    CU_ASSERT_EQUAL(nn_pixel_shuffle(cx.dnn, &x1, 3, &p1d), NN_OK);
    CU_ASSERT(fx_close("pixel shuffle 1-D", &p1d, &p1r, 0.0));
    nn_tensor_free(&p2r), nn_tensor_free(&p2d), nn_tensor_free(&p1r), nn_tensor_free(&p1d);
    nn_tensor_free(&x1), nn_tensor_free(&t), nn_tensor_free(&tg), nn_tensor_free(&tb);
    nn_tensor_free(&rr), nn_tensor_free(&rd), nn_tensor_free(&tr), nn_tensor_free(&td);
    nn_tensor_free(&x), nn_tensor_free(&g), nn_tensor_free(&b);
    close_ctxs(&cx);
}

/* The lifting packets through the context, the image models' 2-D and the audio models' 1-D
 * (cuda: its own kernels; onednn: the C code), forward and inverse: ref's bits. */
static void test_lifting(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 10;
    int xs[4] = {1, 3, 64, 96};
    nn_tensor x = {0}, fr = {0}, fd = {0}, br = {0}, bd = {0};
    rand_tensor(&x, 4, xs, &seed);
    CU_ASSERT_EQUAL(nn_lifting97(cx.ref, &x, 2, 0, &fr), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97(cx.dnn, &x, 2, 0, &fd), NN_OK);
    CU_ASSERT(fx_close("lifting 9/7, 2 levels", &fd, &fr, 0.0));
    CU_ASSERT_EQUAL(nn_lifting97(cx.ref, &fr, 2, 1, &br), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97(cx.dnn, &fd, 2, 1, &bd), NN_OK);
    CU_ASSERT(fx_close("lifting 9/7 inverse", &bd, &br, 0.0));
    CU_ASSERT(fx_close("lifting 9/7 round trip", &bd, &x, 1e-5));
    nn_tensor_free(&x), nn_tensor_free(&fr), nn_tensor_free(&fd);
    nn_tensor_free(&br), nn_tensor_free(&bd);
    int as[3] = {2, 1, 640}; /* the audio models' 1-D packet, 4 levels */
    rand_tensor(&x, 3, as, &seed);
    CU_ASSERT_EQUAL(nn_lifting97_1d(cx.ref, &x, 4, 0, &fr), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97_1d(cx.dnn, &x, 4, 0, &fd), NN_OK);
    CU_ASSERT(fx_close("lifting 9/7 1-D, 4 levels", &fd, &fr, 0.0));
    CU_ASSERT_EQUAL(nn_lifting97_1d(cx.ref, &fr, 4, 1, &br), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97_1d(cx.dnn, &fd, 4, 1, &bd), NN_OK);
    CU_ASSERT(fx_close("lifting 9/7 1-D inverse", &bd, &br, 0.0));
    nn_tensor_free(&x), nn_tensor_free(&fr), nn_tensor_free(&fd);
    nn_tensor_free(&br), nn_tensor_free(&bd);
    close_ctxs(&cx);
}

/* Where tensors live (cuda: layer outputs are the backend's managed memory, chained from op to
 * op on the device; onednn: plain memory): host code may read and change them between ops;
 * outputs into a caller's plain host memory (a view) are staged and copied back; a tensor
 * freed after its context is released with the backend's own release. */
static void test_residency(void)
{
    ctxs cx;
    if (!open_ctxs(&cx)) return;
    uint64_t seed = 9;
    int xs[4] = {1, 8, 30, 20}, ws[4] = {8, 8, 3, 3}, bs[1] = {8};
    nn_tensor x = {0}, w = {0}, b = {0};
    rand_tensor(&x, 4, xs, &seed), rand_tensor(&w, 4, ws, &seed), rand_tensor(&b, 1, bs, &seed);
    nn_conv_params p = nn_conv_default();
    p.pad_h = p.pad_w = 1;
    nn_tensor r1 = {0}, r2 = {0}, d1 = {0}, d2 = {0};
    /* conv -> GELU -> (host edit) -> conv: the ref chain and the cuda chain */
    CU_ASSERT_EQUAL(nn_conv2d(cx.ref, &x, &w, b.data, &p, &r1), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &x, &w, b.data, &p, &d1), NN_OK);
    CU_ASSERT(IS_CUDA ? d1.release != NULL : d1.release == NULL); /* whose memory */
    CU_ASSERT_EQUAL(nn_activation(cx.ref, NN_ACT_GELU, 0, &r1), NN_OK);
    CU_ASSERT_EQUAL(nn_activation(cx.dnn, NN_ACT_GELU, 0, &d1), NN_OK);
    CU_ASSERT_EQUAL(nn_context_sync(cx.dnn), NN_OK);
    for (size_t i = 0; i < nn_tensor_numel(&r1); i += 5) { /* host code between ops */
        r1.data[i] = 2.0f - r1.data[i];
        d1.data[i] = 2.0f - d1.data[i];
    }
    CU_ASSERT_EQUAL(nn_conv2d(cx.ref, &r1, &w, NULL, &p, &r2), NN_OK);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &d1, &w, NULL, &p, &d2), NN_OK);
    CU_ASSERT(fx_close("chain conv, gelu, host edit, conv", &d2, &r2, 1e-4));
    /* into plain host memory the caller owns */
    float *mine = calloc(nn_tensor_numel(&r2), sizeof(float));
    CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
    nn_tensor view = nn_tensor_view(mine, 4, r2.shape);
    CU_ASSERT_EQUAL(nn_conv2d(cx.dnn, &d1, &w, NULL, &p, &view), NN_OK);
    CU_ASSERT(fx_close("output into host memory", &view, &r2, 1e-4));
    free(mine);
    nn_tensor_free(&r1), nn_tensor_free(&r2), nn_tensor_free(&d1);
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&b);
    /* the work memory is the backend's too, and usable from the host */
    float *work = nn_context_work(cx.dnn, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(work);
    for (int i = 0; i < 1000; i++)
        work[i] = (float)i;
    CU_ASSERT_EQUAL(work[999], 999.0f);
    close_ctxs(&cx);
    nn_tensor_free(&d2); /* after its context */
}
/* The context's thread count is applied to OpenMP only for the duration of a call: the
 * caller's own setting is restored (oneDNN 2.6 on Debian uses OpenMP). */
static void test_threads_restored(void)
{
    void *get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!get || !set) {
        printf("\n    no OpenMP runtime in the process: nothing to check");
        return;
    }
    int (*omp_get)(void);
    void (*omp_set)(int);
    memcpy(&omp_get, &get, sizeof get);
    memcpy(&omp_set, &set, sizeof set);
    int before = omp_get();
    omp_set(3);
    nn_context *ctx;
    CU_ASSERT_EQUAL_FATAL(nn_context_create("onednn", 1, &ctx, NULL, 0), NN_OK);
    nn_tensor x = {0}, w = {0}, y = {0};
    nn_tensor_alloc4(&x, 1, 4, 8, 8);
    nn_tensor_alloc4(&w, 4, 4, 3, 3);
    nn_conv_params p = nn_conv_default();
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT_EQUAL(omp_get(), 3);
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&y);
    nn_context_destroy(ctx);
    omp_set(before);
}

void neco_test_register(void)
{
#ifdef NECO_HAVE_CUDA
    if (IS_CUDA) {
        char name[256] = "", err[256] = "";
        if (nn_cuda_devices(name, sizeof name) < 1) {
            nn_context *c = NULL;
            if (nn_context_create("cuda", 1, &c, err, sizeof err) == NN_OK) nn_context_destroy(c);
            printf("test_nets_cuda: skipped: %s\n", err[0] ? err : "no CUDA device");
            exit(77);
        }
        printf("test_nets_cuda: device 0: %s\n", name);
    }
#endif
    NECO_SUITE("nets_" NN_TEST_BACKEND, {"conv", test_conv}, {"matmul", test_matmul},
               {"cache", test_cache}, {"other_thread", test_other_thread}, {"gdn", test_gdn},
               {"activation", test_activation}, {"norms and shuffles", test_norms},
               {"residency", test_residency}, {"lifting", test_lifting}, {"swin", test_swin});
    if (!IS_CUDA) NECO_SUITE("nets_onednn_openmp", {"threads_restored", test_threads_restored});
}
