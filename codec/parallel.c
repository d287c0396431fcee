#define _POSIX_C_SOURCE 200809L
#include "parallel.h"

#include "nets/ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    neco_context *ctx;
    codec_unit_fn fn;
    void *arg;
    uint32_t units;
    pthread_mutex_t lock;
    uint32_t next;      /* next unit to hand out */
    uint32_t done;      /* units finished, for progress */
    uint32_t failed_at; /* lowest failing unit, or units */
    neco_status status;
    char error[sizeof(((neco_context *)0)->error)];
} job;

typedef struct worker_arg {
    job *j;
    struct nn_context *nn; /* this worker's backend context (the neco context's worker_nn) */
} worker_arg;

static void *worker(void *p)
{
    const worker_arg *w = p;
    job *j = w->j;
    neco_context local = *j->ctx;
    local.error[0] = 0;
    local.config.progress = NULL;
    local.nn = w->nn;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        /* After a failure no new unit starts; the failing one with the lowest index wins. */
        uint32_t i = j->status == NECO_OK ? j->next++ : j->units;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->units)
            break;
        neco_status st = j->fn(&local, i, j->arg);
        pthread_mutex_lock(&j->lock);
        if (st != NECO_OK && i < j->failed_at) {
            j->failed_at = i;
            j->status = st;
            memcpy(j->error, local.error, sizeof j->error);
        }
        j->done++;
        if (st == NECO_OK)
            codec_progress(j->ctx, (double)j->done / j->units);
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

/* The first n worker contexts of ctx, made where missing. */
static neco_status worker_contexts(neco_context *ctx, uint32_t n)
{
    if (!ctx->worker_nn &&
        !(ctx->worker_nn = calloc((size_t)ctx->config.threads, sizeof *ctx->worker_nn)))
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    char err[128];
    for (uint32_t t = 0; t < n; t++)
        if (!ctx->worker_nn[t] &&
            nn_context_create(ctx->backend, 1, &ctx->worker_nn[t], err, sizeof err) != 0)
            return codec_fail(ctx, NECO_ERR_BACKEND, "cannot start a worker: %s", err);
    return NECO_OK;
}

neco_status codec_for_each_unit(neco_context *ctx, uint32_t units, codec_unit_fn fn, void *arg)
{
    /* Units (tiles, chunks) go to workers, one context each, only when there are at least two
     * per worker; fewer run one after the other, each with all of the context's threads inside
     * its layers. (Measured with the first img-swin, whose tiles were 512 wide: a 768x512 image
     * was two tiles, 512 and 256 wide: one per worker, the larger one set the time (decode
     * 457 ms); in turn, with two threads each, 372 ms.) */
    uint32_t workers = (uint32_t)ctx->config.threads;
    if (units < 2 * workers)
        workers = 1;
    if (workers <= 1) {
        for (uint32_t i = 0; i < units; i++) {
            neco_status st = fn(ctx, i, arg);
            if (st != NECO_OK)
                return st;
            codec_progress(ctx, (double)(i + 1) / units);
        }
        return NECO_OK;
    }
    neco_status st = worker_contexts(ctx, workers);
    if (st != NECO_OK)
        return st;
    job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.fn = fn;
    j.arg = arg;
    j.units = units;
    j.failed_at = units;
    j.status = NECO_OK;
    pthread_mutex_init(&j.lock, NULL);
    pthread_t *threads = malloc(sizeof(pthread_t) * workers);
    worker_arg *args = malloc(sizeof(worker_arg) * workers);
    if (!threads || !args) {
        free(threads);
        free(args);
        pthread_mutex_destroy(&j.lock);
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    }
    uint32_t started = 0;
    for (; started < workers; started++) {
        args[started].j = &j;
        args[started].nn = ctx->worker_nn[started];
        if (pthread_create(&threads[started], NULL, worker, &args[started]) != 0)
            break;
    }
    if (started == 0) { /* no thread could start: do the work here */
        args[0].j = &j;
        args[0].nn = ctx->worker_nn[0];
        worker(&args[0]);
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    free(args);
    pthread_mutex_destroy(&j.lock);
    if (j.status != NECO_OK)
        memcpy(ctx->error, j.error, sizeof ctx->error);
    return j.status;
}
