/* Strict safetensors loader (see safetensors.h). */
#include "nets/safetensors.h"

#include "nets/json.h"
#include "nets/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    nn_dtype type;
    size_t size;
} dtypes[] = {
    {"F32", NN_F32, 4}, {"F16", NN_F16, 2}, {"I8", NN_I8, 1},
    {"I16", NN_I16, 2}, {"I32", NN_I32, 4},
};

const char *nn_dtype_name(nn_dtype t)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].type == t) return dtypes[i].name;
    return "?";
}

static int errorf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

float nn_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13); /* inf, NaN (payload kept) */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13); /* rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal half: man * 2^-24, normal in float32. Normalise the mantissa. */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

typedef struct span {
    size_t begin, end;
    const char *name;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int weight_cmp(const void *a, const void *b)
{
    return strcmp(((const nn_weight *)a)->name, ((const nn_weight *)b)->name);
}

/* Converts one entry of the header and copies its data. */
static int load_entry(const nn_json *e, const unsigned char *data, size_t data_len, nn_weight *w,
                      span *sp, char *err, size_t errlen)
{
    const char *name = e->key;
    if (e->type != NN_JSON_OBJECT)
        return errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s': entry is not an object", name);
    const nn_json *jd = nn_json_get(e, "dtype"), *js = nn_json_get(e, "shape"),
                  *jo = nn_json_get(e, "data_offsets");
    if (!jd || !js || !jo || e->len != 3)
        return errorf(err, errlen, NN_ERR_FORMAT,
                      "tensor '%s': needs exactly the keys dtype, shape, data_offsets", name);
    if (jd->type != NN_JSON_STRING)
        return errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s': dtype is not a string", name);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(jd->string, dtypes[i].name) == 0) {
            w->dtype = dtypes[i].type;
            esize = dtypes[i].size;
        }
    if (!esize)
        return errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s': unsupported dtype '%s'", name,
                      jd->string);
    if (js->type != NN_JSON_ARRAY || js->len > NN_WEIGHT_MAX_DIMS)
        return errorf(err, errlen, NN_ERR_FORMAT,
                      "tensor '%s': shape is not an array of at most %d integers", name,
                      NN_WEIGHT_MAX_DIMS);
    size_t numel = 1;
    int overflow = 0;
    w->ndim = 0;
    for (const nn_json *d = js->child; d; d = d->next) {
        if (d->type != NN_JSON_NUMBER || !d->is_integer || d->integer < 0 || d->integer > INT32_MAX)
            return errorf(err, errlen, NN_ERR_FORMAT,
                          "tensor '%s': shape entries must be integers in [0, 2^31)", name);
        w->shape[w->ndim++] = (int)d->integer;
        if (d->integer && numel > SIZE_MAX / (size_t)d->integer)
            overflow = 1;
        else
            numel *= (size_t)d->integer;
    }
    if (overflow || numel > SIZE_MAX / esize)
        return errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s': shape too large", name);
    if (jo->type != NN_JSON_ARRAY || jo->len != 2 || jo->child->type != NN_JSON_NUMBER ||
        jo->child->next->type != NN_JSON_NUMBER || !jo->child->is_integer ||
        !jo->child->next->is_integer)
        return errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s': data_offsets must be two integers",
                      name);
    int64_t b = jo->child->integer, en = jo->child->next->integer;
    if (b < 0 || en < b || (uint64_t)en > data_len)
        return errorf(err, errlen, NN_ERR_FORMAT,
                      "tensor '%s': data_offsets [%lld, %lld] outside the data buffer (%zu bytes)",
                      name, (long long)b, (long long)en, data_len);
    if ((uint64_t)(en - b) != (uint64_t)numel * esize)
        return errorf(err, errlen, NN_ERR_FORMAT,
                      "tensor '%s': data_offsets span %lld bytes, shape and dtype need %zu", name,
                      (long long)(en - b), numel * esize);
    w->numel = numel;
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    sp->name = name;
    const unsigned char *src = data + b;
    size_t n = numel ? numel : 1;
    if (w->dtype == NN_F32 || w->dtype == NN_F16) {
        float *f = malloc(n * sizeof *f);
        if (!f) return NN_ERR_NOMEM;
        for (size_t i = 0; i < numel; i++) {
            if (w->dtype == NN_F16) {
                f[i] = nn_half_to_float((uint16_t)rd_le(src + 2 * i, 2));
            } else {
                uint32_t bits = (uint32_t)rd_le(src + 4 * i, 4);
                memcpy(&f[i], &bits, 4);
            }
        }
        w->f32 = f;
    } else {
        void *v = malloc(n * esize);
        if (!v) return NN_ERR_NOMEM;
        for (size_t i = 0; i < numel; i++) {
            uint64_t u = rd_le(src + esize * i, (int)esize);
            if (w->dtype == NN_I8)
                ((int8_t *)v)[i] = (int8_t)(u >= 0x80 ? (int)u - 0x100 : (int)u);
            else if (w->dtype == NN_I16)
                ((int16_t *)v)[i] = (int16_t)(u >= 0x8000 ? (int32_t)u - 0x10000 : (int32_t)u);
            else
                ((int32_t *)v)[i] =
                    (int32_t)(u >= 0x80000000u ? (int64_t)u - 0x100000000ll : (int64_t)u);
        }
        w->ints = v;
    }
    return NN_OK;
}

static int load_metadata(const nn_json *m, nn_weights *ws, char *err, size_t errlen)
{
    if (m->type != NN_JSON_OBJECT)
        return errorf(err, errlen, NN_ERR_FORMAT, "__metadata__ is not an object");
    ws->meta = calloc(2 * m->len + 1, sizeof *ws->meta);
    if (!ws->meta) return NN_ERR_NOMEM;
    for (const nn_json *e = m->child; e; e = e->next) {
        if (e->type != NN_JSON_STRING)
            return errorf(err, errlen, NN_ERR_FORMAT, "__metadata__ '%s' is not a string", e->key);
        char *k = malloc(strlen(e->key) + 1), *v = malloc(e->len + 1);
        if (!k || !v) {
            free(k);
            free(v);
            return NN_ERR_NOMEM;
        }
        memcpy(k, e->key, strlen(e->key) + 1);
        memcpy(v, e->string, e->len + 1);
        ws->meta[2 * ws->meta_count] = k;
        ws->meta[2 * ws->meta_count + 1] = v;
        ws->meta_count++;
    }
    return NN_OK;
}

int nn_weights_load_memory(const void *buf, size_t len, nn_weights **out, char *err, size_t errlen)
{
    const unsigned char *p = buf;
    *out = NULL;
    if (len < 8)
        return errorf(err, errlen, NN_ERR_FORMAT, "file too short for a safetensors header");
    uint64_t hlen = rd_le(p, 8);
    if (hlen > len - 8)
        return errorf(err, errlen, NN_ERR_FORMAT,
                      "header length %llu exceeds the file (%zu bytes after the length)",
                      (unsigned long long)hlen, len - 8);
    if (hlen > NN_SAFETENSORS_MAX_HEADER)
        return errorf(err, errlen, NN_ERR_FORMAT, "header length %llu over the limit",
                      (unsigned long long)hlen);
    nn_json *root;
    int rc = nn_json_parse((const char *)p + 8, (size_t)hlen, &root, err, errlen);
    if (rc) return rc;
    nn_weights *ws = calloc(1, sizeof *ws);
    span *spans = NULL;
    if (!ws) {
        nn_json_free(root);
        return NN_ERR_NOMEM;
    }
    if (root->type != NN_JSON_OBJECT) {
        rc = errorf(err, errlen, NN_ERR_FORMAT, "header is not a JSON object");
        goto done;
    }
    ws->w = calloc(root->len + 1, sizeof *ws->w);
    spans = calloc(root->len + 1, sizeof *spans);
    if (!ws->w || !spans) {
        rc = NN_ERR_NOMEM;
        goto done;
    }
    const unsigned char *data = p + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    for (const nn_json *e = root->child; e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) {
            if (ws->meta) {
                rc = errorf(err, errlen, NN_ERR_FORMAT, "duplicate __metadata__");
                goto done;
            }
            if ((rc = load_metadata(e, ws, err, errlen))) goto done;
            continue;
        }
        nn_weight *w = &ws->w[ws->count];
        w->name = malloc(strlen(e->key) + 1);
        if (!w->name) {
            rc = NN_ERR_NOMEM;
            goto done;
        }
        memcpy(w->name, e->key, strlen(e->key) + 1);
        ws->count++;
        if ((rc = load_entry(e, data, data_len, w, &spans[ws->count - 1], err, errlen))) goto done;
    }
    /* The tensors must tile the buffer: sorted by offset, each starts where the last ended. */
    qsort(spans, ws->count, sizeof *spans, span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < ws->count; i++) {
        if (spans[i].begin != at) {
            rc = errorf(err, errlen, NN_ERR_FORMAT,
                        spans[i].begin < at ? "tensor '%s': data overlaps another tensor"
                                            : "tensor '%s': unused bytes before its data",
                        spans[i].name);
            goto done;
        }
        at = spans[i].end;
    }
    if (at != data_len) {
        rc = errorf(err, errlen, NN_ERR_FORMAT, "%zu unused bytes at the end of the data buffer",
                    data_len - at);
        goto done;
    }
    qsort(ws->w, ws->count, sizeof *ws->w, weight_cmp);
    for (size_t i = 1; i < ws->count; i++)
        if (strcmp(ws->w[i - 1].name, ws->w[i].name) == 0) {
            rc = errorf(err, errlen, NN_ERR_FORMAT, "tensor '%s' appears twice", ws->w[i].name);
            goto done;
        }
    rc = NN_OK;
done:
    free(spans);
    nn_json_free(root);
    if (rc) {
        nn_weights_free(ws);
        if (rc == NN_ERR_NOMEM) errorf(err, errlen, rc, "out of memory");
        return rc;
    }
    *out = ws;
    return NN_OK;
}

int nn_weights_load_file(const char *path, nn_weights **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return errorf(err, errlen, NN_ERR_IO, "cannot open '%s'", path);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = NN_OK;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                rc = errorf(err, errlen, NN_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = errorf(err, errlen, NN_ERR_IO, "cannot read '%s'", path);
            break;
        }
    }
    fclose(f);
    if (rc == NN_OK) rc = nn_weights_load_memory(buf, len, out, err, errlen);
    free(buf);
    return rc;
}

void nn_weights_free(nn_weights *ws)
{
    if (!ws) return;
    for (size_t i = 0; i < ws->count; i++) {
        free(ws->w[i].name);
        free(ws->w[i].f32);
        free(ws->w[i].ints);
    }
    free(ws->w);
    for (size_t i = 0; i < 2 * ws->meta_count; i++)
        free(ws->meta[i]);
    free(ws->meta);
    free(ws);
}

const nn_weight *nn_weights_find(const nn_weights *ws, const char *name)
{
    nn_weight key;
    key.name = (char *)(uintptr_t)name;
    if (!ws || !ws->count) return NULL;
    return bsearch(&key, ws->w, ws->count, sizeof *ws->w, weight_cmp);
}

int nn_weights_get(const nn_weights *ws, const char *name, nn_tensor *out, char *err, size_t errlen)
{
    const nn_weight *w = nn_weights_find(ws, name);
    memset(out, 0, sizeof *out);
    if (!w) return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' is missing", name);
    if (!w->f32)
        return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' has dtype %s, expected F32", name,
                      nn_dtype_name(w->dtype));
    if (w->ndim > NN_MAX_DIMS)
        return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' has %d dimensions, at most %d",
                      name, w->ndim, NN_MAX_DIMS);
    *out = nn_tensor_view(w->f32, w->ndim, w->shape);
    return NN_OK;
}

const char *nn_weights_metadata(const nn_weights *ws, const char *key)
{
    for (size_t i = 0; ws && i < ws->meta_count; i++)
        if (strcmp(ws->meta[2 * i], key) == 0) return ws->meta[2 * i + 1];
    return NULL;
}

static void shape_str(char *s, size_t n, int ndim, const int *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(s, n, "[");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(s + at, n - at, i ? ", %d" : "%d", shape[i]);
    if (at < n) snprintf(s + at, n - at, "]");
}

int nn_weights_check(const nn_weights *ws, const nn_weight_spec *spec, size_t n, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const nn_weight_spec *s = &spec[i];
        const nn_weight *w = nn_weights_find(ws, s->name);
        if (!w) return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' is missing", s->name);
        int float_ok = s->dtype == NN_F32 && (w->dtype == NN_F32 || w->dtype == NN_F16);
        if (!float_ok && w->dtype != s->dtype)
            return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' has dtype %s, expected %s",
                          s->name, nn_dtype_name(w->dtype), nn_dtype_name(s->dtype));
        int same = w->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++)
            same = w->shape[d] == s->shape[d];
        if (!same) {
            char a[128], b[128];
            shape_str(a, sizeof a, w->ndim, w->shape);
            shape_str(b, sizeof b, s->ndim, s->shape);
            return errorf(err, errlen, NN_ERR_MISMATCH, "tensor '%s' has shape %s, expected %s",
                          s->name, a, b);
        }
    }
    return NN_OK;
}
