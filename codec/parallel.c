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

static void *worker(void *p)
{
    job *j = p;
    neco_context local = *j->ctx;
    local.error[0] = 0;
    local.config.progress = NULL;
    char err[128];
    if (nn_context_create(j->ctx->backend, 1, &local.nn, err, sizeof err) != 0) {
        pthread_mutex_lock(&j->lock);
        if (j->status == NECO_OK) {
            j->status = NECO_ERR_BACKEND;
            j->failed_at = 0;
            snprintf(j->error, sizeof j->error, "cannot start a worker: %s", err);
        }
        pthread_mutex_unlock(&j->lock);
        return NULL;
    }
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
    nn_context_destroy(local.nn);
    return NULL;
}

neco_status codec_for_each_unit(neco_context *ctx, uint32_t units, codec_unit_fn fn, void *arg)
{
    uint32_t workers = (uint32_t)ctx->config.threads;
    if (workers > units)
        workers = units;
    if (workers <= 1) {
        for (uint32_t i = 0; i < units; i++) {
            neco_status st = fn(ctx, i, arg);
            if (st != NECO_OK)
                return st;
            codec_progress(ctx, (double)(i + 1) / units);
        }
        return NECO_OK;
    }
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
    if (!threads) {
        pthread_mutex_destroy(&j.lock);
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    }
    uint32_t started = 0;
    for (; started < workers; started++)
        if (pthread_create(&threads[started], NULL, worker, &j) != 0)
            break;
    if (started == 0)
        worker(&j); /* no thread could start: do the work here */
    for (uint32_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    pthread_mutex_destroy(&j.lock);
    if (j.status != NECO_OK)
        memcpy(ctx->error, j.error, sizeof ctx->error);
    return j.status;
}
