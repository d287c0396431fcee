/* nets/lifting97.c against train/wavelet.py (fixture by train/make_lifting_fixture.py), and
 * perfect reconstruction. */
#include "test.h"

#include "nets/lifting97.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NX (3 * 16 * 24)

static void test_matches_training(void)
{
    static float buf[2 * NX];
    FILE *f = fopen("data/nets/lifting97.bin", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t got = fread(buf, sizeof(float), 2 * NX, f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(got, 2 * NX);
    int shape[4] = {1, 3, 16, 24};
    nn_tensor x = nn_tensor_view(buf, 4, shape);
    nn_tensor y = {0};
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_forward(&x, 2, &y, NULL), NN_OK);
    CU_ASSERT_EQUAL(y.shape[1], 48);
    CU_ASSERT_EQUAL(y.shape[2], 4);
    CU_ASSERT_EQUAL(y.shape[3], 6);
    float maxerr = 0;
    for (int i = 0; i < NX; i++)
        maxerr = fmaxf(maxerr, fabsf(y.data[i] - buf[NX + i]));
    /* The fixture was computed in float64; the C transform runs in float32. */
    CU_ASSERT(maxerr < 2e-3f);
    nn_tensor r = {0};
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_inverse(&y, 2, &r, NULL), NN_OK);
    float rec = 0;
    for (int i = 0; i < NX; i++)
        rec = fmaxf(rec, fabsf(r.data[i] - buf[i]));
    CU_ASSERT(rec < 1e-3f);
    printf("\n    lifting97: max |C - torch| = %g, reconstruction error = %g\n", maxerr, rec);
    nn_tensor_free(&y);
    nn_tensor_free(&r);
}

static void test_sizes(void)
{
    /* Every even-size combination reconstructs, including 2 x 2 at one level. */
    int sizes[][2] = {{2, 2}, {4, 8}, {16, 4}, {32, 48}};
    for (int s = 0; s < 4; s++)
        for (int levels = 0; levels <= 2; levels++) {
            int h = sizes[s][0], w = sizes[s][1];
            if (h % (1 << levels) || w % (1 << levels)) continue;
            nn_tensor x = {0}, y = {0}, r = {0};
            CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc4(&x, 2, 2, h, w), NN_OK);
            for (size_t i = 0; i < nn_tensor_numel(&x); i++)
                x.data[i] = (float)((i * 7919) % 255) - 127.0f;
            CU_ASSERT_EQUAL_FATAL(nn_lifting97_forward(&x, levels, &y, NULL), NN_OK);
            CU_ASSERT_EQUAL(y.shape[1], 2 << (2 * levels));
            CU_ASSERT_EQUAL_FATAL(nn_lifting97_inverse(&y, levels, &r, NULL), NN_OK);
            CU_ASSERT(nn_tensor_same_shape(&x, &r));
            float err = 0;
            for (size_t i = 0; i < nn_tensor_numel(&x); i++)
                err = fmaxf(err, fabsf(x.data[i] - r.data[i]));
            CU_ASSERT(err < 1e-3f);
            nn_tensor_free(&x);
            nn_tensor_free(&y);
            nn_tensor_free(&r);
        }
    /* odd sizes are refused */
    nn_tensor x = {0}, y = {0};
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc4(&x, 1, 1, 6, 5), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97_forward(&x, 1, &y, NULL), NN_ERR_ARG);
    CU_ASSERT_EQUAL(nn_lifting97_forward(&x, 2, &y, NULL), NN_ERR_ARG);
    nn_tensor_free(&x);
}

/* Spread over a pool's threads (one plane per task, 2 x 3 planes), the transform gives the same
 * bits as on the calling thread alone. */
static void test_threads(void)
{
    nn_pool *pool;
    CU_ASSERT_EQUAL_FATAL(nn_pool_create(4, &pool), NN_OK);
    nn_tensor x = {0}, y1 = {0}, y4 = {0}, r1 = {0}, r4 = {0};
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc4(&x, 2, 3, 24, 40), NN_OK);
    for (size_t i = 0; i < nn_tensor_numel(&x); i++)
        x.data[i] = (float)((i * 7919) % 255) - 127.0f;
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_forward(&x, 2, &y1, NULL), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_forward(&x, 2, &y4, pool), NN_OK);
    CU_ASSERT(memcmp(y1.data, y4.data, sizeof(float) * nn_tensor_numel(&y1)) == 0);
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_inverse(&y1, 2, &r1, NULL), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_lifting97_inverse(&y1, 2, &r4, pool), NN_OK);
    CU_ASSERT(memcmp(r1.data, r4.data, sizeof(float) * nn_tensor_numel(&r1)) == 0);
    nn_tensor_free(&x), nn_tensor_free(&y1), nn_tensor_free(&y4);
    nn_tensor_free(&r1), nn_tensor_free(&r4);
    nn_pool_destroy(pool);
}

void neco_test_register(void)
{
    NECO_SUITE("lifting97", {"matches train/wavelet.py", test_matches_training},
               {"sizes and reconstruction", test_sizes}, {"threads", test_threads});
}
