/* Helpers of the nets/ suites: fixtures (tests/data/nets/NAME.safetensors) and error norms. */
#ifndef NECO_TESTS_NETS_UTIL_H
#define NECO_TESTS_NETS_UTIL_H
#include "nets/safetensors.h"
#include "nets/swin.h"
#include "nets/tensor.h"

#include <stddef.h>
#include <stdint.h>

/* Loads a fixture; a failure is a test failure (and returns NULL). */
nn_weights *fx_load(const char *name);
/* A float tensor of a fixture as a view (rank <= 4); data NULL when absent. */
nn_tensor fx_tensor(const nn_weights *ws, const char *name);
/* An int32 tensor's values, NULL when absent. */
const int32_t *fx_ints(const nn_weights *ws, const char *name);
/* max |a - b| over n values (NaN counts as infinite). */
double fx_max_err(const float *a, const float *b, size_t n);
double fx_max_abs(const float *a, size_t n);
/* Compares got with want, prints the error as "name: max abs error E (scale S)", and returns
 * 1 when E <= tol * max(1, max |want|). */
int fx_close(const char *what, const nn_tensor *got, const nn_tensor *want, double tol);
/* The Swin-V2 block of a fixture (train/make_nets_fixtures.py: cfg = dim, heads, window,
 * shift, hidden, cpb_hidden, and the parameters by name), its pointers into ws. */
nn_swin_block fx_swin_block(const nn_weights *ws);
/* Deterministic uniform floats in [-1, 1) (xorshift; no global state). */
void fx_random(uint64_t *state, float *x, size_t n);
#endif
