/* Tensor allocation (see tensor.h). */
#define _DEFAULT_SOURCE /* posix_memalign, madvise */
#include "nets/tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE_PAGE = 2 << 20 };

/* A 768x512 img-swin decode touches ~700 MB of fresh tensors and work memory, and 4 KiB page
 * faults on it were ~10 % of the decode time. */
void *nn_big_alloc(size_t bytes)
{
    if (bytes < 4 * (size_t)HUGE_PAGE) return malloc(bytes ? bytes : 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* whole pages */
#endif
    return p;
}

/* Zeroed storage of n floats (large blocks as nn_big_alloc's). free() releases either kind. */
static float *zeroed_floats(size_t n)
{
    size_t bytes = n * sizeof(float);
    if (bytes < 4 * (size_t)HUGE_PAGE) return calloc(n, sizeof(float));
    void *p = nn_big_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

size_t nn_tensor_numel(const nn_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

static int shape_numel(int ndim, const int *shape, size_t *out)
{
    if (ndim < 0 || ndim > NN_MAX_DIMS) return NN_ERR_ARG;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return NN_ERR_ARG;
        if ((size_t)shape[i] > (SIZE_MAX / sizeof(float)) / n) return NN_ERR_NOMEM;
        n *= (size_t)shape[i];
    }
    *out = n;
    return NN_OK;
}

int nn_tensor_alloc(nn_tensor *t, int ndim, const int *shape)
{
    size_t n;
    int rc = shape_numel(ndim, shape, &n);
    if (rc) return rc;
    float *d = zeroed_floats(n);
    if (!d) return NN_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->data = d;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->owns = 1;
    return NN_OK;
}

int nn_tensor_reshape_alloc(nn_tensor *t, int ndim, const int *shape)
{
    size_t n;
    int rc = shape_numel(ndim, shape, &n);
    if (rc) return rc;
    if (t->data && t->owns && nn_tensor_numel(t) == n) {
        t->ndim = ndim;
        memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
        return NN_OK;
    }
    nn_tensor_free(t);
    return nn_tensor_alloc(t, ndim, shape);
}

nn_tensor nn_tensor_view(float *data, int ndim, const int *shape)
{
    nn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim < 0 ? 0 : ndim > NN_MAX_DIMS ? NN_MAX_DIMS : ndim;
    memcpy(t.shape, shape, (size_t)t.ndim * sizeof(int));
    return t;
}

void nn_tensor_free(nn_tensor *t)
{
    if (t->owns) {
        if (t->release)
            t->release(t->data);
        else
            free(t->data);
    }
    memset(t, 0, sizeof *t);
}

int nn_tensor_alloc4(nn_tensor *t, int n, int c, int h, int w)
{
    const int s[4] = {n, c, h, w};
    return nn_tensor_alloc(t, 4, s);
}

int nn_tensor_alloc3(nn_tensor *t, int n, int c, int l)
{
    const int s[3] = {n, c, l};
    return nn_tensor_alloc(t, 3, s);
}

int nn_tensor_same_shape(const nn_tensor *a, const nn_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}
