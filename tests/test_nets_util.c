/* Helpers of the nets/ suites (see test_nets_util.h). */
#include "test_nets_util.h"

#include "test.h"

#include <math.h>
#include <stdio.h>

nn_weights *fx_load(const char *name)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "data/nets/%s.safetensors", name);
    nn_weights *ws = NULL;
    if (nn_weights_load_file(path, &ws, err, sizeof err) != 0) {
        printf("\n%s: %s\n", path, err);
        CU_FAIL("fixture not loaded");
        return NULL;
    }
    return ws;
}

nn_tensor fx_tensor(const nn_weights *ws, const char *name)
{
    nn_tensor t = {0};
    const nn_weight *w = ws ? nn_weights_find(ws, name) : NULL;
    if (!w || !w->f32 || w->ndim > NN_MAX_DIMS) {
        printf("\nfixture tensor '%s' missing\n", name);
        CU_FAIL("fixture tensor missing");
        return t;
    }
    return nn_tensor_view(w->f32, w->ndim, w->shape);
}

const int32_t *fx_ints(const nn_weights *ws, const char *name)
{
    const nn_weight *w = ws ? nn_weights_find(ws, name) : NULL;
    if (!w || w->dtype != NN_I32) {
        CU_FAIL("fixture int tensor missing");
        return NULL;
    }
    return w->ints;
}

double fx_max_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

double fx_max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

int fx_close(const char *what, const nn_tensor *got, const nn_tensor *want, double tol)
{
    if (!got->data || !want->data || !nn_tensor_same_shape(got, want)) {
        printf("\n%s: shape mismatch\n", what);
        return 0;
    }
    size_t n = nn_tensor_numel(want);
    double e = fx_max_err(got->data, want->data, n), s = fx_max_abs(want->data, n);
    double bound = tol * (s > 1 ? s : 1);
    printf("\n    %-32s max abs error %.3g (max |ref| %.3g, bound %.3g)", what, e, s, bound);
    return e <= bound;
}

void fx_random(uint64_t *state, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = *state;
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        *state = v;
        x[i] = (float)((double)(v >> 40) / (double)(1ull << 23) - 1.0);
    }
}

nn_swin_block fx_swin_block(const nn_weights *ws)
{
    const int32_t *cfg = fx_ints(ws, "cfg");
    /* Designated: fields added to nn_swin_block later (flags) stay 0, the reference code's
     * behaviour. */
    nn_swin_block b = {.dim = cfg ? cfg[0] : 0,
                       .heads = cfg ? cfg[1] : 0,
                       .window = cfg ? cfg[2] : 0,
                       .shift = cfg ? cfg[3] : 0,
                       .hidden = cfg ? cfg[4] : 0,
                       .cpb_hidden = cfg ? cfg[5] : 0,
                       .qkv_w = fx_tensor(ws, "qkv_w").data,
                       .q_bias = fx_tensor(ws, "q_bias").data,
                       .v_bias = fx_tensor(ws, "v_bias").data,
                       .logit_scale = fx_tensor(ws, "logit_scale").data,
                       .cpb_w1 = fx_tensor(ws, "cpb_w1").data,
                       .cpb_b1 = fx_tensor(ws, "cpb_b1").data,
                       .cpb_w2 = fx_tensor(ws, "cpb_w2").data,
                       .proj_w = fx_tensor(ws, "proj_w").data,
                       .proj_b = fx_tensor(ws, "proj_b").data,
                       .norm1_w = fx_tensor(ws, "norm1_w").data,
                       .norm1_b = fx_tensor(ws, "norm1_b").data,
                       .norm2_w = fx_tensor(ws, "norm2_w").data,
                       .norm2_b = fx_tensor(ws, "norm2_b").data,
                       .fc1_w = fx_tensor(ws, "fc1_w").data,
                       .fc1_b = fx_tensor(ws, "fc1_b").data,
                       .fc2_w = fx_tensor(ws, "fc2_w").data,
                       .fc2_b = fx_tensor(ws, "fc2_b").data};
    return b;
}
