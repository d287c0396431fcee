/* Strict safetensors loader (format: https://github.com/huggingface/safetensors, "Format").
 *
 *   bytes 0..8     N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N   a JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
 *                  plus an optional "__metadata__" object of string values
 *   bytes 8+N..    the data buffer; offsets are relative to its start
 *
 * Checks, every one reported with the tensor's name: N fits in the file; the header is valid
 * JSON (nets/json.h) and an object; each entry has exactly the three keys; the dtype is one of
 * F32, F16, I8, I16, I32 (others are refused); shape entries are non-negative integers, at most
 * NN_WEIGHT_MAX_DIMS of them; 0 <= begin <= end <= buffer length and end - begin equals
 * shape product * dtype size; the tensors cover the buffer exactly, without overlap or holes
 * (as the format requires, so that no bytes hide in a weights file); names are unique.
 * Data are little-endian; F16 (IEEE binary16) is converted to float32 at load, exactly. */
#ifndef NECO_NETS_SAFETENSORS_H
#define NECO_NETS_SAFETENSORS_H
#include "nets/tensor.h"

#include <stddef.h>
#include <stdint.h>

#define NN_WEIGHT_MAX_DIMS 8
#define NN_SAFETENSORS_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef enum nn_dtype { NN_F32, NN_F16, NN_I8, NN_I16, NN_I32 } nn_dtype;

typedef struct nn_weight {
    char *name;
    nn_dtype dtype; /* as stored in the file */
    int ndim;
    int shape[NN_WEIGHT_MAX_DIMS];
    size_t numel;
    float *f32; /* F32 and F16 tensors: the values as float32 (NULL for integers) */
    void *ints; /* I8, I16, I32 tensors: int8_t / int16_t / int32_t values (NULL for floats) */
} nn_weight;

typedef struct nn_weights {
    nn_weight *w; /* sorted by name */
    size_t count;
    char **meta; /* "__metadata__": key0, value0, key1, value1, ... */
    size_t meta_count;
} nn_weights;

/* What a graph expects of one tensor. NN_F32 accepts F32 and F16 tensors (both are float32
 * once loaded); integer dtypes must match exactly. */
typedef struct nn_weight_spec {
    const char *name;
    nn_dtype dtype;
    int ndim;
    int shape[NN_WEIGHT_MAX_DIMS];
} nn_weight_spec;

/* Parses a safetensors image held in memory. Returns NN_OK, NN_ERR_FORMAT (message in err) or
 * NN_ERR_NOMEM. On success *out must be released with nn_weights_free. */
int nn_weights_load_memory(const void *buf, size_t len, nn_weights **out, char *err, size_t errlen);
/* Reads and parses a file (NN_ERR_IO when it cannot be read). */
int nn_weights_load_file(const char *path, nn_weights **out, char *err, size_t errlen);
void nn_weights_free(nn_weights *ws);

/* The tensor named name, or NULL. */
const nn_weight *nn_weights_find(const nn_weights *ws, const char *name);
/* A float tensor (F32 or F16 in the file) of at most NN_MAX_DIMS dimensions as a view into
 * ws (valid until nn_weights_free). NN_ERR_MISMATCH, with a message naming it, when it is
 * absent, integer, or of higher rank. */
int nn_weights_get(const nn_weights *ws, const char *name, nn_tensor *out, char *err,
                   size_t errlen);
/* The metadata value of key, or NULL. */
const char *nn_weights_metadata(const nn_weights *ws, const char *key);

/* Checks ws against the n tensors a graph expects, in order; tensors not listed are allowed
 * (one file may hold several graphs). Returns NN_OK, or NN_ERR_MISMATCH with a message naming
 * the first expected tensor that is missing or has another dtype, rank or shape. */
int nn_weights_check(const nn_weights *ws, const nn_weight_spec *spec, size_t n, char *err,
                     size_t errlen);

/* IEEE 754 binary16 to binary32, exact for every input (subnormals, infinities, NaN). */
float nn_half_to_float(uint16_t h);
const char *nn_dtype_name(nn_dtype t);
#endif
