/* Strict recursive-descent JSON parser (see json.h; grammar of RFC 8259). */
#include "nets/json.h"

#include "nets/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t errlen;
    int failed;
} parser;

static void fail(parser *p, const char *what)
{
    if (p->failed) return;
    p->failed = 1;
    if (p->err && p->errlen) snprintf(p->err, p->errlen, "JSON: %s at byte %zu", what, p->pos);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        fail(p, "invalid literal");
        return 0;
    }
    p->pos += n;
    return 1;
}

/* A growable byte buffer for decoded strings. */
typedef struct sbuf {
    char *d;
    size_t n, cap;
} sbuf;

static int sbuf_put(sbuf *b, const char *src, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d) return 0;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, src, n);
    b->n += n;
    b->d[b->n] = 0;
    return 1;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) {
        fail(p, "truncated \\u escape");
        return 0;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p->s[p->pos + (size_t)i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else {
            fail(p, "invalid hex digit in \\u escape");
            return 0;
        }
        v = v * 16 + (unsigned)d;
    }
    p->pos += 4;
    *out = v;
    return 1;
}

static size_t utf8_encode(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 when it is invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* string = quotation-mark *char quotation-mark (RFC 8259 section 7). */
static char *parse_string(parser *p, size_t *out_len)
{
    sbuf b = {0};
    if (peek(p) != '"') {
        fail(p, "expected a string");
        return NULL;
    }
    p->pos++;
    if (!sbuf_put(&b, "", 0)) goto nomem;
    for (;;) {
        if (p->pos >= p->len) {
            fail(p, "unterminated string");
            goto err;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            fail(p, "control character in string");
            goto err;
        }
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len) {
                fail(p, "unterminated escape");
                goto err;
            }
            char e = (char)p->s[p->pos++], o[4];
            size_t on = 1;
            switch (e) {
            case '"':
                o[0] = '"';
                break;
            case '\\':
                o[0] = '\\';
                break;
            case '/':
                o[0] = '/';
                break;
            case 'b':
                o[0] = '\b';
                break;
            case 'f':
                o[0] = '\f';
                break;
            case 'n':
                o[0] = '\n';
                break;
            case 'r':
                o[0] = '\r';
                break;
            case 't':
                o[0] = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (!hex4(p, &cp)) goto err;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail(p, "unpaired low surrogate");
                    goto err;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        fail(p, "unpaired high surrogate");
                        goto err;
                    }
                    p->pos += 2;
                    if (!hex4(p, &lo)) goto err;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        fail(p, "invalid low surrogate");
                        goto err;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                on = utf8_encode(cp, o);
                break;
            }
            default:
                fail(p, "invalid escape");
                goto err;
            }
            if (!sbuf_put(&b, o, on)) goto nomem;
            continue;
        }
        size_t n = utf8_valid(p->s + p->pos, p->len - p->pos);
        if (!n) {
            fail(p, "invalid UTF-8");
            goto err;
        }
        if (!sbuf_put(&b, (const char *)p->s + p->pos, n)) goto nomem;
        p->pos += n;
    }
    *out_len = b.n;
    return b.d;
nomem:
    fail(p, "out of memory");
err:
    free(b.d);
    return NULL;
}

/* number = [ minus ] int [ frac ] [ exp ] (RFC 8259 section 6). */
static int parse_number(parser *p, nn_json *v)
{
    size_t start = p->pos;
    int neg = 0, integral = 1, overflow = 0;
    uint64_t mag = 0;
    if (peek(p) == '-') {
        neg = 1;
        p->pos++;
    }
    int c = peek(p);
    if (c == '0') {
        p->pos++;
    } else if (c >= '1' && c <= '9') {
        while ((c = peek(p)) >= '0' && c <= '9') {
            if (mag > (UINT64_MAX - 9) / 10)
                overflow = 1;
            else
                mag = mag * 10 + (uint64_t)(c - '0');
            p->pos++;
        }
    } else {
        fail(p, "invalid number");
        return 0;
    }
    if (peek(p) == '.') {
        integral = 0;
        p->pos++;
        if (!((c = peek(p)) >= '0' && c <= '9')) {
            fail(p, "digit expected after decimal point");
            return 0;
        }
        while ((c = peek(p)) >= '0' && c <= '9')
            p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        integral = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!((c = peek(p)) >= '0' && c <= '9')) {
            fail(p, "digit expected in exponent");
            return 0;
        }
        while ((c = peek(p)) >= '0' && c <= '9')
            p->pos++;
    }
    char tmp[64];
    size_t n = p->pos - start;
    if (n < sizeof tmp) {
        memcpy(tmp, p->s + start, n);
        tmp[n] = 0;
        v->number = strtod(tmp, NULL);
    } else {
        v->number = neg ? -1e308 : 1e308; /* absurdly long numbers: value irrelevant here */
    }
    v->type = NN_JSON_NUMBER;
    if (integral && !overflow && mag <= (uint64_t)INT64_MAX) {
        v->is_integer = 1;
        v->integer = neg ? -(int64_t)mag : (int64_t)mag;
    }
    return 1;
}

static nn_json *parse_value(parser *p);

static nn_json *new_node(parser *p)
{
    nn_json *v = calloc(1, sizeof *v);
    if (!v) fail(p, "out of memory");
    return v;
}

static nn_json *parse_container(parser *p, int object)
{
    nn_json *v = new_node(p), **tail;
    if (!v) return NULL;
    v->type = object ? NN_JSON_OBJECT : NN_JSON_ARRAY;
    tail = &v->child;
    if (++p->depth > NN_JSON_MAX_DEPTH) {
        fail(p, "nesting too deep");
        goto err;
    }
    p->pos++; /* '{' or '[' */
    skip_ws(p);
    if (peek(p) == (object ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        skip_ws(p);
        if (object) {
            key = parse_string(p, &klen);
            if (!key) goto err;
            if (strlen(key) != klen) { /* names are C strings to the users of this parser */
                free(key);
                fail(p, "NUL character in a member name");
                goto err;
            }
            skip_ws(p);
            if (peek(p) != ':') {
                free(key);
                fail(p, "expected ':'");
                goto err;
            }
            p->pos++;
            skip_ws(p);
        }
        nn_json *e = parse_value(p);
        if (!e) {
            free(key);
            goto err;
        }
        e->key = key;
        *tail = e;
        tail = &e->next;
        v->len++;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == (object ? '}' : ']')) {
            p->pos++;
            break;
        }
        fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto err;
    }
    p->depth--;
    return v;
err:
    nn_json_free(v);
    return NULL;
}

static nn_json *parse_value(parser *p)
{
    skip_ws(p);
    int c = peek(p);
    nn_json *v;
    switch (c) {
    case '{':
        return parse_container(p, 1);
    case '[':
        return parse_container(p, 0);
    case '"': {
        size_t n;
        char *s = parse_string(p, &n);
        if (!s) return NULL;
        if (!(v = new_node(p))) {
            free(s);
            return NULL;
        }
        v->type = NN_JSON_STRING;
        v->string = s;
        v->len = n;
        return v;
    }
    case 't':
    case 'f':
    case 'n':
        if (!(v = new_node(p))) return NULL;
        if (c == 'n') {
            v->type = NN_JSON_NULL;
            if (literal(p, "null")) return v;
        } else {
            v->type = NN_JSON_BOOL;
            v->boolean = c == 't';
            if (literal(p, c == 't' ? "true" : "false")) return v;
        }
        free(v);
        return NULL;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(v = new_node(p))) return NULL;
            if (parse_number(p, v)) return v;
            free(v);
            return NULL;
        }
        fail(p, c < 0 ? "unexpected end of input" : "unexpected character");
        return NULL;
    }
}

int nn_json_parse(const char *text, size_t len, nn_json **out, char *err, size_t errlen)
{
    parser p = {(const unsigned char *)text, len, 0, 0, err, errlen, 0};
    *out = NULL;
    nn_json *v = parse_value(&p);
    if (!v) return NN_ERR_FORMAT;
    skip_ws(&p);
    if (p.pos != p.len) {
        fail(&p, "trailing characters after the value");
        nn_json_free(v);
        return NN_ERR_FORMAT;
    }
    *out = v;
    return NN_OK;
}

void nn_json_free(nn_json *v)
{
    /* Siblings iteratively, children recursively: depth is bounded by NN_JSON_MAX_DEPTH. */
    while (v) {
        nn_json *next = v->next;
        nn_json_free(v->child);
        free(v->string);
        free(v->key);
        free(v);
        v = next;
    }
}

const nn_json *nn_json_get(const nn_json *obj, const char *key)
{
    if (!obj || obj->type != NN_JSON_OBJECT) return NULL;
    for (const nn_json *m = obj->child; m; m = m->next)
        if (strcmp(m->key, key) == 0) return m;
    return NULL;
}
