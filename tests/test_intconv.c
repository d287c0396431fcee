/* nets/intlayers.c: the int32 fast paths of nn_int_conv2d (the direct AVX-512 convolution of
 * "same" convs where the CPU has it, im2col + int16 dot products otherwise) and the checkerboard
 * positions of nn_int_conv2d_checker against a plain int64 evaluation of the definition
 * (intlayers.h), on random layers with and without padding, and saturation. */
#include "test.h"

#include "nets/intlayers.h"

#include <stdlib.h>
#include <string.h>

static uint32_t seed = 2024;
static int32_t rnd(int32_t lo, int32_t hi)
{
    seed = seed * 1664525u + 1013904223u;
    return lo + (int32_t)((seed >> 8) % (uint32_t)(hi - lo + 1));
}

static void definition(const nn_int_conv *l, const nn_itensor *x, int16_t *y, int ho, int wo)
{
    for (int o = 0; o < l->cout; o++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                int64_t acc = l->bias ? l->bias[o] : 0;
                for (int ci = 0; ci < l->cin; ci++)
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++) {
                            int iy = oy - l->p.pad_h + ky, ix = ox - l->p.pad_w + kx;
                            if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) continue;
                            acc += (int64_t)l->w8[((o * l->cin + ci) * l->kh + ky) * l->kw + kx] *
                                   x->data[(ci * x->h + iy) * x->w + ix];
                        }
                y[(o * ho + oy) * wo + ox] =
                    nn_int_rescale(acc, l->mult[o], l->shift[o], l->out_min, l->out_max);
            }
}

/* The fast paths, alone and spread over a pool of 3 threads (rows or blocks of 64 positions
 * split between the tasks), against the int64 definition: the same integers. Every third trial
 * has no padding (output smaller than the input), which the direct path leaves to im2col. */
static void test_fast_path_exact(void)
{
    nn_pool *pool;
    CU_ASSERT_EQUAL_FATAL(nn_pool_create(3, &pool), NN_OK);
    for (int trial = 0; trial < 40; trial++) {
        int cin = rnd(1, 12), cout = rnd(1, 10), k = 2 * rnd(0, 2) + 1, h = rnd(1, 9),
            w = rnd(1, 11);
        if (trial % 5 == 1) /* several blocks per task */
            h = rnd(10, 30), w = rnd(10, 40);
        int pad = k / 2;
        if (trial % 3 == 2) {
            pad = 0;
            h = h < k ? k : h, w = w < k ? k : w;
        }
        int ho = h + 2 * pad - k + 1, wo = w + 2 * pad - k + 1;
        int8_t *wt = malloc((size_t)cout * cin * k * k);
        int32_t *bias = malloc(sizeof(int32_t) * cout), *mult = malloc(sizeof(int32_t) * cout),
                *shift = malloc(sizeof(int32_t) * cout);
        for (int i = 0; i < cout * cin * k * k; i++)
            wt[i] = (int8_t)rnd(-128, 127);
        for (int o = 0; o < cout; o++) {
            bias[o] = rnd(-100000, 100000);
            mult[o] = rnd(0, 32767); /* 0 included: a dead channel */
            shift[o] = rnd(0, 30);
        }
        nn_int_conv l;
        memset(&l, 0, sizeof l);
        l.cin = cin;
        l.cout = cout;
        l.kh = l.kw = k;
        l.p = (nn_conv_params){1, 1, pad, pad, 1, 1, 1, 0, 0};
        l.w8 = wt;
        l.bias = bias;
        l.mult = mult;
        l.shift = shift;
        l.out_min = trial % 2 ? 0 : -32768;
        l.out_max = trial % 3 ? 255 : 32767;
        nn_itensor x = {malloc(sizeof(int16_t) * cin * h * w), 1, cin, h, w};
        /* large inputs in some trials, so that the int32 bound fails and the int64 path runs */
        int16_t amp = trial % 4 == 0 ? 32767 : 255;
        for (int i = 0; i < cin * h * w; i++)
            x.data[i] = (int16_t)rnd(-amp, amp);
        size_t ny = (size_t)cout * ho * wo;
        int16_t *got = malloc(sizeof(int16_t) * ny), *want = malloc(sizeof(int16_t) * ny);
        nn_itensor y = {got, 0, 0, 0, 0};
        CU_ASSERT_EQUAL_FATAL(nn_int_conv2d(&l, &x, &y), NN_OK);
        CU_ASSERT(y.c == cout && y.h == ho && y.w == wo);
        definition(&l, &x, want, ho, wo);
        CU_ASSERT(memcmp(got, want, sizeof(int16_t) * ny) == 0);
        memset(got, 0, sizeof(int16_t) * ny);
        CU_ASSERT_EQUAL_FATAL(nn_int_conv2d_pool(&l, &x, &y, pool), NN_OK);
        CU_ASSERT(memcmp(got, want, sizeof(int16_t) * ny) == 0);
        /* checkerboard positions (same convs only), with a dense and a sparse input */
        for (int sparse = 0; pad == k / 2 && sparse < 2; sparse++) {
            if (sparse) {
                for (int i = 0; i < cin * h * w; i++)
                    if (((i % (h * w)) / w + (i % w)) % 2)
                        x.data[i] = 0;
                definition(&l, &x, want, ho, wo);
            }
            for (int parity = -1; parity <= 1; parity++) {
                for (size_t i = 0; i < ny; i++)
                    got[i] = 0x7777;
                const nn_int_conv *ls[2] = {&l, &l};
                nn_itensor ys[2] = {y, y}; /* the same layer twice: the same outputs */
                CU_ASSERT_EQUAL_FATAL(nn_int_conv2d_checker(ls, 1 + trial % 2, &x, ys, parity,
                                                            sparse, trial % 2 ? pool : NULL),
                                      NN_OK);
                int bad = 0;
                for (size_t i = 0; i < ny; i++) {
                    int par = (int)(((i % ((size_t)ho * wo)) / wo + i % wo) % 2);
                    bad += (parity < 0 || par == parity) && got[i] != want[i];
                }
                CU_ASSERT_EQUAL(bad, 0);
            }
        }
        free(wt);
        free(bias);
        free(mult);
        free(shift);
        free(x.data);
        free(got);
        free(want);
    }
    nn_pool_destroy(pool);
}

void neco_test_register(void)
{
    NECO_SUITE("int conv", {"fast path equals the definition", test_fast_path_exact});
}
