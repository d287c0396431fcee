/* The context behind the public neco_context handle, and the error helper every codec/ file
 * uses to fail with a status and a one-line message. */
#ifndef NECO_CODEC_CONTEXT_H
#define NECO_CODEC_CONTEXT_H
#include <neco/neco.h>

#define CODEC_DEFAULT_MAX_PIXELS (UINT64_C(1) << 28) /* 16384 x 16384 */
#define CODEC_DEFAULT_MAX_FRAMES (UINT64_C(1) << 32)

struct nn_context;

#define CODEC_MAX_MODELS 8

struct neco_context {
    neco_config config; /* with defaults resolved: max_pixels, max_frames, threads > 0 */
    char backend[16];
    char weights_dir[1024]; /* "" = the built-in search list (models.c) */
    char error[256];
    struct nn_context *nn;               /* the neural backend (nets/ops.h) */
    /* One single-threaded backend context per worker of codec_for_each_unit (config.threads
     * entries), made on first use and kept for the next calls: their primitive caches (oneDNN
     * kernels, weights already reordered) and scratch memory are what make a second image
     * cheaper than the first. */
    struct nn_context **worker_nn;
    void *model_state[CODEC_MAX_MODELS]; /* loaded weights, by registry index */
};

/* Records a printf-style message as the context's last error and returns status. A NULL
 * context is allowed (the message is dropped). */
neco_status codec_fail(neco_context *ctx, neco_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reports progress (0..1) to the config's callback, if any. */
void codec_progress(const neco_context *ctx, double fraction);

#endif
