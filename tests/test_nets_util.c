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
