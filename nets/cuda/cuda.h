/* The cuda backend of nets/ (cuda.cu): cuDNN for convolutions, cuBLAS for matrix products,
 * own kernels (kernels.h) for everything else; layer outputs in CUDA managed memory.
 *
 * It is built as a module of its own, libneco_cuda.so, which context.c loads (dlopen) the
 * first time a "cuda" context is asked for: the CUDA runtime, cuBLAS and cuDNN take ~70 ms
 * and ~220 MB to load, which a process that runs on the CPU should not pay. The module refers
 * to nothing of neco's; it exports one function, nn_cuda_module_get. */
#ifndef NECO_NETS_CUDA_CUDA_H
#define NECO_NETS_CUDA_CUDA_H
#ifdef __cplusplus
extern "C" {
#endif
#include "nets/ops.h"

/* Raised when the module interface or the structures it shares (nn_ops, nn_context,
 * nn_tensor) change. */
#define NN_CUDA_MODULE_ABI 1

typedef struct nn_cuda_module {
    const nn_ops *ops;
    /* Sets up ctx->backend on the first CUDA device (CUDA_VISIBLE_DEVICES picks it): NN_OK,
     * or NN_ERR_BACKEND with the reason in err (no device or driver, no managed memory, a
     * library that fails to start). */
    int (*init)(nn_context *ctx, char *err, size_t errlen);
    /* The number of usable CUDA devices (0 without a driver or device); the first one's name
     * in name (when not NULL). */
    int (*devices)(char *name, size_t namelen);
} nn_cuda_module;

/* The module's one export: its table, or NULL when abi or the sizes of the shared structures
 * differ from the module's own (a module from another build). */
const nn_cuda_module *nn_cuda_module_get(int abi, size_t ops_size, size_t context_size,
                                         size_t tensor_size);

/* In context.c: loads the module (the path in $NECO_CUDA_MODULE, else the build tree's, else the
 * installed one) and returns its table, or NULL with the reason in err. */
const nn_cuda_module *nn_cuda_load(char *err, size_t errlen);
/* nn_cuda_load's devices(), 0 when the module cannot be loaded. */
int nn_cuda_devices(char *name, size_t namelen);
#ifdef __cplusplus
}
#endif
#endif
