/* libFuzzer harness of the strict safetensors loader (nets/safetensors.c) and its JSON parser:
 * any input must load or fail with a message, never read out of bounds or leak. Seed corpus:
 * tests/fuzz/corpus/weights (small weights files of tests/data/nets). */
#include "nets/safetensors.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_weights *w = NULL;
    char err[256];
    if (nn_weights_load_memory(data, size, &w, err, sizeof err) == 0) {
        /* Touch every tensor so that a wrong size shows up as an out-of-bounds read. */
        volatile float sink = 0;
        for (size_t i = 0; i < w->count; i++)
            if (w->w[i].f32 && w->w[i].numel)
                sink += w->w[i].f32[w->w[i].numel - 1];
        (void)sink;
        nn_weights_free(w);
    } else if (strlen(err) == 0) {
        __builtin_trap(); /* a failure must say why */
    }
    return 0;
}
