/* bench_nets: per-op and per-graph times of the nets/ backends (a program, not a test; built
 * with the tests, not run by ctest).
 *
 *   bench_nets [threads] [repeats] [filter]
 *
 * filter: run only the rows whose name contains it (e.g. "3x3"); default all.
 *
 * Besides times it measures this CPU's peak float throughput: a loop of independent FMAs
 * (12 accumulators in registers, so latency is hidden) on 256-bit (AVX2+FMA) and, where the
 * CPU has it, 512-bit (AVX-512F) registers, run on every thread at once, best of 60 short runs;
 * peak = the best FLOP/s seen. The 3x3 conv target of issue 4 (>= 40 % of peak, >= 5x ref)
 * is reported against that peak. On a loaded machine every figure is low: run it idle. */
#define _POSIX_C_SOURCE 200809L
#include "nets/layers.h"
#include "nets/swin.h"
#include "nets/wavelet.h"
#include "test_nets_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#ifdef HAVE_X86
/* Short runs (about 3 ms each at 512 bits), many of them: on a shared machine the best of many
 * short runs finds a stretch where no other process had the core; long runs only average the
 * contention in. */
enum { FMA_ITERS = 2000000, PEAK_RUNS = 60 };

/* 12 independent FMA chains (enough to cover FMA latency x pipes on current x86 cores), as
 * named variables so that they stay in registers: FMA_ITERS * 12 * lanes * 2 FLOP. */
#define FMA12(fma)                                                                                 \
    a0 = fma(a0, m, c), a1 = fma(a1, m, c), a2 = fma(a2, m, c), a3 = fma(a3, m, c);                \
    a4 = fma(a4, m, c), a5 = fma(a5, m, c), a6 = fma(a6, m, c), a7 = fma(a7, m, c);                \
    a8 = fma(a8, m, c), a9 = fma(a9, m, c), a10 = fma(a10, m, c), a11 = fma(a11, m, c)

__attribute__((target("avx2,fma"))) static float fma256(void)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    /* Distinct starting values: chains that start equal are the same computation, and the
     * compiler merges them (it did: 12 chains became 2, one FMA latency per iteration was
     * counted as 12 FMAs, and the "peak" came out 1.5x too high on Zen 5). */
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f),
           a3 = _mm256_set1_ps(0.4f), a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f),
           a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f), a8 = _mm256_set1_ps(0.9f),
           a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
    for (long it = 0; it < FMA_ITERS; it++) {
        FMA12(_mm256_fmadd_ps);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx512f"))) static float fma512(void)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    /* Distinct starting values, as in fma256. */
    __m512 a0 = _mm512_set1_ps(0.1f), a1 = _mm512_set1_ps(0.2f), a2 = _mm512_set1_ps(0.3f),
           a3 = _mm512_set1_ps(0.4f), a4 = _mm512_set1_ps(0.5f), a5 = _mm512_set1_ps(0.6f),
           a6 = _mm512_set1_ps(0.7f), a7 = _mm512_set1_ps(0.8f), a8 = _mm512_set1_ps(0.9f),
           a9 = _mm512_set1_ps(1.0f), a10 = _mm512_set1_ps(1.1f), a11 = _mm512_set1_ps(1.2f);
    for (long it = 0; it < FMA_ITERS; it++) {
        FMA12(_mm512_fmadd_ps);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

typedef struct peak_arg {
    int wide;
    float sink;
} peak_arg;

static void *peak_thread(void *v)
{
    peak_arg *a = v;
    a->sink = a->wide ? fma512() : fma256();
    return NULL;
}

/* FLOP/s of `threads` threads running the FMA loop at once. */
static double peak_flops(int wide, int threads)
{
    pthread_t t[64];
    peak_arg args[64];
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        args[i].wide = wide;
        pthread_create(&t[i], NULL, peak_thread, &args[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now() - t0;
    return (double)FMA_ITERS * 12 * (wide ? 16 : 8) * 2 * threads / dt;
}
#endif

typedef int (*op_fn)(nn_context *ctx, void *arg);

/* Best of `repeats` calls after a first one; *first (when not NULL) gets the first call's
 * time, which includes what a backend does once per layer (oneDNN: primitive creation, JIT,
 * the weights' reorder; both: allocating the output). */
static double time_op(nn_context *ctx, op_fn fn, void *arg, int repeats, double *first)
{
    double t0 = now();
    if (fn(ctx, arg) != NN_OK) return -1;
    if (first) *first = now() - t0;
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        t0 = now();
        fn(ctx, arg);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

typedef struct conv_arg {
    nn_tensor x, w, b, y;
    nn_conv_params p;
    int transposed;
} conv_arg;

static int conv_run(nn_context *ctx, void *v)
{
    conv_arg *a = v;
    return a->transposed ? nn_conv_transpose2d(ctx, &a->x, &a->w, a->b.data, &a->p, &a->y)
                         : nn_conv2d(ctx, &a->x, &a->w, a->b.data, &a->p, &a->y);
}

static void conv_setup(conv_arg *a, int c, int h, int w, int o, int k, int stride, int pad,
                       int groups, int transposed, uint64_t *seed)
{
    memset(a, 0, sizeof *a);
    nn_tensor_alloc4(&a->x, 1, c, h, w);
    if (transposed)
        nn_tensor_alloc4(&a->w, c, o / groups, k, k);
    else
        nn_tensor_alloc4(&a->w, o, c / groups, k, k);
    int bs[1] = {o};
    nn_tensor_alloc(&a->b, 1, bs);
    fx_random(seed, a->x.data, nn_tensor_numel(&a->x));
    fx_random(seed, a->w.data, nn_tensor_numel(&a->w));
    a->p = nn_conv_default();
    a->p.stride_h = a->p.stride_w = stride;
    a->p.pad_h = a->p.pad_w = pad;
    a->p.out_pad_h = a->p.out_pad_w = transposed ? stride - 1 : 0;
    a->p.groups = groups;
    a->transposed = transposed;
}

static void conv_free(conv_arg *a)
{
    nn_tensor_free(&a->x), nn_tensor_free(&a->w), nn_tensor_free(&a->b), nn_tensor_free(&a->y);
}

typedef struct mm_arg {
    nn_matmul_params p;
    float *a, *b, *c;
} mm_arg;

static int mm_run(nn_context *ctx, void *v)
{
    mm_arg *m = v;
    return nn_matmul(ctx, &m->p, m->a, m->b, NULL, m->c);
}

typedef struct swin_arg {
    nn_swin_block blk;
    nn_tensor x;
    float *params;
} swin_arg;

static int swin_run(nn_context *ctx, void *v)
{
    swin_arg *s = v;
    return nn_swin_block_forward(ctx, &s->blk, &s->x);
}

/* A decoder like img-swin/img-wave's g_s at 1/16 scale of a 1536x1024 tile: 3 x (transposed
 * conv 5x5 s2 128->128 + IGDN) + transposed conv 5x5 s2 128->3, from 96x64 x 128. */
typedef struct graph_arg {
    conv_arg up[4];
    float *gamma, *beta;
    nn_tensor t;
} graph_arg;

static int graph_run(nn_context *ctx, void *v)
{
    graph_arg *g = v;
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        rc = conv_run(ctx, &g->up[i]);
        if (!rc && i < 3) {
            rc = nn_gdn(ctx, &g->up[i].y, g->gamma, g->beta, 1, &g->t);
            if (!rc && i + 1 < 4) {
                nn_tensor_free(&g->up[i + 1].x);
                g->up[i + 1].x = g->t;
                memset(&g->t, 0, sizeof g->t);
            }
        }
    }
    return rc;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeats = argc > 2 ? atoi(argv[2]) : 5;
    const char *filter = argc > 3 ? argv[3] : "";
    if (threads < 1) threads = 1;
    if (repeats < 1) repeats = 1;
    uint64_t seed = 42;
    double peak = 0;
#ifdef HAVE_X86
    /* Best of PEAK_RUNS: another process on the same core can only lower a run's figure. */
    double p256 = 0, p512 = 0;
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    for (int r = 0; r < PEAK_RUNS; r++) {
        double f = peak_flops(0, threads);
        p256 = f > p256 ? f : p256;
        f = wide ? peak_flops(1, threads) : 0;
        p512 = f > p512 ? f : p512;
    }
    peak = p256 > p512 ? p256 : p512;
    printf("peak float throughput, %d thread(s): %.1f GFLOP/s with 256-bit FMA, %.1f GFLOP/s "
           "with 512-bit FMA -> peak %.1f GFLOP/s\n",
           threads, p256 * 1e-9, p512 * 1e-9, peak * 1e-9);
#endif
    const char *backends[2] = {"ref", "onednn"};
    nn_context *ctx[2] = {0};
    for (int b = 0; b < 2; b++) {
        char err[128];
        if (nn_context_create(backends[b], threads, &ctx[b], err, sizeof err))
            printf("backend %s: %s\n", backends[b], err);
    }
    FILE *la = fopen("/proc/loadavg", "r");
    char load[64] = "";
    if (la) {
        if (!fgets(load, sizeof load, la)) load[0] = 0;
        fclose(la);
    }
    printf("load average: %s", load[0] ? load : "unknown\n");
    printf("%-50s %10s %10s %8s %8s %12s\n", "op", "ref ms", "onednn ms", "speedup", "% peak",
           "onednn 1st");

    struct {
        const char *name;
        int c, h, w, o, k, stride, pad, groups, transposed;
    } convs[] = {
        {"conv2d 3x3 128->128 96x64", 128, 64, 96, 128, 3, 1, 1, 1, 0},
        {"conv2d 5x5 s2 3->128 384x256 (g_a in)", 3, 256, 384, 128, 5, 2, 2, 1, 0},
        {"conv2d 5x5 s2 128->128 192x128", 128, 128, 192, 128, 5, 2, 2, 1, 0},
        {"tconv2d 5x5 s2 128->128 96x64", 128, 64, 96, 128, 5, 2, 2, 1, 1},
        {"conv2d 1x1 192->192 96x64", 192, 64, 96, 192, 1, 1, 0, 1, 0},
        {"conv2d depthwise 7x7 128 96x64", 128, 64, 96, 128, 7, 1, 3, 128, 0},
        {"conv1d k7 64->64 L=16384 (as 2-D)", 64, 1, 16384, 64, 0, 1, 3, 1, 0},
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        if (!strstr(convs[i].name, filter)) continue;
        conv_arg a;
        int k = convs[i].k;
        conv_setup(&a, convs[i].c, convs[i].h, convs[i].w, convs[i].o, k ? k : 7, convs[i].stride,
                   convs[i].pad, convs[i].groups, convs[i].transposed, &seed);
        if (!k) { /* 1-D: a 1 x 7 kernel */
            nn_tensor_free(&a.w);
            nn_tensor_alloc4(&a.w, convs[i].o, convs[i].c, 1, 7);
            fx_random(&seed, a.w.data, nn_tensor_numel(&a.w));
            a.p.pad_h = 0;
        }
        double t[2] = {-1, -1}, first = -1;
        for (int b = 0; b < 2; b++)
            if (ctx[b]) t[b] = time_op(ctx[b], conv_run, &a, repeats, b ? &first : NULL);
        /* FLOPs: 2 MACs per weight per output position (input positions when transposed). */
        double pos =
            a.transposed ? (double)convs[i].h * convs[i].w : (double)a.y.shape[2] * a.y.shape[3];
        double flop = 2.0 * (double)nn_tensor_numel(&a.w) * pos;
        double pct = t[1] > 0 && peak > 0 ? 100.0 * flop / t[1] / peak : 0;
        printf("%-50s %10.2f %10.2f %7.1fx %7.1f%% %9.2f ms\n", convs[i].name, t[0] * 1e3,
               t[1] * 1e3, t[1] > 0 ? t[0] / t[1] : 0, pct, first * 1e3);
        if (i == 0 && t[0] > 0 && t[1] > 0 && peak > 0)
            printf("  issue 4 target (>= 40 %% of peak, >= 5x ref): %.0f %% of peak (%s), %.1fx "
                   "ref (%s); 5x ref would need %.0f %% of peak with direct-conv FLOPs\n",
                   pct, pct >= 40 ? "met" : "missed", t[0] / t[1],
                   t[0] / t[1] >= 5 ? "met" : "missed", 100.0 * flop / (t[0] / 5) / peak);
        conv_free(&a);
    }

    const char *name = "matmul q k^T 192 x (64x32 . 32x64)";
    if (strstr(name, filter)) {
        mm_arg m = {{48 * 4, 64, 64, 32, 1, 0}, NULL, NULL, NULL};
        size_t na = (size_t)m.p.batch * m.p.m * m.p.k, nc = (size_t)m.p.batch * m.p.m * m.p.n;
        m.a = malloc(na * sizeof(float)), m.b = malloc(na * sizeof(float));
        m.c = malloc(nc * sizeof(float));
        fx_random(&seed, m.a, na);
        fx_random(&seed, m.b, na);
        double tm[2] = {-1, -1};
        for (int b = 0; b < 2; b++)
            if (ctx[b]) tm[b] = time_op(ctx[b], mm_run, &m, repeats, NULL);
        printf("%-50s %10.2f %10.2f %7.1fx\n", name, tm[0] * 1e3, tm[1] * 1e3,
               tm[1] > 0 ? tm[0] / tm[1] : 0);
        free(m.a), free(m.b), free(m.c);
    }

    name = "swin-v2 block dim 128 window 8, 96x64";
    if (strstr(name, filter)) {
        /* Swin-V2 block, dim 128, 4 heads, window 8, shift 4, MLP x4, on 96x64. */
        swin_arg s;
        memset(&s, 0, sizeof s);
        int dim = 128, hid = 512;
        size_t np = (size_t)3 * dim * dim + 2 * dim + 4 + 512 * 3 + 4 * 512 + dim * dim + dim +
                    4 * dim + 2 * (size_t)hid * dim + hid + dim;
        s.params = malloc(np * sizeof(float));
        fx_random(&seed, s.params, np);
        float *q = s.params;
        nn_swin_block blk = {
            .dim = dim, .heads = 4, .window = 8, .shift = 4, .hidden = hid, .cpb_hidden = 512};
        blk.qkv_w = q, q += 3 * dim * dim;
        blk.q_bias = q, q += dim;
        blk.v_bias = q, q += dim;
        blk.logit_scale = q, q += 4;
        blk.cpb_w1 = q, q += 1024;
        blk.cpb_b1 = q, q += 512;
        blk.cpb_w2 = q, q += 4 * 512;
        blk.proj_w = q, q += dim * dim;
        blk.proj_b = q, q += dim;
        blk.norm1_w = q, q += dim;
        blk.norm1_b = q, q += dim;
        blk.norm2_w = q, q += dim;
        blk.norm2_b = q, q += dim;
        blk.fc1_w = q, q += hid * dim;
        blk.fc1_b = q, q += hid;
        blk.fc2_w = q, q += hid * dim;
        blk.fc2_b = q;
        s.blk = blk;
        nn_tensor_alloc4(&s.x, 1, dim, 64, 96);
        fx_random(&seed, s.x.data, nn_tensor_numel(&s.x));
        double ts[2] = {-1, -1}, first = -1;
        for (int b = 0; b < 2; b++)
            if (ctx[b]) ts[b] = time_op(ctx[b], swin_run, &s, repeats, b ? &first : NULL);
        printf("%-50s %10.2f %10.2f %7.1fx %8s %9.2f ms\n", name, ts[0] * 1e3, ts[1] * 1e3,
               ts[1] > 0 ? ts[0] / ts[1] : 0, "", first * 1e3);
        nn_tensor_free(&s.x);
        free(s.params);
    }

    name = "wavelet packet 2 levels 3x1536x1024 fwd/inv";
    if (strstr(name, filter)) {
        nn_tensor img = {0}, coef = {0}, back = {0};
        nn_tensor_alloc4(&img, 1, 3, 1024, 1536);
        fx_random(&seed, img.data, nn_tensor_numel(&img));
        double t0 = now();
        nn_wpt2d_forward(&img, 2, &coef);
        double t1 = now();
        nn_wpt2d_inverse(&coef, 2, 1024, 1536, &back);
        double t2 = now();
        printf("%-50s %10.2f %10s\n", "wavelet packet 2 levels 3x1536x1024 fwd", (t1 - t0) * 1e3,
               "(ref only)");
        printf("%-50s %10.2f %10s\n", "wavelet packet 2 levels 3x1536x1024 inv", (t2 - t1) * 1e3,
               "(ref only)");
        nn_tensor_free(&img), nn_tensor_free(&coef), nn_tensor_free(&back);
    }

    name = "graph: g_s 4x(tconv 5x5 s2 + IGDN) 96x64->1536x1024";
    if (strstr(name, filter)) {
        double tg[2] = {-1, -1}, first = -1;
        for (int b = 0; b < 2; b++) {
            if (!ctx[b]) continue;
            graph_arg g;
            memset(&g, 0, sizeof g);
            int hh = 64, ww = 96;
            for (int i = 0; i < 4; i++, hh *= 2, ww *= 2)
                conv_setup(&g.up[i], 128, hh, ww, i == 3 ? 3 : 128, 5, 2, 2, 1, 1, &seed);
            g.gamma = calloc(128 * 128, sizeof(float));
            g.beta = malloc(128 * sizeof(float));
            for (int i = 0; i < 128; i++)
                g.gamma[i * 129] = 0.1f, g.beta[i] = 1.0f;
            tg[b] = time_op(ctx[b], graph_run, &g, repeats > 2 ? 2 : repeats, b ? &first : NULL);
            for (int i = 0; i < 4; i++)
                conv_free(&g.up[i]);
            nn_tensor_free(&g.t);
            free(g.gamma), free(g.beta);
        }
        printf("%-50s %10.2f %10.2f %7.1fx %8s %9.2f ms\n", name, tg[0] * 1e3, tg[1] * 1e3,
               tg[1] > 0 ? tg[0] / tg[1] : 0, "", first * 1e3);
    }
    for (int b = 0; b < 2; b++)
        nn_context_destroy(ctx[b]);
    return 0;
}
