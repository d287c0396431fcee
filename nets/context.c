/* Backend selection (see ops.h). */
#include "nets/ops.h"

#ifdef NN_HAVE_ONEDNN
#include "nets/onednn/onednn.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nn_backend_available(const char *name)
{
    if (strcmp(name, "ref") == 0) return 1;
#ifdef NN_HAVE_ONEDNN
    if (strcmp(name, "onednn") == 0) return 1;
#endif
    return 0;
}

int nn_context_create(const char *name, int threads, nn_context **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!name || strcmp(name, "auto") == 0)
        name = nn_backend_available("onednn") ? "onednn" : "ref";
    if (!nn_backend_available(name)) {
        if (err && errlen) snprintf(err, errlen, "backend '%s' is not available", name);
        return NN_ERR_BACKEND;
    }
    nn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NN_ERR_NOMEM;
    ctx->threads = threads < 1 ? 1 : threads;
    ctx->ops = &nn_ref_ops;
    if (ctx->threads > 1 && nn_pool_create(ctx->threads, &ctx->pool) != NN_OK) {
        free(ctx);
        return NN_ERR_NOMEM;
    }
#ifdef NN_HAVE_ONEDNN
    if (strcmp(name, "onednn") == 0) {
        int rc = nn_onednn_init(ctx, err, errlen);
        if (rc) {
            nn_context_destroy(ctx);
            return rc;
        }
        ctx->ops = &nn_onednn_ops;
    }
#endif
    *out = ctx;
    return NN_OK;
}

float *nn_context_work(nn_context *ctx, size_t n)
{
    if (ctx->work_cap >= n) return ctx->work;
    free(ctx->work);
    ctx->work_cap = 0;
    ctx->work = n > SIZE_MAX / sizeof(float) ? NULL : nn_big_alloc(n * sizeof(float));
    if (ctx->work) ctx->work_cap = n;
    return ctx->work;
}

void nn_context_destroy(nn_context *ctx)
{
    if (!ctx) return;
    free(ctx->work);
    if (ctx->backend_free) ctx->backend_free(ctx->backend);
    nn_pool_destroy(ctx->pool);
    free(ctx);
}

const char *nn_context_backend(const nn_context *ctx)
{
    return ctx->ops->name;
}
