/* Runs the units (tiles or chunks) of a stream on the context's threads. Units are coded
 * independently (BITSTREAM.md 1), so they can run in any order and at the same time. */
#ifndef NECO_CODEC_PARALLEL_H
#define NECO_CODEC_PARALLEL_H
#include "context.h"

/* Codes unit `index` with ctx: a per-worker copy of the caller's context, with its own neural
 * backend context and error buffer, so that workers share nothing mutable. */
typedef neco_status (*codec_unit_fn)(neco_context *ctx, uint32_t index, void *arg);

/* Calls fn for every unit 0..units-1. With fewer than two units per thread, runs them in order
 * on ctx itself (whose backend then uses all threads inside each unit); otherwise spreads units
 * over `threads` workers, each with a backend context of its own that the neco context keeps
 * for later calls. Reports progress as units finish. On failure, returns the status of the
 * lowest-numbered failing unit and leaves its message in ctx. */
neco_status codec_for_each_unit(neco_context *ctx, uint32_t units, codec_unit_fn fn, void *arg);

#endif
