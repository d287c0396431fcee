/* nets/ ref backend: every op against PyTorch / PyWavelets fixtures (written by
 * train/make_nets_fixtures.py), with 1 and 3 threads (results must be bit-identical), plus
 * round trips and error paths. Tolerances are max abs error <= tol * max(1, max |ref|). */
#include "nets/intlayers.h"
#include "nets/layers.h"
#include "nets/attention.h"
#include "nets/swin.h"
#include "nets/vq.h"
#include "nets/wavelet.h"
#include "test.h"
#include "test_nets_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nn_context *make_ctx(int threads)
{
    nn_context *ctx = NULL;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(nn_context_create("ref", threads, &ctx, err, sizeof err), 0);
    return ctx;
}

static nn_conv_params conv_params(const int32_t *p)
{
    nn_conv_params c = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]};
    return c;
}

/* Runs a 2-D conv fixture with 1 and 3 threads. */
static void conv_fixture(const char *name, int transposed, int one_d, double tol)
{
    nn_weights *ws = fx_load(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), w = fx_tensor(ws, "w"), want = fx_tensor(ws, "y");
    const nn_weight *bw = nn_weights_find(ws, "b");
    const float *b = bw ? bw->f32 : NULL;
    const int32_t *p = fx_ints(ws, "p");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    nn_tensor first = {0};
    for (int threads = 1; threads <= 3; threads += 2) {
        nn_context *ctx = make_ctx(threads);
        nn_tensor y = {0};
        int rc;
        if (one_d) {
            nn_conv1d_params q = {p[0], p[1], p[2], p[3], p[4]};
            rc = transposed ? nn_conv_transpose1d(ctx, &x, &w, b, &q, &y)
                            : nn_conv1d(ctx, &x, &w, b, &q, &y);
        } else {
            nn_conv_params q = conv_params(p);
            rc = transposed ? nn_conv_transpose2d(ctx, &x, &w, b, &q, &y)
                            : nn_conv2d(ctx, &x, &w, b, &q, &y);
        }
        CU_ASSERT_EQUAL(rc, NN_OK);
        CU_ASSERT(fx_close(name, &y, &want, tol));
        if (threads == 1) {
            first = y;
        } else {
            CU_ASSERT(nn_tensor_same_shape(&first, &y) &&
                      !memcmp(first.data, y.data, nn_tensor_numel(&y) * sizeof(float)));
            nn_tensor_free(&y);
        }
        nn_context_destroy(ctx);
    }
    nn_tensor_free(&first);
    nn_weights_free(ws);
}

static void test_conv2d(void)
{
    conv_fixture("conv2d_a", 0, 0, 1e-5);
    conv_fixture("conv2d_b", 0, 0, 1e-5);
    conv_fixture("conv2d_dw", 0, 0, 1e-5);
    conv_fixture("conv2d_1x1", 0, 0, 1e-5);
}

static void test_conv1d(void)
{
    conv_fixture("conv1d", 0, 1, 1e-5);
    /* Output handling: an owned output is reused, a 3-D view is written in place. */
    nn_context *ctx = make_ctx(1);
    nn_tensor x = {0}, w = {0}, y = {0}, y2 = {0};
    nn_tensor_alloc3(&x, 1, 2, 30);
    nn_tensor_alloc3(&w, 3, 2, 5);
    uint64_t seed = 3;
    fx_random(&seed, x.data, 60);
    fx_random(&seed, w.data, 30);
    nn_conv1d_params p = nn_conv1d_default();
    p.pad = 2;
    CU_ASSERT_EQUAL_FATAL(nn_conv1d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT(y.ndim == 3 && y.shape[0] == 1 && y.shape[1] == 3 && y.shape[2] == 30 && y.owns);
    float *first = y.data;
    CU_ASSERT_EQUAL(nn_conv1d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT_PTR_EQUAL(y.data, first);
    float out[90];
    int vs[3] = {1, 3, 30};
    nn_tensor v = nn_tensor_view(out, 3, vs);
    CU_ASSERT_EQUAL(nn_conv1d(ctx, &x, &w, NULL, &p, &v), NN_OK);
    CU_ASSERT(v.data == out && v.ndim == 3 && !memcmp(out, y.data, sizeof out));
    p.stride = 2; /* the view no longer has the output's shape */
    CU_ASSERT_EQUAL(nn_conv1d(ctx, &x, &w, NULL, &p, &v), NN_ERR_ARG);
    CU_ASSERT(v.data == out && v.shape[2] == 30);
    CU_ASSERT_EQUAL(nn_conv1d(ctx, &x, &w, NULL, &p, &y2), NN_OK);
    CU_ASSERT(y2.ndim == 3 && y2.shape[2] == 15);
    nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&y), nn_tensor_free(&y2);
    nn_context_destroy(ctx);
}

static void test_conv_transpose(void)
{
    conv_fixture("tconv2d", 1, 0, 1e-5);
    conv_fixture("tconv2d_dil", 1, 0, 1e-5);
    conv_fixture("tconv1d", 1, 1, 1e-5);
}

/* The ref kernels against the scalar definition in ops.h, bit for bit: acc = 0; acc += w * x
 * over (ci, ky, kx) taps that reach an input sample; y = acc + bias. Shapes cover stride,
 * padding, dilation, groups and output padding; 3 threads. */
static void naive_conv(const nn_tensor *x, const nn_tensor *w, const float *b,
                       const nn_conv_params *p, int transposed, nn_tensor *y)
{
    int g = p->groups, c = x->shape[1], h = x->shape[2], wd = x->shape[3];
    int o = y->shape[1], ho = y->shape[2], wo = y->shape[3], kh = w->shape[2], kw = w->shape[3];
    int cg = c / g, og = o / g;
    for (int s = 0; s < x->shape[0]; s++)
        for (int oc = 0; oc < o; oc++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    int grp = oc / og;
                    float acc = 0.0f;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy, ix;
                                float wv;
                                if (transposed) {
                                    int ty = oy + p->pad_h - ky * p->dilation_h;
                                    int tx = ox + p->pad_w - kx * p->dilation_w;
                                    if (ty < 0 || tx < 0 || ty % p->stride_h || tx % p->stride_w)
                                        continue;
                                    iy = ty / p->stride_h, ix = tx / p->stride_w;
                                    wv = w->data[(((size_t)(grp * cg + ci) * og + oc % og) * kh +
                                                  ky) *
                                                     kw +
                                                 kx];
                                } else {
                                    iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                                    ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                                    wv = w->data[(((size_t)oc * cg + ci) * kh + ky) * kw + kx];
                                }
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                acc +=
                                    wv *
                                    x->data[(((size_t)s * c + grp * cg + ci) * h + iy) * wd + ix];
                            }
                    y->data[(((size_t)s * o + oc) * ho + oy) * wo + ox] = b ? acc + b[oc] : acc;
                }
}

static void test_definition(void)
{
    nn_context *ctx = make_ctx(3);
    uint64_t seed = 5;
    struct {
        int n, c, h, w, o, kh, kw;
        nn_conv_params p;
        int transposed;
    } cases[] = {
        {2, 6, 23, 19, 8, 3, 3, {1, 1, 1, 1, 1, 1, 2, 0, 0}, 0},
        {1, 5, 40, 33, 7, 5, 4, {2, 3, 2, 1, 1, 2, 1, 0, 0}, 0},
        {1, 9, 17, 70, 9, 1, 7, {1, 2, 0, 3, 1, 3, 3, 0, 0}, 0},
        {1, 130, 3, 5, 4, 1, 1, {1, 1, 0, 0, 1, 1, 1, 0, 0}, 0},
        {1, 6, 13, 17, 12, 3, 5, {2, 3, 1, 2, 2, 1, 6, 0, 0}, 0}, /* depthwise, multiplier 2 */
        {2, 4, 9, 9, 4, 7, 7, {1, 1, 3, 3, 1, 1, 4, 0, 0}, 0},
        /* stride 1 depthwise (conv.c's register-blocked loops): rows of 37 outputs (one whole
         * block pair and a part), multiplier 2 without padding, more padding than the kernel */
        {2, 6, 11, 37, 6, 5, 5, {1, 1, 2, 2, 1, 1, 6, 0, 0}, 0},
        {1, 3, 7, 20, 6, 3, 3, {1, 1, 0, 0, 1, 1, 3, 0, 0}, 0},
        {1, 4, 5, 40, 4, 3, 3, {1, 1, 2, 3, 1, 1, 4, 0, 0}, 0},
        {1, 2, 3, 70, 2, 1, 9, {1, 1, 0, 4, 1, 1, 2, 0, 0}, 0},
        {1, 3, 5, 30, 3, 1, 9, {1, 1, 0, 8, 1, 2, 3, 0, 0}, 0},
        {2, 6, 9, 7, 4, 5, 5, {2, 2, 2, 2, 1, 1, 2, 1, 1}, 1},
        {1, 4, 8, 11, 6, 4, 3, {3, 2, 1, 0, 1, 2, 1, 2, 1}, 1},
        {1, 3, 6, 6, 3, 3, 3, {2, 2, 0, 3, 2, 2, 1, 1, 0}, 1},
        {1, 8, 1, 50, 4, 1, 8, {1, 4, 0, 2, 1, 1, 2, 0, 3}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nn_conv_params *p = &cases[i].p;
        int g = p->groups, tr = cases[i].transposed;
        nn_tensor x = {0}, w = {0}, b = {0}, y = {0}, want = {0};
        nn_tensor_alloc4(&x, cases[i].n, cases[i].c, cases[i].h, cases[i].w);
        if (tr)
            nn_tensor_alloc4(&w, cases[i].c, cases[i].o / g, cases[i].kh, cases[i].kw);
        else
            nn_tensor_alloc4(&w, cases[i].o, cases[i].c / g, cases[i].kh, cases[i].kw);
        int bs[1] = {cases[i].o};
        nn_tensor_alloc(&b, 1, bs);
        fx_random(&seed, x.data, nn_tensor_numel(&x));
        fx_random(&seed, w.data, nn_tensor_numel(&w));
        fx_random(&seed, b.data, nn_tensor_numel(&b));
        int rc = tr ? nn_conv_transpose2d(ctx, &x, &w, b.data, p, &y)
                    : nn_conv2d(ctx, &x, &w, b.data, p, &y);
        CU_ASSERT_EQUAL_FATAL(rc, NN_OK);
        nn_tensor_alloc(&want, 4, y.shape);
        naive_conv(&x, &w, b.data, p, tr, &want);
        int same = !memcmp(y.data, want.data, nn_tensor_numel(&y) * sizeof(float));
        if (!same)
            printf("\ncase %zu differs from the definition by %.3g\n", i,
                   fx_max_err(y.data, want.data, nn_tensor_numel(&y)));
        CU_ASSERT(same);
        nn_tensor_free(&x), nn_tensor_free(&w), nn_tensor_free(&b);
        nn_tensor_free(&y), nn_tensor_free(&want);
    }
    /* matmul: C = sum_k A B (+ bias), k ascending. */
    nn_matmul_params mp = {3, 37, 29, 41, 1, 0};
    float a[3 * 37 * 41], bm[3 * 29 * 41], bias[29], c[3 * 37 * 29];
    fx_random(&seed, a, sizeof a / sizeof a[0]);
    fx_random(&seed, bm, sizeof bm / sizeof bm[0]);
    fx_random(&seed, bias, 29);
    CU_ASSERT_EQUAL(nn_matmul(ctx, &mp, a, bm, bias, c), NN_OK);
    int same = 1;
    for (int bi = 0; bi < 3; bi++)
        for (int i = 0; i < 37; i++)
            for (int jj = 0; jj < 29; jj++) {
                float acc = 0.0f;
                for (int k = 0; k < 41; k++)
                    acc += a[(bi * 37 + i) * 41 + k] * bm[(bi * 29 + jj) * 41 + k];
                same &= c[(bi * 37 + i) * 29 + jj] == acc + bias[jj];
            }
    CU_ASSERT(same);
    nn_context_destroy(ctx);
}

static void test_conv_errors(void)
{
    nn_context *ctx = make_ctx(1);
    nn_tensor x = {0}, w = {0}, y = {0};
    nn_tensor_alloc4(&x, 1, 4, 5, 5);
    nn_tensor_alloc4(&w, 6, 2, 3, 3);
    nn_conv_params p = nn_conv_default();
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_ERR_ARG); /* 2 != 4 / 1 */
    p.groups = 2;
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT(y.shape[1] == 6 && y.shape[2] == 3 && y.shape[3] == 3);
    p.groups = 3; /* 4 channels are not divisible into 3 groups */
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_ERR_ARG);
    p.groups = 2;
    p.dilation_h = 3; /* effective kernel 7 > 5 */
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_ERR_ARG);
    p.dilation_h = 1;
    p.stride_w = 0;
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_ERR_ARG);
    p = nn_conv_default();
    p.stride_h = p.stride_w = 2;
    p.out_pad_h = 2; /* must be < stride */
    nn_tensor wt = {0};
    nn_tensor_alloc4(&wt, 4, 3, 3, 3);
    CU_ASSERT_EQUAL(nn_conv_transpose2d(ctx, &x, &wt, NULL, &p, &y), NN_ERR_ARG);
    p.out_pad_h = 1;
    CU_ASSERT_EQUAL(nn_conv_transpose2d(ctx, &x, &wt, NULL, &p, &y), NN_OK);
    CU_ASSERT(y.shape[1] == 3 && y.shape[2] == 12 && y.shape[3] == 11);
    /* A view output of the wrong shape is refused, not overwritten. */
    float small[4];
    int vs[4] = {1, 1, 2, 2};
    nn_tensor v = nn_tensor_view(small, 4, vs);
    CU_ASSERT_EQUAL(nn_conv_transpose2d(ctx, &x, &wt, NULL, &p, &v), NN_ERR_ARG);
    nn_tensor_free(&x);
    nn_tensor_free(&w);
    nn_tensor_free(&wt);
    nn_tensor_free(&y);
    nn_context_destroy(ctx);
}

static void test_pixel_shuffle(void)
{
    nn_context *ctx = make_ctx(1);
    const char *names[2] = {"pixel_shuffle2d", "pixel_shuffle1d"};
    int r[2] = {2, 3};
    for (int i = 0; i < 2; i++) {
        nn_weights *ws = fx_load(names[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
        nn_tensor x = fx_tensor(ws, "x"), want = fx_tensor(ws, "y"), y = {0};
        CU_ASSERT_EQUAL(nn_pixel_shuffle(ctx, &x, r[i], &y), NN_OK);
        CU_ASSERT(fx_close(names[i], &y, &want, 0));
        CU_ASSERT_EQUAL(nn_pixel_shuffle(ctx, &x, 5, &y), NN_ERR_ARG);
        nn_tensor_free(&y);
        nn_weights_free(ws);
    }
    nn_context_destroy(ctx);
}

static void test_gdn(void)
{
    nn_context *ctx = make_ctx(3);
    nn_weights *ws = fx_load("gdn");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), g = fx_tensor(ws, "gamma"), b = fx_tensor(ws, "beta");
    nn_tensor want = fx_tensor(ws, "y"), want_inv = fx_tensor(ws, "y_inv"), y = {0};
    CU_ASSERT_EQUAL(nn_gdn(ctx, &x, g.data, b.data, 0, &y), NN_OK);
    CU_ASSERT(fx_close("gdn", &y, &want, 1e-6));
    CU_ASSERT_EQUAL(nn_gdn(ctx, &x, g.data, b.data, 1, &y), NN_OK);
    CU_ASSERT(fx_close("igdn", &y, &want_inv, 1e-6));
    nn_tensor_free(&y);
    nn_weights_free(ws);
    nn_context_destroy(ctx);
}

static void test_activations(void)
{
    nn_context *ctx = make_ctx(1);
    nn_weights *ws = fx_load("act");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x");
    struct {
        const char *name;
        nn_act act;
        double tol;
    } acts[] = {{"relu", NN_ACT_RELU, 0},
                {"leaky", NN_ACT_LEAKY_RELU, 0},
                {"gelu", NN_ACT_GELU, 1e-6},
                {"silu", NN_ACT_SILU, 1e-6}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        nn_tensor y = {0}, want = fx_tensor(ws, acts[i].name);
        nn_tensor_alloc(&y, x.ndim, x.shape);
        memcpy(y.data, x.data, nn_tensor_numel(&x) * sizeof(float));
        CU_ASSERT_EQUAL(nn_activation(ctx, acts[i].act, 0.1f, &y), NN_OK);
        CU_ASSERT(fx_close(acts[i].name, &y, &want, acts[i].tol));
        nn_tensor_free(&y);
    }
    nn_weights_free(ws);
    ws = fx_load("snake");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor sx = fx_tensor(ws, "x"), alpha = fx_tensor(ws, "alpha"), want = fx_tensor(ws, "y");
    nn_tensor y = {0};
    nn_tensor_alloc(&y, sx.ndim, sx.shape);
    memcpy(y.data, sx.data, nn_tensor_numel(&sx) * sizeof(float));
    CU_ASSERT_EQUAL(nn_snake(ctx, &y, alpha.data), NN_OK);
    CU_ASSERT(fx_close("snake", &y, &want, 1e-5));
    nn_tensor_free(&y);
    nn_weights_free(ws);
    nn_context_destroy(ctx);
}

static void norm_fixture(nn_context *ctx, const char *name, int group)
{
    nn_weights *ws = fx_load(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), g = fx_tensor(ws, "gamma"), b = fx_tensor(ws, "beta");
    nn_tensor want = fx_tensor(ws, "y"), y = {0};
    nn_tensor_alloc(&y, x.ndim, x.shape);
    memcpy(y.data, x.data, nn_tensor_numel(&x) * sizeof(float));
    int rc = group ? nn_group_norm(ctx, &y, 3, g.data, b.data, 1e-5f)
                   : nn_layer_norm(ctx, &y, g.data, b.data, 1e-6f);
    CU_ASSERT_EQUAL(rc, NN_OK);
    CU_ASSERT(fx_close(name, &y, &want, 1e-5));
    CU_ASSERT_EQUAL(nn_group_norm(ctx, &y, 4, g.data, b.data, 1e-5f), NN_ERR_ARG);
    nn_tensor_free(&y);
    nn_weights_free(ws);
}

static void test_norms(void)
{
    nn_context *ctx = make_ctx(1);
    norm_fixture(ctx, "group_norm", 1);
    norm_fixture(ctx, "layer_norm", 0);
    nn_context_destroy(ctx);
    /* token rows: LayerNorm + residual add in one pass = LayerNorm, then add, bit for bit (3
     * threads: 600 rows spread over tasks), x left unchanged; 37 channels: lanes and a tail */
    ctx = make_ctx(3);
    int shape[2] = {600, 37}, bs[1] = {37};
    nn_tensor x = {0}, y = {0}, ln = {0}, want = {0}, g = {0}, b = {0};
    uint64_t seed = 41;
    nn_tensor_alloc(&x, 2, shape), nn_tensor_alloc(&y, 2, shape);
    nn_tensor_alloc(&ln, 2, shape), nn_tensor_alloc(&g, 1, bs), nn_tensor_alloc(&b, 1, bs);
    fx_random(&seed, x.data, nn_tensor_numel(&x));
    fx_random(&seed, y.data, nn_tensor_numel(&y));
    fx_random(&seed, g.data, 37);
    fx_random(&seed, b.data, 37);
    memcpy(ln.data, x.data, nn_tensor_numel(&x) * sizeof(float));
    CU_ASSERT_EQUAL(nn_layer_norm(ctx, &ln, g.data, b.data, 1e-5f), NN_OK);
    CU_ASSERT_EQUAL(nn_add(ctx, &y, &ln, &want), NN_OK);
    memcpy(ln.data, x.data, nn_tensor_numel(&x) * sizeof(float));
    CU_ASSERT_EQUAL(nn_layer_norm_add(ctx, &x, g.data, b.data, 1e-5f, &y), NN_OK);
    CU_ASSERT(!memcmp(y.data, want.data, nn_tensor_numel(&y) * sizeof(float)));
    CU_ASSERT(!memcmp(x.data, ln.data, nn_tensor_numel(&x) * sizeof(float)));
    CU_ASSERT_EQUAL(nn_layer_norm_add(ctx, &x, g.data, b.data, 1e-5f, &x), NN_ERR_ARG);
    nn_tensor_free(&x), nn_tensor_free(&y), nn_tensor_free(&ln), nn_tensor_free(&want);
    nn_tensor_free(&g), nn_tensor_free(&b);
    nn_context_destroy(ctx);
}

static void test_add_scale(void)
{
    nn_context *ctx = make_ctx(1);
    nn_tensor a = {0}, b = {0}, y = {0};
    nn_tensor_alloc3(&a, 2, 3, 5);
    nn_tensor_alloc3(&b, 2, 3, 5);
    uint64_t s = 99;
    fx_random(&s, a.data, 30);
    fx_random(&s, b.data, 30);
    CU_ASSERT_EQUAL(nn_add(ctx, &a, &b, &y), NN_OK);
    int ok = 1;
    for (int i = 0; i < 30; i++)
        ok &= y.data[i] == a.data[i] + b.data[i];
    CU_ASSERT(ok);
    float g[3] = {2.0f, -1.0f, 0.5f}, off[3] = {0.0f, 1.0f, 0.0f};
    CU_ASSERT_EQUAL(nn_channel_scale(ctx, &y, g, off), NN_OK);
    ok = 1;
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int l = 0; l < 5; l++) {
                int i = (n * 3 + c) * 5 + l;
                ok &= y.data[i] == (a.data[i] + b.data[i]) * g[c] + off[c];
            }
    CU_ASSERT(ok);
    float before[30];
    memcpy(before, a.data, sizeof before);
    CU_ASSERT_EQUAL(nn_add(ctx, &a, &b, &a), NN_OK); /* in place */
    ok = 1;
    for (int i = 0; i < 30; i++)
        ok &= a.data[i] == before[i] + b.data[i];
    CU_ASSERT(ok);
    /* the fused bias ops: the same values as the bias, then the activation or the add */
    memcpy(before, y.data, sizeof before);
    CU_ASSERT_EQUAL(nn_bias_act(ctx, &y, off, NN_ACT_LEAKY_RELU, 0.25f), NN_OK);
    ok = 1;
    for (int i = 0; i < 30; i++) {
        float v = before[i] + off[i / 5 % 3];
        ok &= y.data[i] == (v >= 0.0f ? v : 0.25f * v);
    }
    CU_ASSERT(ok);
    memcpy(before, y.data, sizeof before);
    CU_ASSERT_EQUAL(nn_bias_residual(ctx, &b, g, &y), NN_OK);
    ok = 1;
    for (int i = 0; i < 30; i++)
        ok &= y.data[i] == before[i] + (b.data[i] + g[i / 5 % 3]);
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(nn_bias_residual(ctx, &y, g, &y), NN_ERR_ARG); /* aliased */
    nn_tensor c = {0};
    nn_tensor_alloc3(&c, 2, 3, 4);
    CU_ASSERT_EQUAL(nn_add(ctx, &a, &c, &y), NN_ERR_ARG);
    CU_ASSERT_EQUAL(nn_bias_residual(ctx, &c, g, &y), NN_ERR_ARG); /* shapes differ */
    nn_tensor_free(&a);
    nn_tensor_free(&b);
    nn_tensor_free(&c);
    nn_tensor_free(&y);
    nn_context_destroy(ctx);
}

static void test_matmul(void)
{
    nn_weights *ws = fx_load("matmul");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor a = fx_tensor(ws, "a"), b = fx_tensor(ws, "b"), bias = fx_tensor(ws, "bias");
    nn_tensor want = fx_tensor(ws, "c"), b2 = fx_tensor(ws, "b2"), want2 = fx_tensor(ws, "c2");
    for (int threads = 1; threads <= 3; threads += 2) {
        nn_context *ctx = make_ctx(threads);
        float c[3 * 5 * 6], c2[3 * 5 * 4];
        nn_matmul_params p = {3, 5, 6, 7, 1, 0};
        CU_ASSERT_EQUAL(nn_matmul(ctx, &p, a.data, b.data, bias.data, c), NN_OK);
        nn_tensor got = nn_tensor_view(c, 3, want.shape);
        CU_ASSERT(fx_close("matmul A B^T + bias", &got, &want, 1e-5));
        nn_matmul_params p2 = {3, 5, 4, 7, 0, 0};
        CU_ASSERT_EQUAL(nn_matmul(ctx, &p2, a.data, b2.data, NULL, c2), NN_OK);
        nn_tensor got2 = nn_tensor_view(c2, 3, want2.shape);
        CU_ASSERT(fx_close("matmul A B", &got2, &want2, 1e-5));
        /* linear = matmul with the weights shared by every row */
        int xs[2] = {15, 7}, wsz[2] = {6, 7};
        nn_tensor xr = nn_tensor_view(a.data, 2, xs), wr = nn_tensor_view(b.data, 2, wsz);
        nn_tensor y = {0};
        CU_ASSERT_EQUAL(nn_linear(ctx, &xr, &wr, bias.data, &y), NN_OK);
        CU_ASSERT(y.shape[0] == 15 && y.shape[1] == 6);
        CU_ASSERT(!memcmp(y.data, c, 5 * 6 * sizeof(float))); /* batch 0 uses b[0] */
        nn_tensor_free(&y);
        nn_context_destroy(ctx);
    }
    nn_weights_free(ws);
}

static void test_wavelet2d(void)
{
    nn_weights *ws = fx_load("wavelet2d");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), want = fx_tensor(ws, "y"), one = fx_tensor(ws, "level1_ch0");
    nn_tensor y = {0}, r = {0}, y1 = {0};
    CU_ASSERT_EQUAL(nn_wpt2d_forward(&x, 2, &y), NN_OK);
    CU_ASSERT(fx_close("wpt2d vs pywt packet", &y, &want, 1e-5));
    CU_ASSERT_EQUAL(nn_wpt2d_forward(&x, 1, &y1), NN_OK);
    int s4[4] = {1, 4, y1.shape[2], y1.shape[3]};
    nn_tensor ch0 = nn_tensor_view(y1.data, 4, s4);
    CU_ASSERT(fx_close("dwt2 vs pywt.dwt2", &ch0, &one, 1e-5));
    CU_ASSERT_EQUAL(nn_wpt2d_inverse(&want, 2, 13, 10, &r), NN_OK);
    CU_ASSERT(fx_close("iwpt2d of pywt coefficients", &r, &x, 1e-5));
    CU_ASSERT_EQUAL(nn_wpt2d_inverse(&want, 2, 20, 10, &r), NN_ERR_ARG); /* 20 -> 14 -> 11 */
    nn_tensor_free(&y);
    nn_tensor_free(&y1);
    nn_tensor_free(&r);
    nn_weights_free(ws);
    /* Perfect reconstruction for every size from 1 to 19 and 0 to 3 levels. */
    uint64_t s = 7;
    double worst = 0;
    for (int h = 1; h < 20; h += 1)
        for (int w = 1; w < 20; w += 3)
            for (int lv = 0; lv <= 3; lv++) {
                nn_tensor a = {0}, c = {0}, d = {0};
                nn_tensor_alloc4(&a, 2, 2, h, w);
                fx_random(&s, a.data, nn_tensor_numel(&a));
                CU_ASSERT_EQUAL_FATAL(nn_wpt2d_forward(&a, lv, &c), NN_OK);
                CU_ASSERT_EQUAL_FATAL(nn_wpt2d_inverse(&c, lv, h, w, &d), NN_OK);
                CU_ASSERT_FATAL(nn_tensor_same_shape(&a, &d));
                double e = fx_max_err(a.data, d.data, nn_tensor_numel(&a));
                worst = e > worst ? e : worst;
                nn_tensor_free(&a);
                nn_tensor_free(&c);
                nn_tensor_free(&d);
            }
    printf("\n    wpt2d reconstruction, sizes 1..19, levels 0..3: max error %.3g", worst);
    CU_ASSERT(worst < 1e-5);
}

static void test_wavelet1d(void)
{
    nn_weights *ws = fx_load("wavelet1d");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), want = fx_tensor(ws, "y"), y = {0}, r = {0};
    CU_ASSERT_EQUAL(nn_wpt1d_forward(&x, 3, &y), NN_OK);
    CU_ASSERT(fx_close("wpt1d vs pywt packet", &y, &want, 1e-5));
    CU_ASSERT_EQUAL(nn_wpt1d_inverse(&want, 3, 37, &r), NN_OK);
    CU_ASSERT(fx_close("iwpt1d of pywt coefficients", &r, &x, 1e-5));
    nn_tensor_free(&y);
    nn_tensor_free(&r);
    nn_weights_free(ws);
    uint64_t s = 11;
    double worst = 0;
    for (int l = 1; l < 80; l++)
        for (int lv = 0; lv <= 4; lv++) {
            nn_tensor a = {0}, c = {0}, d = {0};
            nn_tensor_alloc3(&a, 1, 3, l);
            fx_random(&s, a.data, nn_tensor_numel(&a));
            CU_ASSERT_EQUAL_FATAL(nn_wpt1d_forward(&a, lv, &c), NN_OK);
            CU_ASSERT_EQUAL_FATAL(c.shape[1], 3 << lv);
            CU_ASSERT_EQUAL_FATAL(nn_wpt1d_inverse(&c, lv, l, &d), NN_OK);
            double e = fx_max_err(a.data, d.data, nn_tensor_numel(&a));
            worst = e > worst ? e : worst;
            nn_tensor_free(&a);
            nn_tensor_free(&c);
            nn_tensor_free(&d);
        }
    printf("\n    wpt1d reconstruction, lengths 1..79, levels 0..4: max error %.3g", worst);
    CU_ASSERT(worst < 1e-5);
}

static void test_vq(void)
{
    nn_weights *ws = fx_load("vq");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    nn_tensor x = fx_tensor(ws, "x"), cb = fx_tensor(ws, "codebook"), q = {0}, back = {0};
    const int32_t *want = fx_ints(ws, "idx");
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    int k = cb.shape[0], d = cb.shape[1], l = x.shape[2];
    int32_t idx[64];
    CU_ASSERT_EQUAL(nn_vq_nearest(&x, cb.data, k, idx, &q), NN_OK);
    CU_ASSERT_EQUAL(memcmp(idx, want, (size_t)l * sizeof(int32_t)), 0);
    CU_ASSERT_EQUAL(nn_vq_decode(idx, 1, l, cb.data, k, d, &back), NN_OK);
    float *kept = back.data; /* a second decode into the same tensor reuses it (no leak) */
    CU_ASSERT_EQUAL(nn_vq_decode(idx, 1, l, cb.data, k, d, &back), NN_OK);
    CU_ASSERT_PTR_EQUAL(back.data, kept);
    CU_ASSERT(nn_tensor_same_shape(&q, &back) &&
              !memcmp(q.data, back.data, nn_tensor_numel(&q) * sizeof(float)));
    /* Exact ties (codewords 3, 9, 12 are equal): the lowest index wins. */
    float v[4];
    for (int c = 0; c < d; c++)
        v[c] = cb.data[3 * d + c];
    int vs[3] = {1, d, 1};
    nn_tensor one = nn_tensor_view(v, 3, vs);
    CU_ASSERT_EQUAL(nn_vq_nearest(&one, cb.data, k, idx, NULL), NN_OK);
    CU_ASSERT_EQUAL(idx[0], 3);
    int32_t badidx[1] = {k};
    nn_tensor none = {0};
    CU_ASSERT_EQUAL(nn_vq_decode(badidx, 1, 1, cb.data, k, d, &none), NN_ERR_ARG);
    nn_tensor_free(&q);
    nn_tensor_free(&back);
    nn_weights_free(ws);
}

static void test_int_rescale(void)
{
    /* Rounding half up (INTEGER.md). */
    CU_ASSERT_EQUAL(nn_int_rescale(3, 1, 1, -32768, 32767), 2);   /* 1.5 -> 2 */
    CU_ASSERT_EQUAL(nn_int_rescale(-3, 1, 1, -32768, 32767), -1); /* -1.5 -> -1 */
    CU_ASSERT_EQUAL(nn_int_rescale(5, 1, 2, -32768, 32767), 1);   /* 1.25 -> 1 */
    CU_ASSERT_EQUAL(nn_int_rescale(-4, 1, 3, -32768, 32767), 0);  /* -0.5 -> 0 */
    CU_ASSERT_EQUAL(nn_int_rescale(-5, 1, 3, -32768, 32767), -1); /* -0.625 -> -1 */
    CU_ASSERT_EQUAL(nn_int_rescale(INT64_MAX / 32767, 32767, 62, -32768, 32767), 2);
    CU_ASSERT_EQUAL(nn_int_rescale(-3, 1, 3, -32768, 32767), 0);  /* -0.375 -> 0 */
    CU_ASSERT_EQUAL(nn_int_rescale(7, 3, 0, -32768, 32767), 21);
    CU_ASSERT_EQUAL(nn_int_rescale((int64_t)1 << 47, 32767, 10, -32768, 32767), 32767);
    CU_ASSERT_EQUAL(nn_int_rescale(-((int64_t)1 << 47), 32767, 62, -32768, 32767), -1);
    CU_ASSERT_EQUAL(nn_int_rescale(-100000, 1, 0, -32768, 32767), -32768);
    CU_ASSERT_EQUAL(nn_int_rescale(-5, 1, 0, 0, 32767), 0); /* ReLU by saturation */
}

static void int_fixture(const char *name, int transposed)
{
    nn_weights *ws = fx_load(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    const nn_weight *x = nn_weights_find(ws, "x"), *w = nn_weights_find(ws, "w"),
                    *want = nn_weights_find(ws, "y");
    CU_ASSERT_FATAL(x && w && want && x->dtype == NN_I16 && w->dtype == NN_I8);
    const int32_t *p = fx_ints(ws, "p"), *clamp = fx_ints(ws, "clamp");
    nn_int_conv l = {0};
    l.cin = x->shape[1];
    l.cout = want->shape[1];
    l.kh = w->shape[2];
    l.kw = w->shape[3];
    l.p = conv_params(p);
    l.transposed = transposed;
    l.w8 = w->ints;
    l.bias = fx_ints(ws, "bias");
    l.mult = fx_ints(ws, "mult");
    l.shift = fx_ints(ws, "shift");
    l.out_min = clamp[0];
    l.out_max = clamp[1];
    nn_itensor xi = {x->ints, x->shape[0], x->shape[1], x->shape[2], x->shape[3]};
    int16_t *buf = calloc(want->numel, sizeof *buf);
    nn_itensor yi = {buf, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(nn_int_conv2d(&l, &xi, &yi), NN_OK);
    CU_ASSERT(yi.c == want->shape[1] && yi.h == want->shape[2] && yi.w == want->shape[3]);
    CU_ASSERT_EQUAL(memcmp(buf, want->ints, want->numel * sizeof(int16_t)), 0);
    /* The same weights as int16 give the same outputs. */
    int16_t *w16 = malloc(w->numel * sizeof *w16);
    int16_t *buf16 = calloc(want->numel, sizeof *buf16);
    for (size_t i = 0; i < w->numel; i++)
        w16[i] = ((const int8_t *)w->ints)[i];
    nn_int_conv l16 = l;
    l16.w8 = NULL;
    l16.w16 = w16;
    nn_itensor y16 = {buf16, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(nn_int_conv2d(&l16, &xi, &y16), NN_OK);
    CU_ASSERT_EQUAL(memcmp(buf16, want->ints, want->numel * sizeof(int16_t)), 0);
    l16.w8 = w->ints; /* both set: refused */
    CU_ASSERT_EQUAL(nn_int_conv2d(&l16, &xi, &y16), NN_ERR_ARG);
    free(w16);
    free(buf16);
    int32_t bad_mult[16];
    memcpy(bad_mult, l.mult, (size_t)l.cout * sizeof(int32_t));
    bad_mult[0] = 32768; /* above the int16 range of multipliers */
    l.mult = bad_mult;
    CU_ASSERT_EQUAL(nn_int_conv2d(&l, &xi, &yi), NN_ERR_ARG);
    free(buf);
    nn_weights_free(ws);
}

static void test_int_conv(void)
{
    int_fixture("int_conv", 0);
    int_fixture("int_tconv", 1);
    int16_t in[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
    nn_itensor a = {in, 1, 4, 1, 2}, b = {out, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(nn_int_pixel_shuffle(&a, 2, &b), NN_OK);
    int16_t expect[8] = {1, 3, 2, 4, 5, 7, 6, 8}; /* [1,1,2,4]: rows (c0 c1 | c0 c1), (c2 c3 ...) */
    CU_ASSERT(b.c == 1 && b.h == 2 && b.w == 4);
    CU_ASSERT_EQUAL(memcmp(out, expect, sizeof out), 0);
}

static void swin_fixture(const char *name)
{
    nn_weights *ws = fx_load(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    const int32_t *cfg = fx_ints(ws, "cfg");
    nn_swin_block b = fx_swin_block(ws);
    nn_tensor x = fx_tensor(ws, "x"), want = fx_tensor(ws, "y");
    for (int threads = 1; threads <= 3; threads += 2) {
        nn_context *ctx = make_ctx(threads);
        nn_tensor y = {0};
        nn_tensor_alloc(&y, x.ndim, x.shape);
        memcpy(y.data, x.data, nn_tensor_numel(&x) * sizeof(float));
        CU_ASSERT_EQUAL(nn_swin_block_forward(ctx, &b, &y), NN_OK);
        CU_ASSERT(fx_close(name, &y, &want, 1e-4));
        nn_tensor_free(&y);
        nn_context_destroy(ctx);
    }
    /* A map of one window: the shift is dropped, as in the reference implementation. */
    nn_tensor one = {0}, one0 = {0};
    nn_tensor_alloc4(&one, 1, cfg[0], cfg[2], cfg[2]);
    uint64_t seed = 17;
    fx_random(&seed, one.data, nn_tensor_numel(&one));
    nn_tensor_alloc(&one0, 4, one.shape);
    memcpy(one0.data, one.data, nn_tensor_numel(&one) * sizeof(float));
    nn_context *c1 = make_ctx(1);
    nn_swin_block b0 = b;
    b0.shift = 0;
    CU_ASSERT_EQUAL(nn_swin_block_forward(c1, &b, &one), NN_OK);
    CU_ASSERT_EQUAL(nn_swin_block_forward(c1, &b0, &one0), NN_OK);
    CU_ASSERT(!memcmp(one.data, one0.data, nn_tensor_numel(&one) * sizeof(float)));
    nn_context_destroy(c1);
    nn_tensor_free(&one), nn_tensor_free(&one0);
    nn_tensor bad = {0};
    nn_tensor_alloc4(&bad, 1, cfg[0], 6, 8); /* 6 is not a multiple of the window */
    nn_context *ctx = make_ctx(1);
    CU_ASSERT_EQUAL(nn_swin_block_forward(ctx, &b, &bad), NN_ERR_ARG);
    nn_context_destroy(ctx);
    nn_tensor_free(&bad);
    nn_weights_free(ws);
}

/* nn_exp_det against exp in double, and the attention kernels: the vector forms give the
 * plain forms' bits (attention.h), for row lengths around the vector width. */
static void test_attention(void)
{
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = nn_exp_det(x);
        double rel = fabs(got - want) / want;
        worst = rel > worst ? rel : worst;
    }
    printf("\n    nn_exp_det: max relative error %.3g on [-87, 88]\n", worst);
    CU_ASSERT(worst < 2.5e-7); /* about 2 ulp */
    CU_ASSERT_EQUAL(nn_exp_det(0.0f), 1.0f);
    CU_ASSERT_EQUAL(nn_exp_det(-87.5f), 0.0f);
    CU_ASSERT_EQUAL(nn_exp_det(-INFINITY), 0.0f);
    CU_ASSERT_EQUAL(nn_exp_det(NAN), 0.0f);
    CU_ASSERT(isfinite(nn_exp_det(1e30f)) && nn_exp_det(1e30f) == nn_exp_det(88.0f));
    nn_attn_kernels plain, fast;
    nn_attn_kernels_get(&plain, 0);
    nn_attn_kernels_get(&fast, 1);
    uint64_t seed = 23;
    /* row lengths around the vector width, head sizes around 16 and 32, row counts around the
     * vector forms' blocks of 2 and 4 */
    const int nts[] = {1, 5, 16, 37, 64, 100}, hds[] = {1, 7, 24, 32, 40}, nrs[] = {1, 3, 6};
    enum { NT = 100, HD = 40, NR = 6 };
    static float q[NR * HD], kt[HD * NT], v[NT * HD], bias[NT], r1[NR * NT], r2[NR * NT];
    static float o1[NR * 48], o2[NR * 48];
    int lab[NT], same = 1;
    for (size_t a = 0; a < sizeof nts / sizeof nts[0]; a++)
        for (size_t b = 0; b < sizeof hds / sizeof hds[0]; b++)
            for (size_t c = 0; c < sizeof nrs / sizeof nrs[0]; c++) {
                int nt = nts[a], hd = hds[b], nr = nrs[c];
                fx_random(&seed, q, nr * hd);
                fx_random(&seed, kt, hd * nt);
                fx_random(&seed, v, nt * hd);
                fx_random(&seed, bias, nt);
                for (int t = 0; t < nt; t++)
                    lab[t] = t % 3;
                if (nr == 3) { /* the heads of nt token rows of nr heads */
                    enum { QKV = 3 * 3 * 40 * 100 };
                    static float qkv[QKV], p1[3 * QKV], p2[3 * QKV];
                    fx_random(&seed, qkv, 3 * nr * hd * nt);
                    for (int d = 0; d < hd; d++) /* token 0's q in head 0 is zero: norm 1e-12 */
                        qkv[d] = d % 2 ? 0.0f : -0.0f;
                    size_t hs = (size_t)nr * nt * hd;
                    plain.split_heads(qkv, nt, nr, hd, p1, p1 + hs, p1 + 2 * hs);
                    fast.split_heads(qkv, nt, nr, hd, p2, p2 + hs, p2 + 2 * hs);
                    same &= !memcmp(p1, p2, sizeof(float) * 3 * hs);
                }
                plain.scores(q, kt, hd, nt, nr, r1);
                fast.scores(q, kt, hd, nt, nr, r2);
                same &= !memcmp(r1, r2, sizeof(float) * (size_t)(nt * nr));
                float sums[NR];
                for (int r = 0; r < nr; r++) {
                    const int *lb = r % 2 ? lab : NULL;
                    float *row = r1 + (size_t)r * nt, copy[NT];
                    memcpy(copy, row, sizeof(float) * (size_t)nt);
                    float s1 = plain.softmax(row, bias, lb, 1, 7.5f, nt);
                    float s2 = fast.softmax(copy, bias, lb, 1, 7.5f, nt);
                    same &= s1 == s2 && !memcmp(row, copy, sizeof(float) * (size_t)nt);
                    double total = 0;
                    for (int t = 0; t < nt; t++)
                        total += row[t];
                    CU_ASSERT(fabs(total - s1) <= 1e-5 * s1 && s1 >= 1.0f);
                    sums[r] = s1;
                }
                plain.weighted(r1, v, sums, nt, hd, nr, o1, 48);
                fast.weighted(r1, v, sums, nt, hd, nr, o2, 48);
                for (int r = 0; r < nr; r++)
                    same &= !memcmp(o1 + r * 48, o2 + r * 48, sizeof(float) * (size_t)hd);
            }
    CU_ASSERT(same);
}

static void test_swin(void)
{
    swin_fixture("swin_shift");
    swin_fixture("swin_noshift");
}

void neco_test_register(void)
{
    NECO_SUITE("nets_ref", {"conv2d", test_conv2d}, {"conv1d", test_conv1d},
               {"conv_transpose", test_conv_transpose}, {"definition", test_definition},
               {"conv_errors", test_conv_errors}, {"pixel_shuffle", test_pixel_shuffle},
               {"gdn", test_gdn}, {"activations", test_activations}, {"norms", test_norms},
               {"add_scale", test_add_scale}, {"matmul", test_matmul},
               {"wavelet2d", test_wavelet2d}, {"wavelet1d", test_wavelet1d}, {"vq", test_vq},
               {"int_rescale", test_int_rescale}, {"int_conv", test_int_conv}, {"attention", test_attention},
               {"swin", test_swin});
}
