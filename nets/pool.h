/* A small thread pool for the ref backend: one parallel-for at a time, no global state.
 *
 * nn_pool_run(pool, fn, arg, n) calls fn(arg, i) once for every i in [0, n), spread over the
 * pool's threads (the calling thread takes part), and returns when all calls are done. Which
 * thread runs which i is unspecified, so a kernel must make each task's result independent of
 * the others (every output element is then computed by the same sequence of operations
 * whatever the thread count: results are bit-identical for 1 or N threads). */
#ifndef NECO_NETS_POOL_H
#define NECO_NETS_POOL_H

typedef struct nn_pool nn_pool;
typedef void (*nn_task_fn)(void *arg, int task);

/* threads >= 1 (1 creates no thread). Returns NN_OK or NN_ERR_NOMEM. */
int nn_pool_create(int threads, nn_pool **out);
void nn_pool_destroy(nn_pool *pool);
int nn_pool_threads(const nn_pool *pool);
/* pool may be NULL: the tasks then run in order on the calling thread. */
void nn_pool_run(nn_pool *pool, nn_task_fn fn, void *arg, int ntasks);
#endif
