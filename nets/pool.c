/* Thread pool (see pool.h): workers sleep on a condition variable; a run publishes a job and a
 * generation number, every thread (the caller too) claims task indices from an atomic
 * counter, and the caller waits until all workers have left the job. */
#define _POSIX_C_SOURCE 200809L
#include "nets/pool.h"

#include "nets/tensor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct nn_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;
    int busy; /* workers still inside the current job */
    int quit;
    nn_task_fn fn;
    void *arg;
    int ntasks;
    atomic_int next;
};

static void drain(nn_pool *p, nn_task_fn fn, void *arg, int ntasks)
{
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= ntasks) break;
        fn(arg, i);
    }
}

static void *worker(void *v)
{
    nn_pool *p = v;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        nn_task_fn fn = p->fn;
        void *arg = p->arg;
        int n = p->ntasks;
        pthread_mutex_unlock(&p->mu);
        drain(p, fn, arg, n);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int nn_pool_create(int threads, nn_pool **out)
{
    *out = NULL;
    if (threads < 1) threads = 1;
    nn_pool *p = calloc(1, sizeof *p);
    if (!p) return NN_ERR_NOMEM;
    p->threads = threads;
    atomic_init(&p->next, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) {
            nn_pool_destroy(p);
            return NN_ERR_NOMEM;
        }
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&p->workers[i], NULL, worker, p) != 0) {
                p->threads = i + 1; /* the ones started, plus the caller */
                nn_pool_destroy(p);
                return NN_ERR_NOMEM;
            }
        }
    }
    *out = p;
    return NN_OK;
}

void nn_pool_destroy(nn_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; p->workers && i < p->threads - 1; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int nn_pool_threads(const nn_pool *p)
{
    return p ? p->threads : 1;
}

void nn_pool_run(nn_pool *p, nn_task_fn fn, void *arg, int ntasks)
{
    if (ntasks <= 0) return;
    if (!p || p->threads == 1 || ntasks == 1) {
        for (int i = 0; i < ntasks; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->busy = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, fn, arg, ntasks);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
