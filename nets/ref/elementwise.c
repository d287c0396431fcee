/* Activations, Snake, residual add, per-channel gain and bias, and pixel shuffle (ref
 * backend). */
#include "nets/ref/ref.h"

#include <math.h>

size_t nn_ref_spatial(const nn_tensor *x)
{
    size_t s = 1;
    for (int i = 2; i < x->ndim; i++)
        s *= (size_t)x->shape[i];
    return s;
}

int nn_ref_activation(nn_context *ctx, nn_act act, float slope, float *x, size_t n)
{
    (void)ctx;
    switch (act) {
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return NN_OK;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] >= 0.0f ? x[i] : slope * x[i];
        return NN_OK;
    case NN_ACT_GELU:
        /* Exact GELU, Hendrycks & Gimpel 2016 eq. 1 (PyTorch approximate='none'). */
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return NN_OK;
    case NN_ACT_SILU:
        /* Elfwing et al. 2018; written x / (1 + e^-x), finite for every finite x. */
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        return NN_OK;
    }
    return NN_ERR_ARG;
}

int nn_ref_snake(nn_context *ctx, nn_tensor *x, const float *alpha)
{
    (void)ctx;
    size_t s = nn_ref_spatial(x);
    int c = x->shape[1];
    for (int b = 0; b < x->shape[0]; b++) {
        for (int ch = 0; ch < c; ch++) {
            float a = alpha[ch], inv = 1.0f / (a + 1e-9f); /* the epsilon of DAC / BigVGAN */
            float *v = x->data + ((size_t)b * c + ch) * s;
            for (size_t i = 0; i < s; i++) {
                float t = sinf(a * v[i]);
                v[i] = v[i] + inv * (t * t);
            }
        }
    }
    return NN_OK;
}

/* Elementwise ops on large tensors are spread over the pool in chunks of at least EW_CHUNK
 * elements (each element's arithmetic is the same on any thread). */
enum { EW_CHUNK = 1 << 16 };

static int ew_tasks(const nn_context *ctx, size_t n)
{
    int t = ctx && ctx->pool ? nn_pool_threads(ctx->pool) : 1;
    size_t most = (n + EW_CHUNK - 1) / EW_CHUNK;
    return most < (size_t)t ? (int)(most ? most : 1) : t;
}

typedef struct add_job {
    const float *a, *b;
    float *y;
    size_t n;
    int tasks;
} add_job;

static void add_task(void *arg, int task)
{
    add_job *j = arg;
    size_t i0 = j->n * (size_t)task / (size_t)j->tasks, i1 = j->n * (size_t)(task + 1) / j->tasks;
    const float *a = j->a, *b = j->b;
    float *y = j->y;
    for (size_t i = i0; i < i1; i++)
        y[i] = a[i] + b[i];
}

int nn_ref_add(nn_context *ctx, const float *a, const float *b, float *y, size_t n)
{
    add_job j = {a, b, y, n, ew_tasks(ctx, n)};
    nn_pool_run(j.tasks > 1 ? ctx->pool : NULL, add_task, &j, j.tasks);
    return NN_OK;
}

typedef struct scale_job {
    float *x;
    const float *g, *bias;
    int c;
    size_t s;
} scale_job;

static void scale_task(void *arg, int plane) /* one (image, channel) plane */
{
    scale_job *j = arg;
    float *v = j->x + (size_t)plane * j->s;
    float gain = j->g ? j->g[plane % j->c] : 1.0f, off = j->bias ? j->bias[plane % j->c] : 0.0f;
    for (size_t i = 0; i < j->s; i++)
        v[i] = v[i] * gain + off;
}

int nn_ref_channel_scale(nn_context *ctx, nn_tensor *x, const float *g, const float *bias)
{
    scale_job j = {x->data, g, bias, x->shape[1], nn_ref_spatial(x)};
    int planes = x->shape[0] * x->shape[1];
    nn_pool_run(ew_tasks(ctx, nn_tensor_numel(x)) > 1 ? ctx->pool : NULL, scale_task, &j, planes);
    return NN_OK;
}

int nn_ref_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope)
{
    int rc = b ? nn_ref_channel_scale(ctx, x, NULL, b) : NN_OK; /* x * 1 + b = x + b */
    return rc ? rc : nn_ref_activation(ctx, act, slope, x->data, nn_tensor_numel(x));
}

typedef struct residual_job {
    const float *x, *b;
    float *y;
    int c;
    size_t s;
} residual_job;

static void residual_task(void *arg, int plane) /* one (image, channel) plane */
{
    residual_job *j = arg;
    const float *x = j->x + (size_t)plane * j->s;
    float *y = j->y + (size_t)plane * j->s;
    if (!j->b) {
        for (size_t i = 0; i < j->s; i++)
            y[i] = y[i] + x[i];
        return;
    }
    float bias = j->b[plane % j->c];
    for (size_t i = 0; i < j->s; i++)
        y[i] = y[i] + (x[i] + bias);
}

int nn_ref_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y)
{
    residual_job j = {x->data, b, y->data, x->shape[1], nn_ref_spatial(x)};
    int planes = x->shape[0] * x->shape[1];
    nn_pool_run(ew_tasks(ctx, nn_tensor_numel(x)) > 1 ? ctx->pool : NULL, residual_task, &j,
                planes);
    return NN_OK;
}

/* One output plane (image b, channel ch) per task. */
typedef struct shuffle_job {
    const nn_tensor *x;
    nn_tensor *y;
    int r;
} shuffle_job;

static void shuffle_task(void *arg, int plane)
{
    const shuffle_job *j = arg;
    int r = j->r, c = j->y->shape[1], b = plane / c, ch = plane % c;
    if (j->x->ndim == 3) {
        int l = j->x->shape[2];
        for (int i = 0; i < r; i++) {
            const float *src = j->x->data + ((size_t)b * c * r + (size_t)ch * r + i) * l;
            float *dst = j->y->data + ((size_t)b * c + ch) * l * r;
            for (int t = 0; t < l; t++)
                dst[(size_t)t * r + i] = src[t];
        }
        return;
    }
    int h = j->x->shape[2], w = j->x->shape[3];
    size_t ohw = (size_t)h * r * w * r;
    for (int i = 0; i < r; i++)
        for (int jj = 0; jj < r; jj++) {
            const float *src =
                j->x->data + (((size_t)b * c + ch) * r * r + (size_t)i * r + jj) * h * w;
            float *dst = j->y->data + ((size_t)b * c + ch) * ohw;
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                    dst[((size_t)yy * r + i) * w * r + (size_t)xx * r + jj] =
                        src[(size_t)yy * w + xx];
        }
}

int nn_ref_pixel_shuffle(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y)
{
    shuffle_job j = {x, y, r};
    int planes = y->shape[0] * y->shape[1];
    nn_pool_run(ew_tasks(ctx, nn_tensor_numel(x)) > 1 ? ctx->pool : NULL, shuffle_task, &j, planes);
    return NN_OK;
}
