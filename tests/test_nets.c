#define _POSIX_C_SOURCE 200809L /* setenv */
/* nets/ core: JSON parser, safetensors loader, weight checks, fp16, thread pool, tensors. */
#include "nets/json.h"
#include "nets/layers.h"
#include "nets/ops.h"
#ifdef NECO_HAVE_CUDA
#include "nets/cuda/cuda.h"
#endif
#include "nets/pool.h"
#include "nets/safetensors.h"
#include "nets/tensor.h"
#include "test.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int json_ok(const char *s)
{
    nn_json *v = NULL;
    char err[128];
    int rc = nn_json_parse(s, strlen(s), &v, err, sizeof err);
    nn_json_free(v);
    return rc == NN_OK;
}

static void test_json_valid(void)
{
    const char *good[] = {
        "{}",
        "[]",
        " {\"a\" : [1, -2, 3.5e2, 0, -0.0, true, false, null]} ",
        "\"\\u00e9\\ud83d\\ude00\\n\\/\"",
        "[[[[]]]]",
        "1E+2",
        "\"caf\xc3\xa9\"",
        "{\"a\":{}}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT(json_ok(good[i]));
    nn_json *v;
    const char *doc = "{\"k\": [9007199254740993, \"x\\u0041\\ud83d\\ude00\"], \"f\": -1.5}";
    CU_ASSERT_EQUAL_FATAL(nn_json_parse(doc, strlen(doc), &v, NULL, 0), NN_OK);
    const nn_json *k = nn_json_get(v, "k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(k->type, NN_JSON_ARRAY);
    CU_ASSERT_EQUAL(k->len, 2);
    CU_ASSERT(k->child->is_integer);
    CU_ASSERT(k->child->integer == 9007199254740993LL); /* exact, beyond double's 2^53 */
    CU_ASSERT_STRING_EQUAL(k->child->next->string, "xA\xf0\x9f\x98\x80");
    CU_ASSERT_EQUAL(k->child->next->len, 6);
    const nn_json *f = nn_json_get(v, "f");
    CU_ASSERT(f && !f->is_integer && f->number == -1.5);
    CU_ASSERT_PTR_NULL(nn_json_get(v, "missing"));
    nn_json_free(v);
}

static void test_json_invalid(void)
{
    const char *bad[] = {
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "NaN",
        "Infinity",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"tab\there\"",
        "tru",
        "nul",
        "{} x",
        "[] []",
        "\"\xc3\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "{\"a\\u0000b\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (json_ok(bad[i])) printf("\naccepted invalid JSON #%zu: %s\n", i, bad[i]);
        CU_ASSERT(!json_ok(bad[i]));
    }
    /* Nesting: 64 levels parse, 65 do not. */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        deep[2 * depth] = 0;
        CU_ASSERT_EQUAL(json_ok(deep), depth == 64);
    }
    /* The error names the byte offset. */
    char err[128] = "";
    nn_json *v;
    CU_ASSERT_EQUAL(nn_json_parse("[1,,2]", 6, &v, err, sizeof err), NN_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "byte 3"));
}

/* A safetensors image: 8-byte LE header length, header, data. */
static unsigned char *make_st(const char *header, const void *data, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    if (data_len) memcpy(b + 8 + h, data, data_len);
    return b;
}

static int load_err(const char *header, size_t data_len, char *err, size_t errlen)
{
    unsigned char data[64] = {0};
    size_t len;
    unsigned char *b = make_st(header, data, data_len, &len);
    nn_weights *ws = NULL;
    int rc = nn_weights_load_memory(b, len, &ws, err, errlen);
    nn_weights_free(ws);
    free(b);
    return rc;
}

static void test_safetensors_valid(void)
{
    float vals[3] = {1.5f, -2.0f, 3.25f};
    unsigned char data[12 + 4 + 2];
    memcpy(data, vals, 12); /* this test assumes a little-endian host, like the format */
    data[12] = 0xff, data[13] = 0xfe, data[14] = 0xfd, data[15] = 0x7f; /* I8: -1 -2 -3 127 */
    data[16] = 0x00, data[17] = 0x3c;                                   /* F16 1.0 */
    const char *hdr = "{\"__metadata__\":{\"model\":\"m\"},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                      "\"q\":{\"dtype\":\"I8\",\"shape\":[2,2],\"data_offsets\":[12,16]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[16,18]}}    ";
    size_t len;
    unsigned char *b = make_st(hdr, data, sizeof data, &len);
    nn_weights *ws;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(nn_weights_load_memory(b, len, &ws, err, sizeof err), NN_OK);
    CU_ASSERT_EQUAL(ws->count, 3);
    const nn_weight *w = nn_weights_find(ws, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT(w->f32[0] == 1.5f && w->f32[1] == -2.0f && w->f32[2] == 3.25f);
    const nn_weight *q = nn_weights_find(ws, "q");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(q->ndim, 2);
    CU_ASSERT_EQUAL(((int8_t *)q->ints)[0], -1);
    CU_ASSERT_EQUAL(((int8_t *)q->ints)[3], 127);
    const nn_weight *h = nn_weights_find(ws, "h");
    CU_ASSERT(h && h->ndim == 0 && h->numel == 1 && h->f32[0] == 1.0f);
    CU_ASSERT_STRING_EQUAL(nn_weights_metadata(ws, "model"), "m");
    CU_ASSERT_PTR_NULL(nn_weights_find(ws, "nope"));
    nn_weights_free(ws);
    free(b);
}

static void test_safetensors_malformed(void)
{
    char err[256];
    struct {
        const char *header;
        size_t data_len;
        const char *must_name; /* a substring the message must contain */
    } cases[] = {
        {"[]", 0, "object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "JSON"},
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "'a'"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,2]}}", 8, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "need 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}}", 4,
         "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         4, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "unused"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "'a'"},
        {"{\"a\":[1]}", 0, "'a'"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,4]}}",
         4, "'a'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        int rc = load_err(cases[i].header, cases[i].data_len, err, sizeof err);
        CU_ASSERT_EQUAL(rc, NN_ERR_FORMAT);
        if (rc != NN_ERR_FORMAT || !strstr(err, cases[i].must_name))
            printf("\ncase %zu: rc %d, message '%s'\n", i, rc, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].must_name));
    }
    /* Header length beyond the file, and a file shorter than the length field. */
    nn_weights *ws = NULL;
    unsigned char b[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CU_ASSERT_EQUAL(nn_weights_load_memory(b, 10, &ws, err, sizeof err), NN_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exceeds"));
    unsigned char huge[10] = {2, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    CU_ASSERT_EQUAL(nn_weights_load_memory(huge, 10, &ws, err, sizeof err), NN_ERR_FORMAT);
    CU_ASSERT_EQUAL(nn_weights_load_memory(b, 5, &ws, err, sizeof err), NN_ERR_FORMAT);
    CU_ASSERT_PTR_NULL(ws);
    CU_ASSERT_EQUAL(nn_weights_load_file("data/nets/does-not-exist", &ws, err, sizeof err),
                    NN_ERR_IO);
    /* Every truncation of a valid file is refused, never read past. */
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    float d[2] = {1, 2};
    size_t len;
    unsigned char *full = make_st(hdr, d, 8, &len);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, full, cut);
        CU_ASSERT_NOT_EQUAL(nn_weights_load_memory(part, cut, &ws, NULL, 0), NN_OK);
        free(part);
    }
    CU_ASSERT_EQUAL(nn_weights_load_memory(full, len, &ws, NULL, 0), NN_OK);
    nn_weights_free(ws);
    free(full);
}

/* Random corruption of a real file: every result is NN_OK or NN_ERR_FORMAT, never a crash or
 * an out-of-bounds read (run under ASan in the sanitizer build). */
static void test_safetensors_mutations(void)
{
    FILE *f = fopen("data/nets/dtypes.safetensors", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CU_ASSERT_FATAL(len > 16 && len < sizeof buf);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int ok = 0, format = 0, other = 0;
    for (int it = 0; it < 3000; it++) {
        unsigned char *m = malloc(len);
        memcpy(m, buf, len);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            /* Mostly the header (where the structure is), sometimes anywhere. */
            size_t at = (it % 5) ? 8 + (size_t)(state % 300) : (size_t)(state % len);
            if (at >= len) at = len - 1;
            m[at] = (unsigned char)(state >> 32);
        }
        size_t cut = (it % 7 == 0) ? (size_t)(state >> 40) % len : len;
        nn_weights *ws = NULL;
        int rc = nn_weights_load_memory(m, cut, &ws, NULL, 0);
        if (rc == NN_OK) {
            ok++;
            for (size_t i = 0; i < ws->count; i++) {
                size_t n = 1;
                for (int d = 0; d < ws->w[i].ndim; d++)
                    n *= (size_t)ws->w[i].shape[d];
                CU_ASSERT_EQUAL(n, ws->w[i].numel);
            }
        } else if (rc == NN_ERR_FORMAT) {
            format++;
        } else {
            other++;
        }
        nn_weights_free(ws);
        free(m);
    }
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(format > 2000); /* corruption is detected, not silently accepted */
    printf("\n    3000 corrupted files: %d accepted (still well-formed), %d refused", ok, format);
}

/* binary16 -> binary32 reference by arithmetic (IEEE 754-2008 section 3.4). */
static double half_value(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(m + 1024, e - 25);
    return s ? -v : v;
}

static void test_fp16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = nn_half_to_float((uint16_t)h);
        double r = half_value((uint16_t)h);
        if (isnan(r) ? !isnan(f) : ((double)f != r || !signbit(f) != !signbit(r))) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    nn_weights *ws;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(
        nn_weights_load_file("data/nets/dtypes.safetensors", &ws, err, sizeof err), NN_OK);
    const nn_weight *h = nn_weights_find(ws, "half"), *r = nn_weights_find(ws, "half_as_f32");
    CU_ASSERT_FATAL(h && r && h->dtype == NN_F16 && r->dtype == NN_F32 && h->numel == r->numel);
    CU_ASSERT_EQUAL(memcmp(h->f32, r->f32, h->numel * sizeof(float)), 0); /* PyTorch's .float() */
    const nn_weight *i8 = nn_weights_find(ws, "i8"), *i16 = nn_weights_find(ws, "i16"),
                    *i32 = nn_weights_find(ws, "i32");
    CU_ASSERT_FATAL(i8 && i16 && i32);
    CU_ASSERT(((int8_t *)i8->ints)[0] == -128 && ((int8_t *)i8->ints)[4] == 127);
    CU_ASSERT(((int16_t *)i16->ints)[0] == -32768 && ((int16_t *)i16->ints)[4] == 32767);
    CU_ASSERT(((int32_t *)i32->ints)[0] == INT32_MIN && ((int32_t *)i32->ints)[4] == INT32_MAX);
    CU_ASSERT_STRING_EQUAL(nn_weights_metadata(ws, "model"), "fixture");
    nn_weights_free(ws);
}

static void test_weights_check(void)
{
    nn_weights *ws;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(
        nn_weights_load_file("data/nets/dtypes.safetensors", &ws, err, sizeof err), NN_OK);
    nn_weight_spec ok[] = {
        {"m", NN_F32, 3, {2, 3, 4}},
        {"half", NN_F32, 1, {11}}, /* F16 is accepted where the graph wants float */
        {"i16", NN_I16, 1, {5}},
    };
    CU_ASSERT_EQUAL(nn_weights_check(ws, ok, 3, err, sizeof err), NN_OK);
    struct {
        nn_weight_spec spec[3];
        const char *msg;
    } bad[] = {
        {{{"m", NN_F32, 3, {2, 3, 4}}, {"absent", NN_F32, 1, {1}}, {"i8", NN_I16, 1, {5}}},
         "tensor 'absent' is missing"},
        {{{"m", NN_F32, 3, {2, 3, 4}}, {"i8", NN_I16, 1, {5}}, {"absent", NN_F32, 1, {1}}},
         "tensor 'i8' has dtype I8, expected I16"},
        {{{"m", NN_F32, 3, {2, 4, 3}}, {"i8", NN_I16, 1, {5}}, {"absent", NN_F32, 1, {1}}},
         "tensor 'm' has shape [2, 3, 4], expected [2, 4, 3]"},
        {{{"m", NN_F32, 2, {2, 3}}, {"i8", NN_I8, 1, {5}}, {"i8", NN_I8, 1, {5}}},
         "tensor 'm' has shape [2, 3, 4], expected [2, 3]"},
        {{{"i32", NN_F32, 1, {5}}, {"i8", NN_I8, 1, {5}}, {"i8", NN_I8, 1, {5}}},
         "tensor 'i32' has dtype I32, expected F32"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(nn_weights_check(ws, bad[i].spec, 3, err, sizeof err), NN_ERR_MISMATCH);
        CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
    }
    nn_tensor t;
    CU_ASSERT_EQUAL(nn_weights_get(ws, "m", &t, err, sizeof err), NN_OK);
    CU_ASSERT(t.ndim == 3 && t.shape[0] == 2 && t.shape[2] == 4 && !t.owns && t.data);
    CU_ASSERT_EQUAL(nn_weights_get(ws, "i8", &t, err, sizeof err), NN_ERR_MISMATCH);
    CU_ASSERT_STRING_EQUAL(err, "tensor 'i8' has dtype I8, expected F32");
    CU_ASSERT_EQUAL(nn_weights_get(ws, "nope", &t, err, sizeof err), NN_ERR_MISMATCH);
    CU_ASSERT_STRING_EQUAL(err, "tensor 'nope' is missing");
    CU_ASSERT_PTR_NULL(t.data);
    nn_weights_free(ws);
}

typedef struct pool_arg {
    atomic_int count;
    int hits[1000];
} pool_arg;

static void pool_task(void *a, int i)
{
    pool_arg *p = a;
    p->hits[i]++;
    atomic_fetch_add(&p->count, 1);
}

static void test_pool(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        nn_pool *pool;
        CU_ASSERT_EQUAL_FATAL(nn_pool_create(threads, &pool), NN_OK);
        CU_ASSERT_EQUAL(nn_pool_threads(pool), threads);
        for (int round = 0; round < 20; round++) {
            pool_arg *a = calloc(1, sizeof *a);
            int n = 1 + round * 50;
            nn_pool_run(pool, pool_task, a, n);
            CU_ASSERT_EQUAL(atomic_load(&a->count), n);
            int once = 1;
            for (int i = 0; i < n; i++)
                once &= a->hits[i] == 1;
            CU_ASSERT(once);
            free(a);
        }
        nn_pool_destroy(pool);
    }
}

static void test_tensor_and_context(void)
{
    nn_tensor t = {0};
    int bad_shape[2] = {3, 0};
    CU_ASSERT_EQUAL(nn_tensor_alloc(&t, 2, bad_shape), NN_ERR_ARG);
    int huge[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30};
    CU_ASSERT_EQUAL(nn_tensor_alloc(&t, 4, huge), NN_ERR_NOMEM);
    CU_ASSERT_EQUAL(nn_tensor_alloc4(&t, 1, 2, 3, 4), NN_OK);
    CU_ASSERT_EQUAL(nn_tensor_numel(&t), 24);
    float *d = t.data;
    int same[2] = {6, 4};
    CU_ASSERT_EQUAL(nn_tensor_reshape_alloc(&t, 2, same), NN_OK);
    CU_ASSERT_PTR_EQUAL(t.data, d);
    nn_tensor_free(&t);
    CU_ASSERT_PTR_NULL(t.data);
    nn_context *ctx;
    char err[128];
    CU_ASSERT_EQUAL(nn_context_create("no-such-backend", 1, &ctx, err, sizeof err), NN_ERR_BACKEND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-backend"));
    CU_ASSERT_EQUAL_FATAL(nn_context_create("ref", 2, &ctx, err, sizeof err), NN_OK);
    CU_ASSERT_STRING_EQUAL(nn_context_backend(ctx), "ref");
    nn_context_destroy(ctx);
    CU_ASSERT_EQUAL_FATAL(nn_context_create(NULL, 1, &ctx, err, sizeof err), NN_OK);
    CU_ASSERT_STRING_EQUAL(nn_context_backend(ctx),
                           nn_backend_available("onednn") ? "onednn" : "ref");
    nn_context_destroy(ctx);
}

/* A backend's own allocator (ops.h alloc / release, the cuda backend's managed memory): layer
 * outputs and the context's work memory come from it, carry its release (also after the
 * context is gone), are reused while their element count fits, and are released through it;
 * a caller's own view is written in place. Checked with a ref table whose allocator counts. */
static atomic_int live_blocks;

static void *counting_alloc(nn_context *ctx, size_t bytes)
{
    (void)ctx;
    void *p = malloc(bytes ? bytes : 1);
    if (p) atomic_fetch_add(&live_blocks, 1);
    return p;
}

static void counting_release(void *p)
{
    if (p) atomic_fetch_sub(&live_blocks, 1);
    free(p);
}

static void test_backend_alloc(void)
{
    nn_context *ctx;
    CU_ASSERT_EQUAL_FATAL(nn_context_create("ref", 1, &ctx, NULL, 0), NN_OK);
    nn_ops table = *ctx->ops;
    table.alloc = counting_alloc;
    table.release = counting_release;
    ctx->ops = &table;
    atomic_store(&live_blocks, 0);
    nn_tensor x = {0}, w = {0}, y = {0};
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc4(&x, 1, 2, 5, 5), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_alloc4(&w, 3, 2, 3, 3), NN_OK);
    for (int i = 0; i < 50; i++)
        x.data[i] = (float)i;
    for (int i = 0; i < 54; i++)
        w.data[i] = 1.0f;
    nn_conv_params p = nn_conv_default();
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT_PTR_EQUAL(y.release, counting_release);
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 1);
    CU_ASSERT_EQUAL(y.data[0], 2 * 54.0f + 9 * 25.0f); /* x[c][0..2][0..2] summed, 2 channels */
    float *first = y.data;
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_OK); /* same size: reused */
    CU_ASSERT_PTR_EQUAL(y.data, first);
    p.pad_h = p.pad_w = 1; /* another size: released and allocated again */
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &y), NN_OK);
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 1);
    float mine[75];
    int ys[4] = {1, 3, 5, 5};
    nn_tensor view = nn_tensor_view(mine, 4, ys);
    CU_ASSERT_EQUAL(nn_conv2d(ctx, &x, &w, NULL, &p, &view), NN_OK); /* the caller's memory */
    CU_ASSERT_EQUAL(mine[6], y.data[6]);
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 1);
    CU_ASSERT_PTR_NOT_NULL(nn_context_work(ctx, 100));
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 2);
    nn_context_destroy(ctx); /* releases the work memory through the table */
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 1);
    nn_tensor_free(&y); /* after its context */
    CU_ASSERT_EQUAL(atomic_load(&live_blocks), 0);
    nn_tensor_free(&x), nn_tensor_free(&w);
}

/* The cuda backend: not built, it is unavailable; built, a context exists exactly when a
 * device does, and otherwise creation fails with the reason; a module path that does not
 * load is refused with the loader's message. */
static void test_cuda_context(void)
{
    nn_context *ctx = NULL;
    char err[256] = "";
#ifndef NECO_HAVE_CUDA
    CU_ASSERT_FALSE(nn_backend_available("cuda"));
    CU_ASSERT_EQUAL(nn_context_create("cuda", 1, &ctx, err, sizeof err), NN_ERR_BACKEND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not available"));
#else
    CU_ASSERT_TRUE(nn_backend_available("cuda"));
    char name[256] = "";
    int devices = nn_cuda_devices(name, sizeof name);
    int rc = nn_context_create("cuda", 1, &ctx, err, sizeof err);
    if (devices > 0) {
        printf("\n    device 0: %s", name);
        CU_ASSERT_EQUAL(rc, NN_OK);
        if (rc == NN_OK) {
            CU_ASSERT_STRING_EQUAL(nn_context_backend(ctx), "cuda");
            nn_context_destroy(ctx);
        }
    } else {
        printf("\n    no device: %s", err);
        CU_ASSERT_EQUAL(rc, NN_ERR_BACKEND);
        CU_ASSERT_PTR_NULL(ctx);
        CU_ASSERT_EQUAL(strncmp(err, "backend 'cuda': ", 16), 0);
    }
    CU_ASSERT_EQUAL(setenv("NECO_CUDA_MODULE", "/nonexistent/libneco_cuda.so", 1), 0);
    CU_ASSERT_EQUAL(nn_context_create("cuda", 1, &ctx, err, sizeof err), NN_ERR_BACKEND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load"));
    CU_ASSERT_EQUAL(nn_cuda_devices(NULL, 0), 0);
    unsetenv("NECO_CUDA_MODULE");
#endif
}

void neco_test_register(void)
{
    NECO_SUITE("nets_core", {"json_valid", test_json_valid}, {"json_invalid", test_json_invalid},
               {"safetensors_valid", test_safetensors_valid},
               {"safetensors_malformed", test_safetensors_malformed},
               {"safetensors_mutations", test_safetensors_mutations}, {"fp16", test_fp16},
               {"weights_check", test_weights_check}, {"pool", test_pool},
               {"tensor_and_context", test_tensor_and_context},
               {"backend_alloc", test_backend_alloc}, {"cuda_context", test_cuda_context});
}
