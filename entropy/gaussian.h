/* Gaussian-conditional entropy model (Ballé et al., "Variational image compression with a scale
 * hyperprior", ICLR 2018): each latent is coded with the table of a zero-mean Gaussian whose
 * scale comes from the hyperprior, picked from a fixed list of scales (the "scale table" of
 * CompressAI's GaussianConditional). The tables are built by integer arithmetic only, from two
 * committed constant tables (gaussian_tables.c), as specified in BITSTREAM.md section 2.3;
 * train/neco_cdf.py is the Python twin. */
#ifndef NECO_ENTROPY_GAUSSIAN_H
#define NECO_ENTROPY_GAUSSIAN_H
#include <stdint.h>

#include "entropy/cdf.h"

#define NECO_GC_DEFAULT_NUM_SCALES 64
#define NECO_GC_SCALE_ONE 65536            /* scales are Q16 integers */
#define NECO_GC_SCALE_MAX (1024u * 65536u) /* largest scale a table may have */
#define NECO_GC_TAIL_SIGMAS 7              /* a table covers |v| <= ceil(7 scale) */

/* The default scale list: round(2^16 exp(ln 0.11 + i (ln 256 - ln 0.11) / 63)), i = 0..63. */
extern const uint32_t neco_gc_default_scales_q16[NECO_GC_DEFAULT_NUM_SCALES];

/* Internal: round(2^32 erf(j / (256 sqrt 2))), j = 0..2048. */
#define GC_ERF_TABLE_SIZE 2049
extern const uint64_t gc_erf_q32[GC_ERF_TABLE_SIZE];

/* Half-width R of the table of a Q16 scale: values -R..R, then the escape. */
int neco_gc_half_width(uint32_t scale_q16);
/* The 2R + 2 integer weights of that table (units of 2^-33, total exactly 2^33). */
int neco_gc_weights(uint32_t scale_q16, uint64_t *weights, int *n, int32_t *offset);

/* Builds one table per scale (strictly increasing Q16 scales in (0, NECO_GC_SCALE_MAX]), with
 * escape. scales_q16 = NULL with num_scales = 0 takes the default list. */
int neco_gc_tables_create(neco_cdf_tables **out, int precision, const uint32_t *scales_q16,
                          int num_scales);

/* The index of the table for a Q16 scale (encoder side, also for an integer h_s): the number of
 * listed scales below it, at most num_scales - 1; CompressAI's build_indexes in integers. */
int neco_gc_scale_index(const uint32_t *scales_q16, int num_scales, uint32_t scale_q16);

/* Means (BITSTREAM.md 2.3): a mean is a fixed-point integer mu with frac_bits (0..30)
 * fractional bits. The coded symbol is the residual q, and the decoder reconstructs
 * y_hat = q 2^frac_bits + mu exactly. neco_gc_residual is the encoder's rounding,
 * q = floor((y - mu + 2^(frac_bits-1)) / 2^frac_bits) for y in the same fixed point,
 * saturated to int32; any encoder rounding decodes, this one is the nearest. */
int32_t neco_gc_residual(int64_t y_fixed, int64_t mean_fixed, int frac_bits);
int64_t neco_gc_reconstruct(int32_t q, int64_t mean_fixed, int frac_bits);

#endif
