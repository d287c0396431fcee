/* The onednn backend: conv2d (and so conv1d), transposed conv, matmul and the normaliser of
 * GDN/IGDN on oneDNN; the other ops are the ref kernels. Compiled when NECO_WITH_ONEDNN is ON (NN_HAVE_ONEDNN). */
#ifndef NECO_NETS_ONEDNN_ONEDNN_H
#define NECO_NETS_ONEDNN_ONEDNN_H
#include "nets/ops.h"

#include <stddef.h>

extern const nn_ops nn_onednn_ops;
/* Creates the engine and stream in ctx->backend (called by nn_context_create). */
int nn_onednn_init(nn_context *ctx, char *err, size_t errlen);
#endif
