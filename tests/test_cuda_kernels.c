/* The cuda backend's own kernels (nets/cuda/kernels.h) run on the CPU, one index at a time in a
 * plain loop, against the ref ops: this checks their index arithmetic (which channel, which
 * source element) and their arithmetic on every build, GPU or not. Compiled as C with the
 * project's flags (no FMA contraction), so every kernel but GroupNorm's (partial sums per
 * chunk) must give ref's bits exactly; on a GPU the same functions run under cuda.cu's grid
 * loop (tests/test_nets_cuda.c compares those results with ref where a device is present). */
#include "nets/cuda/kernels.h"
#include "nets/layers.h"
#include "nets/lifting97.h"
#include "nets/lifting97_1d.h"
#include "nets/safetensors.h"
#include "nets/swin.h"
#include "test.h"
#include "test_nets_util.h"

#include <stdlib.h>
#include <string.h>

#define RUN(kernel, n, args)                                                                       \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                \
            kernel(i_, (args));                                                                    \
    } while (0)

static nn_context *ref_ctx(void)
{
    nn_context *c = NULL;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(nn_context_create("ref", 1, &c, err, sizeof err), NN_OK);
    return c;
}

static void rand_t(nn_tensor *t, int ndim, const int *shape, uint64_t *seed)
{
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(t, ndim, shape), NN_OK);
    fx_random(seed, t->data, nn_tensor_numel(t));
}

static void copy_t(nn_tensor *dst, const nn_tensor *src)
{
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc(dst, src->ndim, src->shape), NN_OK);
    memcpy(dst->data, src->data, nn_tensor_numel(src) * sizeof(float));
}

static size_t spatial(const nn_tensor *x)
{
    size_t s = 1;
    for (int i = 2; i < x->ndim; i++)
        s *= (size_t)x->shape[i];
    return s;
}

/* Bit-exact comparison, printed like fx_close. */
static int same(const char *what, const nn_tensor *got, const nn_tensor *want)
{
    return fx_close(what, got, want, 0.0);
}

static void test_elementwise(void)
{
    nn_context *ctx = ref_ctx();
    uint64_t seed = 11;
    int shapes[2][4] = {{2, 5, 7, 3}, {3, 4, 33, 0}};
    for (int sh = 0; sh < 2; sh++) {
        int nd = shapes[sh][3] ? 4 : 3;
        nn_tensor x = {0}, b = {0}, g = {0};
        rand_t(&x, nd, shapes[sh], &seed);
        int cs[1] = {x.shape[1]};
        rand_t(&b, 1, cs, &seed);
        rand_t(&g, 1, cs, &seed);
        size_t n = nn_tensor_numel(&x), s = spatial(&x);
        for (int act = NN_ACT_RELU; act <= NN_ACT_SILU; act++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                nn_tensor want = {0}, got = {0};
                copy_t(&want, &x), copy_t(&got, &x);
                const float *bias = with_bias ? b.data : NULL;
                CU_ASSERT_EQUAL(nn_bias_act(ctx, &want, bias, (nn_act)act, 0.1f), NN_OK);
                k_act_args a = {got.data, bias, s, x.shape[1], act, 0.1f};
                RUN(k_act, n, &a);
                CU_ASSERT(same("k_act", &got, &want));
                nn_tensor_free(&want), nn_tensor_free(&got);
            }
        for (int mode = 0; mode < 2; mode++) { /* gain + bias, gain (the bias alone: k_act) */
            nn_tensor want = {0}, got = {0};
            copy_t(&want, &x), copy_t(&got, &x);
            const float *gg = g.data, *bb = mode == 0 ? b.data : NULL;
            CU_ASSERT_EQUAL(nn_channel_scale(ctx, &want, gg, bb), NN_OK);
            k_scale_args a = {got.data, gg, bb, s, x.shape[1]};
            RUN(k_scale, n, &a);
            CU_ASSERT(same("k_scale", &got, &want));
            nn_tensor_free(&want), nn_tensor_free(&got);
        }
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nn_tensor y = {0}, want = {0}, got = {0};
            rand_t(&y, nd, x.shape, &seed);
            copy_t(&want, &y), copy_t(&got, &y);
            const float *bias = with_bias ? b.data : NULL;
            CU_ASSERT_EQUAL(nn_bias_residual(ctx, &x, bias, &want), NN_OK);
            k_residual_args a = {x.data, bias, got.data, s, x.shape[1]};
            RUN(k_residual, n, &a);
            CU_ASSERT(same("k_residual", &got, &want));
            nn_tensor_free(&y), nn_tensor_free(&want), nn_tensor_free(&got);
        }
        {
            nn_tensor y = {0}, want = {0}, got = {0};
            rand_t(&y, nd, x.shape, &seed);
            CU_ASSERT_EQUAL(nn_add(ctx, &x, &y, &want), NN_OK);
            copy_t(&got, &y);
            k_add_args a = {x.data, y.data, got.data};
            RUN(k_add, n, &a);
            CU_ASSERT(same("k_add", &got, &want));
            nn_tensor_free(&y), nn_tensor_free(&want), nn_tensor_free(&got);
        }
        {
            nn_tensor want = {0}, got = {0};
            copy_t(&want, &x), copy_t(&got, &x);
            for (int i = 0; i < x.shape[1]; i++)
                g.data[i] = 0.2f + 1.5f * (g.data[i] + 1.0f); /* alphas in (0.2, 3.2) */
            CU_ASSERT_EQUAL(nn_snake(ctx, &want, g.data), NN_OK);
            k_snake_args a = {got.data, g.data, s, x.shape[1]};
            RUN(k_snake, n, &a);
            CU_ASSERT(same("k_snake", &got, &want));
            nn_tensor_free(&want), nn_tensor_free(&got);
        }
        nn_tensor_free(&x), nn_tensor_free(&b), nn_tensor_free(&g);
    }
    /* a matmul's bias: ref's matmul with the bias = without it, then k_bias_cols */
    nn_matmul_params p = {3, 7, 5, 4, 1, 0};
    nn_tensor a = {0}, bm = {0}, bias = {0};
    int as[3] = {3, 7, 4}, bs[3] = {3, 5, 4}, ns[1] = {5};
    rand_t(&a, 3, as, &seed), rand_t(&bm, 3, bs, &seed), rand_t(&bias, 1, ns, &seed);
    int cs3[3] = {3, 7, 5};
    nn_tensor want = {0}, got = {0};
    CU_ASSERT_EQUAL(nn_tensor_alloc(&want, 3, cs3), NN_OK);
    CU_ASSERT_EQUAL(nn_tensor_alloc(&got, 3, cs3), NN_OK);
    CU_ASSERT_EQUAL(nn_matmul(ctx, &p, a.data, bm.data, bias.data, want.data), NN_OK);
    CU_ASSERT_EQUAL(nn_matmul(ctx, &p, a.data, bm.data, NULL, got.data), NN_OK);
    k_bias_cols_args ka = {got.data, bias.data, 5};
    RUN(k_bias_cols, nn_tensor_numel(&got), &ka);
    CU_ASSERT(same("k_bias_cols", &got, &want));
    nn_tensor_free(&a), nn_tensor_free(&bm), nn_tensor_free(&bias);
    nn_tensor_free(&want), nn_tensor_free(&got);
    nn_context_destroy(ctx);
}

static void test_shuffle(void)
{
    nn_context *ctx = ref_ctx();
    uint64_t seed = 12;
    const int cases[][5] = {/* n, c, h, w, r (h 0: 1-D, w = L) */
                            {2, 3, 5, 7, 2},
                            {1, 2, 4, 3, 3},
                            {2, 3, 0, 11, 4},
                            {1, 5, 0, 9, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *cs = cases[k];
        int r = cs[4], one_d = cs[2] == 0;
        nn_tensor x = {0}, want = {0}, got = {0};
        int xs4[4] = {cs[0], cs[1] * r * r, cs[2], cs[3]}, xs3[3] = {cs[0], cs[1] * r, cs[3]};
        rand_t(&x, one_d ? 3 : 4, one_d ? xs3 : xs4, &seed);
        CU_ASSERT_EQUAL(nn_pixel_shuffle(ctx, &x, r, &want), NN_OK);
        copy_t(&got, &want);
        memset(got.data, 0, nn_tensor_numel(&got) * sizeof(float));
        k_shuffle_args a = {x.data, got.data, cs[1], one_d ? 1 : cs[2], cs[3], r, one_d};
        RUN(k_shuffle, nn_tensor_numel(&got), &a);
        CU_ASSERT(same(one_d ? "k_shuffle 1-D" : "k_shuffle 2-D", &got, &want));
        nn_tensor_free(&x), nn_tensor_free(&want), nn_tensor_free(&got);
    }
    nn_context_destroy(ctx);
}

static void test_gdn(void)
{
    nn_context *ctx = ref_ctx();
    uint64_t seed = 13;
    int xs[4] = {2, 12, 9, 11}, gs[2] = {12, 12}, bs[1] = {12};
    nn_tensor x = {0}, gamma = {0}, beta = {0};
    rand_t(&x, 4, xs, &seed), rand_t(&gamma, 2, gs, &seed), rand_t(&beta, 1, bs, &seed);
    for (size_t i = 0; i < 144; i++)
        gamma.data[i] = 0.1f * (gamma.data[i] + 1.0f); /* >= 0, as trained */
    for (int i = 0; i < 12; i++)
        beta.data[i] = 0.5f + beta.data[i] * 0.25f;
    for (int inverse = 0; inverse < 2; inverse++) {
        nn_tensor want = {0}, got = {0};
        CU_ASSERT_EQUAL(nn_gdn(ctx, &x, gamma.data, beta.data, inverse, &want), NN_OK);
        copy_t(&got, &want);
        k_gdn_args a = {x.data, gamma.data, beta.data, got.data, spatial(&x), 12, inverse};
        RUN(k_gdn, nn_tensor_numel(&x), &a);
        CU_ASSERT(same(inverse ? "k_gdn inverse" : "k_gdn", &got, &want));
        nn_tensor_free(&want), nn_tensor_free(&got);
    }
    nn_tensor_free(&x), nn_tensor_free(&gamma), nn_tensor_free(&beta);
    nn_context_destroy(ctx);
}

static void test_norms(void)
{
    nn_context *ctx = ref_ctx();
    uint64_t seed = 14;
    /* channels-first LayerNorm, 4-D and 3-D */
    int s4[4] = {2, 19, 6, 5}, s3[3] = {3, 13, 17};
    for (int k = 0; k < 2; k++) {
        nn_tensor x = {0}, g = {0}, b = {0}, want = {0};
        rand_t(&x, k ? 3 : 4, k ? s3 : s4, &seed);
        int cs[1] = {x.shape[1]};
        rand_t(&g, 1, cs, &seed), rand_t(&b, 1, cs, &seed);
        copy_t(&want, &x);
        CU_ASSERT_EQUAL(nn_layer_norm(ctx, &want, g.data, b.data, 1e-5f), NN_OK);
        k_ln_chan_args a = {x.data, g.data, b.data, 1e-5f, spatial(&x), x.shape[1]};
        RUN(k_ln_chan, (size_t)x.shape[0] * spatial(&x), &a);
        CU_ASSERT(same("k_ln_chan", &x, &want));
        nn_tensor_free(&x), nn_tensor_free(&g), nn_tensor_free(&b), nn_tensor_free(&want);
    }
    /* token rows, C a multiple of 8 and not; in place and with the residual */
    const int widths[3] = {24, 37, 5};
    for (int k = 0; k < 3; k++) {
        int rs[2] = {29, widths[k]}, cs[1] = {widths[k]};
        nn_tensor x = {0}, g = {0}, b = {0}, want = {0}, res = {0}, want_res = {0};
        rand_t(&x, 2, rs, &seed), rand_t(&g, 1, cs, &seed), rand_t(&b, 1, cs, &seed);
        rand_t(&res, 2, rs, &seed);
        copy_t(&want_res, &res);
        CU_ASSERT_EQUAL(nn_layer_norm_add(ctx, &x, g.data, b.data, 1e-5f, &want_res), NN_OK);
        k_ln_rows_args ar = {x.data, res.data, g.data, b.data, 1e-5f, widths[k]};
        RUN(k_ln_rows, 29, &ar);
        CU_ASSERT(same("k_ln_rows + residual", &res, &want_res));
        copy_t(&want, &x);
        CU_ASSERT_EQUAL(nn_layer_norm(ctx, &want, k == 1 ? NULL : g.data, b.data, 1e-5f), NN_OK);
        k_ln_rows_args a = {x.data, NULL, k == 1 ? NULL : g.data, b.data, 1e-5f, widths[k]};
        RUN(k_ln_rows, 29, &a);
        CU_ASSERT(same("k_ln_rows", &x, &want));
        nn_tensor_free(&x), nn_tensor_free(&g), nn_tensor_free(&b), nn_tensor_free(&want);
        nn_tensor_free(&res), nn_tensor_free(&want_res);
    }
    /* GroupNorm: groups of 4 x 5120 elements (5 chunks), and of one small chunk */
    int gshapes[2][4] = {{2, 8, 64, 80}, {3, 6, 5, 7}};
    int groups[2] = {2, 3};
    for (int k = 0; k < 2; k++) {
        nn_tensor x = {0}, g = {0}, b = {0}, want = {0};
        rand_t(&x, 4, gshapes[k], &seed);
        for (size_t i = 0; i < nn_tensor_numel(&x); i++)
            x.data[i] = 3.0f + 2.0f * x.data[i]; /* a mean far from 0 */
        int cs[1] = {x.shape[1]};
        rand_t(&g, 1, cs, &seed), rand_t(&b, 1, cs, &seed);
        copy_t(&want, &x);
        CU_ASSERT_EQUAL(nn_group_norm(ctx, &want, groups[k], g.data, b.data, 1e-5f), NN_OK);
        size_t s = spatial(&x), n = (size_t)x.shape[1] / (size_t)groups[k] * s;
        size_t q = (size_t)x.shape[0] * (size_t)groups[k],
               chunks = (n + K_GN_CHUNK - 1) / K_GN_CHUNK;
        double *part = malloc((q * chunks + 2 * q) * sizeof *part);
        CU_ASSERT_PTR_NOT_NULL_FATAL(part);
        k_gn_args a = {x.data,     g.data,    b.data, part, part + q * chunks, n, chunks, s,
                       x.shape[1], groups[k], 0,      1e-5f};
        RUN(k_gn_part, q * chunks, &a);
        RUN(k_gn_stats, q, &a);
        a.second = 1;
        RUN(k_gn_part, q * chunks, &a);
        RUN(k_gn_stats, q, &a);
        RUN(k_gn_apply, q * n, &a);
        /* double statistics summed in another order: a few ulp of float at most */
        CU_ASSERT(fx_close("k_gn (3 steps)", &x, &want, 1e-6));
        free(part);
        nn_tensor_free(&x), nn_tensor_free(&g), nn_tensor_free(&b), nn_tensor_free(&want);
    }
    nn_context_destroy(ctx);
}

/* swin.c with the GPU's pieces: a ref context whose table has swin_rows and window_attention
 * run by the kernels k_swin_rows / k_attn in a plain loop (the cuda backend's hooks) must give
 * the host path's bits for a whole Swin-V2 block (the PyTorch fixtures, shifted and not). */
static int host_swin_rows(nn_context *ctx, float *img, float *rows, int c, int h, int w, int ws,
                          int shift, int to_rows)
{
    (void)ctx;
    k_swin_rows_args a = {img, rows, (size_t)h * w, c, h, w, ws, shift, to_rows};
    RUN(k_swin_rows, (size_t)c * h * w, &a);
    return NN_OK;
}

static int host_window_attention(nn_context *ctx, const float *qkv, const float *bias,
                                 const float *scale, int c, int h, int w, int ws, int nh, int shift,
                                 float *merged)
{
    (void)ctx;
    size_t rows = (size_t)h * w;
    float *qk = malloc(rows * 2 * (size_t)c * sizeof(float));
    if (!qk) return NN_ERR_NOMEM;
    k_attn_norm_args na = {qkv, qk, c, nh};
    RUN(k_attn_norm, rows * nh * 2, &na);
    k_attn_args a = {qkv, qk, bias, scale, merged, c, h, w, ws, nh, shift};
    RUN(k_attn, rows * nh, &a);
    free(qk);
    return NN_OK;
}

static void test_swin(void)
{
    const char *fixtures[2] = {"swin_shift", "swin_noshift"};
    for (int f = 0; f < 2; f++) {
        nn_weights *ws = fx_load(fixtures[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
        nn_swin_block b = fx_swin_block(ws);
        nn_tensor x = fx_tensor(ws, "x"), want = {0}, got = {0};
        copy_t(&want, &x), copy_t(&got, &x);
        nn_context *ref = ref_ctx(), *hooked = ref_ctx();
        nn_ops table = *hooked->ops;
        table.swin_rows = host_swin_rows;
        table.window_attention = host_window_attention;
        hooked->ops = &table;
        /* twice: the second block's input is the first's output (other values, same shapes) */
        for (int k = 0; k < 2; k++) {
            CU_ASSERT_EQUAL(nn_swin_block_forward(ref, &b, &want), NN_OK);
            CU_ASSERT_EQUAL(nn_swin_block_forward(hooked, &b, &got), NN_OK);
        }
        CU_ASSERT(same(f ? "swin block, k_swin_rows + k_attn (no shift)"
                         : "swin block, k_swin_rows + k_attn (shifted)",
                       &got, &want));
        nn_tensor_free(&want), nn_tensor_free(&got);
        nn_context_destroy(ref), nn_context_destroy(hooked);
        nn_weights_free(ws);
    }
}

/* A whole packet through the kernels, level by level as cuda.cu runs it (2-D or 1-D). */
static void run_packet(int one_d, int inverse, const float *src, float *dst, const int *shape,
                       size_t n, int levels, float *t, float *const ping[2])
{
    for (int l = 0; l < levels; l++) {
        k_l97_args a = one_d ? k_l97_1d_level(src, t, ping, dst, shape, n, levels, inverse, l)
                             : k_l97_level(src, t, ping, dst, shape, n, levels, inverse, l);
        const k_l97_step *steps = one_d ? (inverse ? K_L97_INVERSE_1D : K_L97_FORWARD_1D)
                                        : (inverse ? K_L97_INVERSE : K_L97_FORWARD);
        int nsteps = one_d ? (inverse ? 7 : 6) : 11;
        for (int s = 0; s < nsteps; s++) {
            a.op = steps[s].op, a.sub = steps[s].sub, a.k = steps[s].k;
            RUN(k_l97, k_l97_count(&a), &a);
        }
    }
}

/* One packet of `levels` on a random x of the given shape through the kernels' steps (2-D:
 * K_L97_FORWARD / INVERSE; 1-D: the _1D sequences) against nets/lifting97.c or
 * lifting97_1d.c, forward and inverse: the same bits. */
static void check_packet(int one_d, const int *shape, int levels, uint64_t *seed)
{
    int nd = one_d ? 3 : 4;
    nn_tensor x = {0}, want = {0}, back = {0};
    rand_t(&x, nd, shape, seed);
    CU_ASSERT_EQUAL_FATAL(one_d ? nn_lifting97_1d_forward(&x, levels, &want)
                                : nn_lifting97_forward(&x, levels, &want, NULL),
                          NN_OK);
    CU_ASSERT_EQUAL_FATAL(one_d ? nn_lifting97_1d_inverse(&want, levels, &back)
                                : nn_lifting97_inverse(&want, levels, &back, NULL),
                          NN_OK);
    size_t n = nn_tensor_numel(&x);
    float *buf = malloc(5 * n * sizeof(float));
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    float *t = buf, *ping[2] = {buf + n, buf + 2 * n}, *fw = buf + 3 * n, *bw = buf + 4 * n;
    run_packet(one_d, 0, x.data, fw, x.shape, n, levels, t, ping);
    run_packet(one_d, 1, fw, bw, want.shape, n, levels, t, ping);
    nn_tensor got = nn_tensor_view(fw, nd, want.shape), got_back = nn_tensor_view(bw, nd, x.shape);
    CU_ASSERT(same(one_d ? "k_l97 1-D forward" : "k_l97 forward", &got, &want));
    CU_ASSERT(same(one_d ? "k_l97 1-D inverse" : "k_l97 inverse", &got_back, &back));
    free(buf);
    nn_tensor_free(&x), nn_tensor_free(&want), nn_tensor_free(&back);
}

/* 2-D: 1 to 3 levels, several planes. */
static void test_lifting97(void)
{
    uint64_t seed = 15;
    const int shapes[3][4] = {{1, 3, 16, 24}, {2, 2, 8, 8}, {1, 1, 32, 8}};
    for (int k = 0; k < 3; k++)
        for (int levels = 1; levels <= 3; levels++)
            check_packet(0, shapes[k], levels, &seed);
}

/* 1-D: 1 to 4 levels. */
static void test_lifting97_1d(void)
{
    uint64_t seed = 16;
    const int shapes[2][3] = {{2, 1, 320}, {1, 3, 64}};
    for (int k = 0; k < 2; k++)
        for (int levels = 1; levels <= 4; levels++)
            check_packet(1, shapes[k], levels, &seed);
}

/* nn_lifting97 / nn_lifting97_1d dispatch to a backend's own transform (ops.h lifting97,
 * lifting97_1d): a ref table whose entries run the kernels as cuda.cu does (output shape from
 * k_l97_out_shape, levels through run_packet) gives the C code's bits and shapes. */
static int host_lifting(const nn_tensor *src, int levels, int inverse, nn_tensor *dst, int one_d)
{
    size_t n = nn_tensor_numel(src);
    int shape[4];
    k_l97_out_shape(src->shape, levels, inverse, one_d, shape);
    float *buf = malloc(3 * n * sizeof(float));
    nn_tensor_free(dst);
    if (!buf || nn_tensor_alloc(dst, one_d ? 3 : 4, shape)) {
        free(buf);
        return NN_ERR_NOMEM;
    }
    float *ping[2] = {buf + n, buf + 2 * n};
    run_packet(one_d, inverse, src->data, dst->data, src->shape, n, levels, buf, ping);
    free(buf);
    return NN_OK;
}

static int host_lifting97(nn_context *ctx, const nn_tensor *in, int levels, int inverse,
                          nn_tensor *out)
{
    (void)ctx;
    return host_lifting(in, levels, inverse, out, 0);
}

static int host_lifting97_1d(nn_context *ctx, const nn_tensor *in, int levels, int inverse,
                             nn_tensor *out)
{
    (void)ctx;
    return host_lifting(in, levels, inverse, out, 1);
}

static void test_lifting_dispatch(void)
{
    nn_context *ref = ref_ctx(), *hooked = ref_ctx();
    nn_ops table = *hooked->ops;
    table.lifting97 = host_lifting97;
    table.lifting97_1d = host_lifting97_1d;
    hooked->ops = &table;
    uint64_t seed = 17;
    int s4[4] = {1, 3, 32, 48}, s3[3] = {2, 1, 640};
    for (int one_d = 0; one_d < 2; one_d++) {
        nn_tensor x = {0}, fr = {0}, fh = {0}, br = {0}, bh = {0};
        rand_t(&x, one_d ? 3 : 4, one_d ? s3 : s4, &seed);
        int levels = one_d ? 4 : 2;
        int (*run)(nn_context *, const nn_tensor *, int, int, nn_tensor *) =
            one_d ? nn_lifting97_1d : nn_lifting97;
        CU_ASSERT_EQUAL(run(ref, &x, levels, 0, &fr), NN_OK);
        CU_ASSERT_EQUAL(run(hooked, &x, levels, 0, &fh), NN_OK);
        CU_ASSERT(same(one_d ? "nn_lifting97_1d via the op" : "nn_lifting97 via the op", &fh, &fr));
        CU_ASSERT_EQUAL(run(ref, &fr, levels, 1, &br), NN_OK);
        CU_ASSERT_EQUAL(run(hooked, &fh, levels, 1, &bh), NN_OK);
        CU_ASSERT(same("... and its inverse", &bh, &br));
        CU_ASSERT_EQUAL(run(hooked, &x, 9, 0, &fh), NN_ERR_ARG); /* checked before the op */
        nn_tensor_free(&x), nn_tensor_free(&fr), nn_tensor_free(&fh);
        nn_tensor_free(&br), nn_tensor_free(&bh);
    }
    nn_context_destroy(ref), nn_context_destroy(hooked);
}

void neco_test_register(void)
{
    NECO_SUITE("cuda kernels on the CPU", {"elementwise", test_elementwise},
               {"pixel shuffle", test_shuffle}, {"gdn", test_gdn}, {"norms", test_norms},
               {"swin block", test_swin}, {"lifting 9/7", test_lifting97},
               {"lifting 9/7, 1-D", test_lifting97_1d},
               {"lifting through the ops", test_lifting_dispatch});
}
