/* Backend selection (see ops.h). */
#define _POSIX_C_SOURCE 200809L /* getenv, dlopen */
#include "nets/ops.h"

#ifdef NN_HAVE_ONEDNN
#include "nets/onednn/onednn.h"
#endif
#ifdef NN_HAVE_CUDA
#include "nets/cuda/cuda.h"

#include <dlfcn.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NN_HAVE_CUDA
static const nn_cuda_module *load_module(const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL); /* kept loaded: the CUDA runtime stays */
    if (!h) {
        const char *why = dlerror();
        if (err && errlen)
            snprintf(err, errlen, "backend 'cuda': cannot load %s", why ? why : path);
        return NULL;
    }
    const nn_cuda_module *(*get)(int, size_t, size_t, size_t);
    *(void **)&get = dlsym(h, "nn_cuda_module_get");
    const nn_cuda_module *m =
        get ? get(NN_CUDA_MODULE_ABI, sizeof(nn_ops), sizeof(nn_context), sizeof(nn_tensor)) : NULL;
    if (!m && err && errlen)
        snprintf(err, errlen, "backend 'cuda': %s is from another build of neco", path);
    return m;
}

const nn_cuda_module *nn_cuda_load(char *err, size_t errlen)
{
    const char *env = getenv("NECO_CUDA_MODULE");
    if (env && *env) return load_module(env, err, errlen);
    /* the build tree's module (where this library was built), else the installed one */
    const nn_cuda_module *m = load_module(NN_CUDA_MODULE_BUILT, err, errlen);
    return m ? m : load_module(NN_CUDA_MODULE_INSTALLED, err, errlen);
}

int nn_cuda_devices(char *name, size_t namelen)
{
    const nn_cuda_module *m = nn_cuda_load(NULL, 0);
    return m ? m->devices(name, namelen) : 0;
}
#endif

int nn_backend_available(const char *name)
{
    if (strcmp(name, "ref") == 0) return 1;
#ifdef NN_HAVE_ONEDNN
    if (strcmp(name, "onednn") == 0) return 1;
#endif
#ifdef NN_HAVE_CUDA
    if (strcmp(name, "cuda") == 0) return 1;
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
#ifdef NN_HAVE_CUDA
    if (strcmp(name, "cuda") == 0) {
        const nn_cuda_module *m = nn_cuda_load(err, errlen);
        int rc = m ? m->init(ctx, err, errlen) : NN_ERR_BACKEND;
        if (rc) {
            nn_context_destroy(ctx);
            return rc;
        }
        ctx->ops = m->ops;
    }
#endif
    *out = ctx;
    return NN_OK;
}

static void release_work(nn_context *ctx)
{
    if (ctx->work && ctx->ops->release)
        ctx->ops->release(ctx->work);
    else
        free(ctx->work);
    ctx->work = NULL;
    ctx->work_cap = 0;
}

float *nn_context_work(nn_context *ctx, size_t n)
{
    if (ctx->work_cap >= n) return ctx->work;
    release_work(ctx);
    if (n <= SIZE_MAX / sizeof(float))
        ctx->work = ctx->ops->alloc ? ctx->ops->alloc(ctx, n * sizeof(float))
                                    : nn_big_alloc(n * sizeof(float));
    if (ctx->work) ctx->work_cap = n;
    return ctx->work;
}

void nn_context_destroy(nn_context *ctx)
{
    if (!ctx) return;
    release_work(ctx);
    if (ctx->backend_free) ctx->backend_free(ctx->backend);
    nn_pool_destroy(ctx->pool);
    free(ctx);
}

int nn_context_sync(nn_context *ctx)
{
    return ctx->ops->sync ? ctx->ops->sync(ctx) : NN_OK;
}

const char *nn_context_backend(const nn_context *ctx)
{
    return ctx->ops->name;
}
