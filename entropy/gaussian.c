/* Gaussian-conditional tables by integer arithmetic (BITSTREAM.md section 2.3).
 *
 * CompressAI builds these tables from float erfc() calls, whose last bits depend on the libm;
 * here the only transcendental values are the committed Q32 erf table (gaussian_tables.c), and
 * every step after it is integer, so all machines and the Python twin (train/neco_cdf.py)
 * build identical tables. */
#include "entropy/gaussian.h"

#include <stdlib.h>

int neco_gc_half_width(uint32_t scale_q16)
{
    if (scale_q16 < 1 || scale_q16 > NECO_GC_SCALE_MAX) return -1;
    return (int)(((uint64_t)NECO_GC_TAIL_SIGMAS * scale_q16 + NECO_GC_SCALE_ONE - 1) >> 16);
}

/* H(k) = erf((k + 1/2) / (s sqrt 2)) in Q32: the erf table at t = (k + 1/2) / s, interpolated
 * linearly at 2^-16 of a table step. pos = floor(256 * 2^16 * (k + 1/2) / s)
 * = floor((2k + 1) 2^39 / S) with S the Q16 scale; (2k + 1) < 2^14 keeps it below 2^53. */
static uint64_t gc_erf_at(uint32_t k, uint32_t scale_q16)
{
    const uint64_t pos = ((2 * (uint64_t)k + 1) << 39) / scale_q16;
    const uint64_t j = pos >> 16, f = pos & 0xFFFF;
    if (j >= GC_ERF_TABLE_SIZE - 1) return gc_erf_q32[GC_ERF_TABLE_SIZE - 1];
    return gc_erf_q32[j] + (((gc_erf_q32[j + 1] - gc_erf_q32[j]) * f) >> 16);
}

int neco_gc_weights(uint32_t scale_q16, uint64_t *weights, int *n, int32_t *offset)
{
    const int r = neco_gc_half_width(scale_q16);
    if (r < 0 || !weights || !n || !offset) return NECO_ENTROPY_ERR_ARG;
    /* Symbol r + k codes value k in [-r, r]; symbol 2r + 1 is the escape. Weights are
     * probabilities in units of 2^-33: a bin on one side gets H(k) - H(k-1) (erf counts both
     * sides), the centre 2 H(0), the escape the two tails 2 (2^32 - H(r)); total 2^33. */
    uint64_t prev = gc_erf_at(0, scale_q16);
    weights[r] = 2 * prev;
    for (int k = 1; k <= r; k++) {
        const uint64_t h = gc_erf_at((uint32_t)k, scale_q16);
        weights[r + k] = h - prev;
        weights[r - k] = h - prev;
        prev = h;
    }
    weights[2 * r + 1] = 2 * (gc_erf_q32[GC_ERF_TABLE_SIZE - 1] - prev);
    *n = 2 * r + 2;
    *offset = -r;
    return NECO_ENTROPY_OK;
}

int neco_gc_tables_create(neco_cdf_tables **out, int precision, const uint32_t *scales_q16,
                          int num_scales)
{
    if (!out) return NECO_ENTROPY_ERR_ARG;
    *out = NULL;
    if (!scales_q16 && num_scales == 0) {
        scales_q16 = neco_gc_default_scales_q16;
        num_scales = NECO_GC_DEFAULT_NUM_SCALES;
    }
    if (!scales_q16 || num_scales < 1) return NECO_ENTROPY_ERR_ARG;
    size_t total = 0;
    int max_n = 0;
    for (int i = 0; i < num_scales; i++) {
        const int r = neco_gc_half_width(scales_q16[i]);
        if (r < 0 || (i > 0 && scales_q16[i] <= scales_q16[i - 1])) return NECO_ENTROPY_ERR_ARG;
        total += (size_t)(2 * r + 3);
        if (2 * r + 2 > max_n) max_n = 2 * r + 2;
    }
    int32_t *cdfs = malloc(sizeof *cdfs * total);
    int32_t *lengths = malloc(sizeof *lengths * (size_t)num_scales);
    int32_t *offsets = malloc(sizeof *offsets * (size_t)num_scales);
    uint64_t *weights = malloc(sizeof *weights * (size_t)max_n);
    uint32_t *cdf = malloc(sizeof *cdf * (size_t)(max_n + 1));
    int st = NECO_ENTROPY_ERR_NOMEM;
    if (cdfs && lengths && offsets && weights && cdf) {
        size_t base = 0;
        for (int i = 0; i < num_scales; i++) {
            int n;
            st = neco_gc_weights(scales_q16[i], weights, &n, &offsets[i]);
            if (!st) st = neco_cdf_build(weights, n, precision, cdf);
            if (st) break;
            for (int k = 0; k <= n; k++)
                cdfs[base + (size_t)k] = (int32_t)cdf[k];
            lengths[i] = n + 1;
            base += (size_t)n + 1;
        }
        if (!st) st = neco_cdf_tables_create(out, precision, num_scales, cdfs, lengths, offsets, 1);
    }
    free(cdfs);
    free(lengths);
    free(offsets);
    free(weights);
    free(cdf);
    return st;
}

int neco_gc_scale_index(const uint32_t *scales_q16, int num_scales, uint32_t scale_q16)
{
    if (!scales_q16 || num_scales < 1) return NECO_ENTROPY_ERR_ARG;
    /* The first listed scale >= the given one, searched among all but the last. */
    int lo = 0, hi = num_scales - 1;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (scales_q16[mid] < scale_q16)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int32_t neco_gc_residual(int64_t y_fixed, int64_t mean_fixed, int frac_bits)
{
    if (frac_bits < 0 || frac_bits > 30) return 0;
    const int64_t one = (int64_t)1 << frac_bits;
    /* Inputs are fixed-point latents, far below 2^62 in magnitude, so d cannot overflow. */
    const int64_t d = y_fixed - mean_fixed + one / 2;
    const int64_t q = d >= 0 ? d / one : -((-d + one - 1) / one); /* floor division */
    if (q > INT32_MAX) return INT32_MAX;
    if (q < INT32_MIN) return INT32_MIN;
    return (int32_t)q;
}

int64_t neco_gc_reconstruct(int32_t q, int64_t mean_fixed, int frac_bits)
{
    if (frac_bits < 0 || frac_bits > 30) return 0;
    return (int64_t)q * ((int64_t)1 << frac_bits) + mean_fixed;
}
