/* Tensors of nets/: dense float32 arrays in row-major order, with up to four dimensions.
 *
 * Layouts (the same as PyTorch's defaults, so weights and fixtures need no permutation):
 *   images: NCHW (batch, channel, row, column);
 *   audio:  NCL  (batch, channel, sample);
 *   tokens: (rows, features), e.g. the (H*W, C) sequences of window attention.
 * A tensor either owns its data (nn_tensor_alloc) or views someone else's (nn_tensor_view). */
#ifndef NECO_NETS_TENSOR_H
#define NECO_NETS_TENSOR_H
#include <stddef.h>

#define NN_MAX_DIMS 4

typedef struct nn_tensor {
    float *data;
    int ndim;
    int shape[NN_MAX_DIMS];
    int owns; /* 1: data is freed by nn_tensor_free */
    /* How nn_tensor_free releases owned data: NULL is free(); a backend that allocates its
     * layers' outputs itself (nn_ops.alloc: the cuda backend's managed memory) sets its own. */
    void (*release)(void *data);
} nn_tensor;

/* Status codes of nets/ (0 is success). */
enum {
    NN_OK = 0,
    NN_ERR_NOMEM = -1,
    NN_ERR_ARG = -2,    /* shapes or parameters that do not fit together */
    NN_ERR_FORMAT = -3, /* a malformed weights file */
    NN_ERR_IO = -4,
    NN_ERR_MISMATCH = -5, /* weights that do not match what the graph expects */
    NN_ERR_BACKEND = -6,  /* unknown backend, or a backend library failed */
};

/* Number of elements (the product of the shape; 1 for ndim == 0). */
size_t nn_tensor_numel(const nn_tensor *t);

/* Allocates a zero-filled tensor of the given shape. Every extent must be >= 1 and the
 * element count must fit in memory; returns NN_OK, NN_ERR_ARG or NN_ERR_NOMEM. */
int nn_tensor_alloc(nn_tensor *t, int ndim, const int *shape);

/* Same as nn_tensor_alloc, but reuses t's buffer when t already owns one of the same
 * element count (the contents are then left as they were). */
int nn_tensor_reshape_alloc(nn_tensor *t, int ndim, const int *shape);

/* A non-owning view of data with the given shape. */
nn_tensor nn_tensor_view(float *data, int ndim, const int *shape);

void nn_tensor_free(nn_tensor *t);

/* Uninitialised memory for large work buffers, released with free(): blocks of 8 MiB and more
 * are 2 MiB aligned and advised as transparent huge pages where the system offers them (Linux
 * madvise mode), so that their first touch takes a few faults instead of one per 4 KiB. */
void *nn_big_alloc(size_t bytes);

/* Convenience constructors for the common ranks. */
int nn_tensor_alloc4(nn_tensor *t, int n, int c, int h, int w);
int nn_tensor_alloc3(nn_tensor *t, int n, int c, int l);

/* 1 when both tensors have the same rank and extents. */
int nn_tensor_same_shape(const nn_tensor *a, const nn_tensor *b);
#endif
