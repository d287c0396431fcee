/* A small strict JSON parser (RFC 8259) for safetensors headers.
 *
 * Recursive descent over the grammar of RFC 8259 section 2-7, nothing more: no comments, no
 * trailing commas, no single quotes, no leading zeros, no NaN/Infinity, no control characters
 * inside strings, escapes including \u surrogate pairs decoded to UTF-8, raw bytes checked to
 * be valid UTF-8, nesting limited to NN_JSON_MAX_DEPTH. Whitespace may surround the value
 * (safetensors pads its header with spaces). The result is a tree; numbers keep their exact
 * integer value when they are integers that fit in int64_t. Member names containing U+0000 are
 * rejected, since users compare them as C strings. */
#ifndef NECO_NETS_JSON_H
#define NECO_NETS_JSON_H
#include <stddef.h>
#include <stdint.h>

#define NN_JSON_MAX_DEPTH 64

typedef enum nn_json_type {
    NN_JSON_NULL,
    NN_JSON_BOOL,
    NN_JSON_NUMBER,
    NN_JSON_STRING,
    NN_JSON_ARRAY,
    NN_JSON_OBJECT,
} nn_json_type;

typedef struct nn_json {
    nn_json_type type;
    int boolean;
    double number;
    int is_integer; /* number written without fraction or exponent, and fits in int64_t */
    int64_t integer;
    char *string;          /* decoded, NUL-terminated (strings only) */
    size_t len;            /* string length in bytes; element/member count for arrays/objects */
    char *key;             /* member name when this node is an object member */
    struct nn_json *child; /* first element / member */
    struct nn_json *next;  /* next sibling */
} nn_json;

/* Parses text[0..len). On failure returns NN_ERR_FORMAT and writes a message with the byte
 * offset of the error into err (when err is not NULL). */
int nn_json_parse(const char *text, size_t len, nn_json **out, char *err, size_t errlen);
void nn_json_free(nn_json *v);

/* The member named key of an object, or NULL. */
const nn_json *nn_json_get(const nn_json *obj, const char *key);
#endif
