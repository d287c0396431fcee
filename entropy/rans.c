/* rANS coder (BITSTREAM.md sections 2.1 and 2.4). The state arithmetic follows F. Giesen's
 * ryg_rans rans64.h (64-bit state, 32-bit renormalisation, L = 2^31); the escape coding of
 * out-of-range values plays the role of CompressAI's bypass mode, with its own layout. */
#include "entropy/rans.h"

#include <stdlib.h>
#include <string.h>

#define RANS_L NECO_RANS_STATE_LOW
#define RANS_OP_FIELD_MASK ((1ull << 25) - 1)
#define RANS_BYPASS_CHUNK 16   /* raw bits per bypass operation */
#define RANS_ESCAPE_LEN_BITS 6 /* bits of the escape length field (section 2.4) */
#define RANS_ESCAPE_MAX_LEN 34 /* largest escape length a decoder accepts */

static inline uint32_t rans_read32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void rans_write32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The lanes are kept rotated so that x[0] is the one that codes the next operation. */
static inline void rans_rotate(uint64_t *x)
{
    const uint64_t first = x[0];
    for (int i = 0; i + 1 < NECO_RANS_LANES; i++)
        x[i] = x[i + 1];
    x[NECO_RANS_LANES - 1] = first;
}

/* ---------------------------------------------------------------- encoder */

void neco_rans_encoder_init(neco_rans_encoder *enc)
{
    if (enc) memset(enc, 0, sizeof *enc);
}

void neco_rans_encoder_release(neco_rans_encoder *enc)
{
    if (!enc) return;
    free(enc->ops);
    memset(enc, 0, sizeof *enc);
}

static int rans_reserve(neco_rans_encoder *enc, size_t more)
{
    if (more <= enc->capacity - enc->count) return NECO_ENTROPY_OK;
    if (more > (SIZE_MAX / sizeof *enc->ops) / 2 - enc->count) return NECO_ENTROPY_ERR_NOMEM;
    size_t cap = enc->capacity ? enc->capacity : 1024;
    while (cap - enc->count < more)
        cap *= 2;
    uint64_t *ops = realloc(enc->ops, cap * sizeof *ops);
    if (!ops) return NECO_ENTROPY_ERR_NOMEM;
    enc->ops = ops;
    enc->capacity = cap;
    return NECO_ENTROPY_OK;
}

static inline uint64_t rans_op(uint32_t start, uint32_t freq, uint32_t precision)
{
    return (uint64_t)start | (uint64_t)freq << 25 | (uint64_t)precision << 50;
}

/* Operations of up to 32 raw bits, least significant chunk first. */
static size_t rans_put_bits(uint64_t *ops, uint64_t value, int nbits)
{
    size_t k = 0;
    while (nbits > 0) {
        const int b = nbits < RANS_BYPASS_CHUNK ? nbits : RANS_BYPASS_CHUNK;
        ops[k++] = rans_op((uint32_t)(value & ((1u << b) - 1)), 1, (uint32_t)b);
        value >>= b;
        nbits -= b;
    }
    return k;
}

/* Escape payload of a value outside [offset, offset + nregular) (section 2.4): the distance to
 * the support, folded to e >= 0 (even: above, odd: below), sent as m = e + 1 in Elias-gamma
 * fashion: the bit length of m minus one in 6 raw bits, then the bits of m below its top one. */
static size_t rans_put_escape(uint64_t *ops, int64_t u, uint32_t nregular)
{
    const uint64_t e = u < 0 ? 2 * (uint64_t)(-u) - 1 : 2 * (uint64_t)(u - (int64_t)nregular);
    const uint64_t m = e + 1;
    int len = 0;
    while ((m >> len) > 1)
        len++;
    size_t k = rans_put_bits(ops, (uint64_t)len, RANS_ESCAPE_LEN_BITS);
    k += rans_put_bits(ops + k, m & ((1ull << len) - 1), len);
    return k;
}

int neco_rans_encode_with_indexes(neco_rans_encoder *enc, const neco_cdf_tables *tables,
                                  const int32_t *values, const int32_t *indexes, size_t n)
{
    if (!enc || !tables || (n && (!values || !indexes))) return NECO_ENTROPY_ERR_ARG;
    /* An escape takes at most 1 + 1 + 3 operations; reserve for the common case and grow when
     * an escape needs more. */
    int st = rans_reserve(enc, n);
    if (st) return st;
    const size_t start_count = enc->count;
    const uint32_t ntables = (uint32_t)tables->num_tables;
    const uint32_t precision = (uint32_t)tables->precision;
    for (size_t i = 0; i < n; i++) {
        const uint32_t t = (uint32_t)indexes[i];
        if (t >= ntables) {
            enc->count = start_count;
            return NECO_ENTROPY_ERR_ARG;
        }
        const cdf_table *tab = &tables->tables[t];
        const uint32_t *c = tables->cdf + tab->cdf_base;
        const int64_t u = (int64_t)values[i] - tab->offset;
        if (u >= 0 && u < (int64_t)tab->nregular) {
            if (enc->count == enc->capacity && (st = rans_reserve(enc, n - i)) != 0) {
                enc->count = start_count;
                return st;
            }
            enc->ops[enc->count++] = rans_op(c[u], c[u + 1] - c[u], precision);
            continue;
        }
        if (!tables->has_escape) {
            enc->count = start_count;
            return NECO_ENTROPY_ERR_ARG;
        }
        if ((st = rans_reserve(enc, 8 + (n - i))) != 0) {
            enc->count = start_count;
            return st;
        }
        const uint32_t esc = tab->nregular;
        enc->ops[enc->count++] = rans_op(c[esc], c[esc + 1] - c[esc], precision);
        enc->count += rans_put_escape(enc->ops + enc->count, u, tab->nregular);
    }
    return NECO_ENTROPY_OK;
}

int neco_rans_encode_bits(neco_rans_encoder *enc, uint32_t value, int nbits)
{
    if (!enc || nbits < 0 || nbits > 32) return NECO_ENTROPY_ERR_ARG;
    int st = rans_reserve(enc, 2);
    if (st) return st;
    enc->count += rans_put_bits(enc->ops + enc->count, value, nbits);
    return NECO_ENTROPY_OK;
}

size_t neco_rans_encoder_bound(const neco_rans_encoder *enc)
{
    /* Each operation emits at most one 32-bit word: after one shift the state is below 2^31,
     * under every x_max (section 2.1). */
    return 8 * (size_t)NECO_RANS_LANES + 4 * (enc ? enc->count : 0);
}

int neco_rans_encoder_flush(neco_rans_encoder *enc, uint8_t *out, size_t capacity, size_t *size)
{
    if (!enc || !out || !size) return NECO_ENTROPY_ERR_ARG;
    const size_t bound = neco_rans_encoder_bound(enc);
    if (capacity < bound) return NECO_ENTROPY_ERR_ARG;
    uint64_t x[NECO_RANS_LANES];
    for (int l = 0; l < NECO_RANS_LANES; l++)
        x[l] = RANS_L;
    /* rANS is last in, first out: code the operations backwards, writing words backwards from
     * the end of the bound, so that the decoder reads both forwards. Operation j is coded by
     * lane j mod NECO_RANS_LANES. */
    uint8_t *p = out + bound;
    for (size_t j = enc->count; j-- > 0;) {
        const uint64_t op = enc->ops[j];
        const uint64_t start = op & RANS_OP_FIELD_MASK;
        const uint64_t freq = (op >> 25) & RANS_OP_FIELD_MASK;
        const unsigned precision = (unsigned)(op >> 50);
        uint64_t *xs = &x[j % NECO_RANS_LANES];
        uint64_t v = *xs;
        if (v >= ((RANS_L >> precision) << 32) * freq) {
            p -= 4;
            rans_write32(p, (uint32_t)v);
            v >>= 32;
        }
        *xs = ((v / freq) << precision) + v % freq + start;
    }
    p -= 8 * NECO_RANS_LANES;
    for (int l = 0; l < NECO_RANS_LANES; l++) {
        rans_write32(p + 8 * l, (uint32_t)x[l]);
        rans_write32(p + 8 * l + 4, (uint32_t)(x[l] >> 32));
    }
    *size = (size_t)(out + bound - p);
    memmove(out, p, *size);
    enc->count = 0;
    return NECO_ENTROPY_OK;
}

/* ---------------------------------------------------------------- decoder */

/* The decoder's lanes as scalars x0..x3: rotate after an operation whose new state is v, and
 * move them to and from the array form used by the rarely taken paths. */
#if NECO_RANS_LANES == 1
#define RANS_ROTATE_SCALARS(v) (x0 = (v))
#define RANS_STORE_SCALARS(a) ((a)[0] = x0)
#define RANS_LOAD_SCALARS(a) (x0 = (a)[0])
#elif NECO_RANS_LANES == 2
#define RANS_ROTATE_SCALARS(v) (x0 = x1, x1 = (v))
#define RANS_STORE_SCALARS(a) ((a)[0] = x0, (a)[1] = x1)
#define RANS_LOAD_SCALARS(a) (x0 = (a)[0], x1 = (a)[1])
#elif NECO_RANS_LANES == 4
#define RANS_ROTATE_SCALARS(v) (x0 = x1, x1 = x2, x2 = x3, x3 = (v))
#define RANS_STORE_SCALARS(a) ((a)[0] = x0, (a)[1] = x1, (a)[2] = x2, (a)[3] = x3)
#define RANS_LOAD_SCALARS(a) (x0 = (a)[0], x1 = (a)[1], x2 = (a)[2], x3 = (a)[3])
#else
#error "NECO_RANS_LANES must be 1, 2 or 4"
#endif

int neco_rans_decoder_init(neco_rans_decoder *dec, const uint8_t *data, size_t size)
{
    if (!dec) return NECO_ENTROPY_ERR_ARG;
    memset(dec, 0, sizeof *dec);
    if (!data && size) return dec->status = NECO_ENTROPY_ERR_ARG;
    dec->data = data;
    dec->size = size;
    if (size < 8 * (size_t)NECO_RANS_LANES) return dec->status = NECO_ENTROPY_ERR_TRUNCATED;
    for (int l = 0; l < NECO_RANS_LANES; l++) {
        const uint64_t v = rans_read32(data + 8 * l) | (uint64_t)rans_read32(data + 8 * l + 4)
                                                           << 32;
        /* An encoder's final state is in [L, 2^63); anything else is not a neco stream. */
        if (v < RANS_L || v >> 63) return dec->status = NECO_ENTROPY_ERR_CORRUPT;
        dec->state[l] = v;
    }
    dec->pos = 8 * (size_t)NECO_RANS_LANES;
    return NECO_ENTROPY_OK;
}

/* Decodes nbits (1..16) raw bits with x[0], then rotates the lanes. */
static inline int rans_get_chunk(uint64_t *x, const uint8_t *data, size_t size, size_t *pos,
                                 int nbits, uint32_t *value)
{
    uint64_t v = x[0];
    *value = (uint32_t)(v & ((1u << nbits) - 1));
    v >>= nbits;
    if (v < RANS_L) {
        if (size - *pos < 4) return NECO_ENTROPY_ERR_TRUNCATED;
        v = v << 32 | rans_read32(data + *pos);
        *pos += 4;
    }
    x[0] = v;
    rans_rotate(x);
    return NECO_ENTROPY_OK;
}

static int rans_get_bits(uint64_t *x, const uint8_t *data, size_t size, size_t *pos, int nbits,
                         uint64_t *value)
{
    uint64_t v = 0;
    for (int shift = 0; shift < nbits; shift += RANS_BYPASS_CHUNK) {
        const int b = nbits - shift < RANS_BYPASS_CHUNK ? nbits - shift : RANS_BYPASS_CHUNK;
        uint32_t chunk;
        const int st = rans_get_chunk(x, data, size, pos, b, &chunk);
        if (st) return st;
        v |= (uint64_t)chunk << shift;
    }
    *value = v;
    return NECO_ENTROPY_OK;
}

/* The value behind an escape (section 2.4), or NECO_ENTROPY_ERR_CORRUPT when it cannot be an
 * int32 that the encoder escaped. */
static int rans_get_escape(uint64_t *x, const uint8_t *data, size_t size, size_t *pos,
                           const cdf_table *tab, int32_t *value)
{
    uint64_t len, low;
    int st = rans_get_bits(x, data, size, pos, RANS_ESCAPE_LEN_BITS, &len);
    if (st) return st;
    if (len > RANS_ESCAPE_MAX_LEN) return NECO_ENTROPY_ERR_CORRUPT;
    if ((st = rans_get_bits(x, data, size, pos, (int)len, &low)) != 0) return st;
    const uint64_t e = ((1ull << len) | low) - 1;
    const int64_t u = (e & 1) ? -(int64_t)((e + 1) / 2) : (int64_t)tab->nregular + (int64_t)(e / 2);
    const int64_t v = (int64_t)tab->offset + u;
    if (v < INT32_MIN || v > INT32_MAX) return NECO_ENTROPY_ERR_CORRUPT;
    *value = (int32_t)v;
    return NECO_ENTROPY_OK;
}

int neco_rans_decode_with_indexes(neco_rans_decoder *dec, const neco_cdf_tables *tables,
                                  const int32_t *indexes, size_t n, int32_t *values)
{
    if (!dec) return NECO_ENTROPY_ERR_ARG;
    if (dec->status) return dec->status;
    if (!tables || (n && (!indexes || !values))) return NECO_ENTROPY_ERR_ARG;
    const uint8_t *data = dec->data;
    const size_t size = dec->size;
    size_t pos = dec->pos;
    /* The lanes live in scalars (x0 codes the next operation) so that they stay in registers;
     * an array would be spilled or shuffled through vector registers. */
    uint64_t x0 = dec->state[0];
#if NECO_RANS_LANES >= 2
    uint64_t x1 = dec->state[1];
#endif
#if NECO_RANS_LANES == 4
    uint64_t x2 = dec->state[2], x3 = dec->state[3];
#endif
    const uint32_t ntables = (uint32_t)tables->num_tables;
    const unsigned precision = (unsigned)tables->precision;
    const uint32_t mask = (1u << precision) - 1;
    const cdf_table *tabs = tables->tables;
    const uint32_t *cdf = tables->cdf;
    const uint16_t *lut = tables->lut;
    int st = NECO_ENTROPY_OK;

    for (size_t i = 0; i < n; i++) {
        const uint32_t t = (uint32_t)indexes[i];
        if (t >= ntables) {
            st = NECO_ENTROPY_ERR_ARG; /* a caller error: the stream stays usable */
            break;
        }
        const cdf_table *tab = &tabs[t];
        const uint32_t *c = cdf + tab->cdf_base;
        const uint16_t *l = lut + tab->lut_base;
        const uint32_t slot = (uint32_t)x0 & mask;
        const uint32_t bucket = slot >> tab->lut_shift;
        uint32_t lo = l[bucket], hi = l[bucket + 1];
        /* The symbol holding the slot lies in [lo, hi]: the last one with C_s <= slot. The
         * lookup is fine enough that hi - lo <= 1 nearly always; that case is decided without
         * a branch (a mispredicted branch would stall both lanes), the rest by bisection. */
        if (hi - lo > 1) {
            while (lo < hi) {
                const uint32_t mid = (lo + hi + 1) >> 1;
                if (c[mid] <= slot)
                    lo = mid;
                else
                    hi = mid - 1;
            }
        } else {
            lo = c[hi] <= slot ? hi : lo;
        }
        const uint32_t start = c[lo];
        uint64_t v = (uint64_t)(c[lo + 1] - start) * (x0 >> precision) + (slot - start);
        /* Renormalise without a branch on the state: whether a word is read is data, not
         * control flow. Only near the end of the buffer is the bound checked explicitly. */
        if (size - pos >= 4) {
            const uint64_t need = v < RANS_L;
            const uint64_t wide = v << 32 | rans_read32(data + pos);
            v = need ? wide : v;
            pos += need << 2;
        } else if (v < RANS_L) {
            st = NECO_ENTROPY_ERR_TRUNCATED;
            break;
        }
        RANS_ROTATE_SCALARS(v);
        if (lo < tab->nregular) {
            values[i] = tab->offset + (int32_t)lo;
        } else {
            uint64_t x[NECO_RANS_LANES];
            RANS_STORE_SCALARS(x);
            st = rans_get_escape(x, data, size, &pos, tab, &values[i]);
            RANS_LOAD_SCALARS(x);
            if (st) break;
        }
    }
    uint64_t x[NECO_RANS_LANES];
    RANS_STORE_SCALARS(x);
    memcpy(dec->state, x, sizeof x);
    dec->pos = pos;
    /* A bad index consumed nothing of its element: the decoder stays usable after it. */
    if (st != NECO_ENTROPY_ERR_ARG) dec->status = st;
    return st;
}

int neco_rans_decode_bits(neco_rans_decoder *dec, int nbits, uint32_t *value)
{
    if (!dec || !value || nbits < 0 || nbits > 32) return NECO_ENTROPY_ERR_ARG;
    if (dec->status) return dec->status;
    uint64_t v = 0;
    const int st = rans_get_bits(dec->state, dec->data, dec->size, &dec->pos, nbits, &v);
    *value = (uint32_t)v;
    return dec->status = st;
}

int neco_rans_decoder_finish(const neco_rans_decoder *dec)
{
    if (!dec) return NECO_ENTROPY_ERR_ARG;
    if (dec->status) return dec->status;
    if (dec->pos != dec->size) return NECO_ENTROPY_ERR_CORRUPT;
    for (int l = 0; l < NECO_RANS_LANES; l++)
        if (dec->state[l] != RANS_L) return NECO_ENTROPY_ERR_CORRUPT;
    return NECO_ENTROPY_OK;
}
