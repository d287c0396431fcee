/*
 * neco — learned image and audio codec. The public API; the only installed header.
 *
 * Every function returns a neco_status (or a value documented alongside); the library never
 * exits, aborts or prints. A context (neco_context) holds the configuration (backend, threads,
 * limits, weights directory) and the detailed message of the last failure, so that callers can
 * show "CRC mismatch in tile 3" instead of a bare status. Contexts are independent: there is no
 * global mutable state, and two contexts may be used from two threads at once.
 *
 * The bitstream is specified in conformance/BITSTREAM.md.
 */
#ifndef NECO_NECO_H
#define NECO_NECO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NECO_BUILDING_LIBRARY) && defined(__GNUC__)
#define NECO_API __attribute__((visibility("default")))
#else
#define NECO_API
#endif

#define NECO_VERSION_MAJOR 0
#define NECO_VERSION_MINOR 1
#define NECO_VERSION_PATCH 0

/* Status codes. Negative values are failures. */
typedef enum neco_status {
    NECO_OK = 0,
    NECO_ERR_INVALID_ARGUMENT = -1, /* a caller error: NULL pointer, bad parameter value */
    NECO_ERR_NO_MEMORY = -2,        /* an allocation failed */
    NECO_ERR_BITSTREAM = -3,        /* malformed bitstream: bad magic, bad field, bad payload */
    NECO_ERR_TRUNCATED = -4,        /* the bitstream ends before its header or a tile/chunk */
    NECO_ERR_CRC = -5,              /* a CRC-32 does not match: the data is corrupt */
    NECO_ERR_UNSUPPORTED = -6,      /* a valid request this build cannot serve (version, format) */
    NECO_ERR_LIMIT = -7,            /* a size beyond the limits (neco_config.max_pixels, ...) */
    NECO_ERR_MODEL = -8,            /* unknown model, missing or mismatching weights */
    NECO_ERR_BACKEND = -9,          /* the requested backend is not available */
} neco_status;

/* A short, static description of a status ("CRC mismatch", ...). Never NULL. */
NECO_API const char *neco_status_string(neco_status status);

/* The library version, "MAJOR.MINOR.PATCH". */
NECO_API const char *neco_version_string(void);

/* Media types, as coded in the container header. */
typedef enum neco_media {
    NECO_MEDIA_IMAGE = 1,
    NECO_MEDIA_AUDIO = 2,
} neco_media;

/* ---- Images ------------------------------------------------------------------------------ */

/*
 * An image: interleaved samples, row-major, no padding between rows.
 * bit_depth 8: data points to uint8_t samples; bit_depth 16: to uint16_t samples in host order.
 * channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
 */
typedef struct neco_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t bit_depth;
    void *data;
} neco_image;

/* Bytes of sample data in an image: width * height * channels * (bit_depth / 8). */
NECO_API size_t neco_image_data_size(const neco_image *image);

/* ---- Audio ------------------------------------------------------------------------------- */

typedef enum neco_sample_format {
    NECO_SAMPLE_S16 = 1, /* int16_t */
    NECO_SAMPLE_S24 = 2, /* int32_t holding a sign-extended 24-bit value */
    NECO_SAMPLE_S32 = 3, /* int32_t */
    NECO_SAMPLE_F32 = 4, /* float, nominal range [-1, 1] */
} neco_sample_format;

/* Audio: interleaved frames (one sample per channel per frame). */
typedef struct neco_audio {
    uint32_t sample_rate;
    uint32_t channels;
    uint64_t frames;
    neco_sample_format format;
    void *data;
} neco_audio;

/* Bytes per sample of a format in memory (2 for S16, 4 otherwise); 0 for an unknown format. */
NECO_API size_t neco_sample_size(neco_sample_format format);

/* ---- Context ----------------------------------------------------------------------------- */

typedef struct neco_config {
    const char *backend;     /* "ref", "onednn", "cuda" or NULL for the fastest available */
    int threads;             /* worker threads; 0 = one per online CPU */
    uint64_t max_pixels;     /* decoder refuses images with more pixels; 0 = default (2^28) */
    uint64_t max_frames;     /* decoder refuses audio longer than this many frames; 0 = 2^32 */
    const char *weights_dir; /* where model weights live; NULL = the installed default */
    /* Decoding: a tile or chunk that is corrupt (CRC mismatch, bad payload) or missing (the
     * file is cut) is filled (mid-gray / silence) and decoding goes on; neco_decoded.concealed
     * counts them and neco_context_error() describes the first. 0: such a unit is an error. */
    int conceal;
    /* Called with the fraction done (0..1) while encoding or decoding; may be NULL. */
    void (*progress)(void *user, double fraction);
    void *progress_user;
} neco_config;

/* Fills a config with the defaults. */
NECO_API void neco_config_default(neco_config *config);

typedef struct neco_context neco_context;

/* A context is used by one thread at a time. It keeps, from one call to the next, the loaded
 * weights, the backend's kernels and reordered weights (one backend context per worker
 * thread) and the models' work memory (the Swin blocks' attention buffers), so that a second
 * image costs less than the first; neco_context_destroy releases them. */
NECO_API neco_status neco_context_create(const neco_config *config, neco_context **context);
NECO_API void neco_context_destroy(neco_context *context);

/* Whether a context on the named backend ("ref", "onednn", "cuda"; NULL or "" the default)
 * can be created here: NECO_OK, NECO_ERR_INVALID_ARGUMENT (no such backend), or
 * NECO_ERR_BACKEND with the reason in message (not built; for cuda also: no device or
 * driver, the module or a CUDA library that cannot be loaded). */
NECO_API neco_status neco_backend_check(const char *backend, char *message, size_t size);

/* The message of the last failure on this context ("" when none). Valid until the next call. */
NECO_API const char *neco_context_error(const neco_context *context);

/* ---- Encoding ---------------------------------------------------------------------------- */

typedef struct neco_encode_params {
    const char *model; /* model id; NULL = the default for the media type */
    int quality;       /* 1..number of quality levels of the model; 0 = the model's default */
    /* Images: when > 0, a bit budget in bits per pixel (whole file, header included): the
     * encoder picks the highest quality level whose stream fits (quality is then ignored) and
     * fails with NECO_ERR_LIMIT when even the lowest does not. */
    double bpp;
    /* Audio: when > 0, a bit budget in kilobits per second of audio (whole file, header
     * included): the highest quality level whose stream fits, as bpp does for images. */
    double kbps;
} neco_encode_params;

NECO_API void neco_encode_params_default(neco_encode_params *params);

/*
 * Encodes to a complete bitstream. On success *out (allocated by the library, free with
 * neco_free) holds *out_size bytes. On failure *out is NULL.
 */
NECO_API neco_status neco_encode_image(neco_context *context, const neco_image *image,
                                       const neco_encode_params *params, uint8_t **out,
                                       size_t *out_size);
NECO_API neco_status neco_encode_audio(neco_context *context, const neco_audio *audio,
                                       const neco_encode_params *params, uint8_t **out,
                                       size_t *out_size);

/* ---- Inspecting and decoding ------------------------------------------------------------- */

#define NECO_MODEL_ID_SIZE 16
#define NECO_WEIGHTS_HASH_SIZE 16

/* The fields of a file header (conformance/BITSTREAM.md, section "Container"). */
typedef struct neco_info {
    uint32_t version;
    neco_media media;
    char model[NECO_MODEL_ID_SIZE + 1]; /* NUL-terminated model id */
    uint8_t weights_hash[NECO_WEIGHTS_HASH_SIZE];
    uint32_t quality;
    /* images */
    uint32_t width, height, channels, bit_depth;
    uint32_t tile_width, tile_height;
    /* audio */
    uint32_t sample_rate;
    uint32_t audio_channels;
    uint64_t frames;
    neco_sample_format sample_format;
    uint32_t chunk_frames;
    /* both */
    uint32_t units;       /* number of tiles (image) or chunks (audio) */
    uint64_t header_size; /* bytes of the file header */
} neco_info;

/* Parses and checks a file header; reads no payload and allocates nothing. data is the whole
 * file: a header announcing more tiles/chunks than size can hold fails (NECO_ERR_TRUNCATED). */
NECO_API neco_status neco_read_info(neco_context *context, const uint8_t *data, size_t size,
                                    neco_info *info);

/* neco_read_info for a stream read piece by piece: data[0..size) may hold the header alone
 * (its first 64 bytes are enough to parse it; info->header_size then says how long the whole
 * header is, and where the first tile/chunk starts). */
NECO_API neco_status neco_read_header(neco_context *context, const uint8_t *data, size_t size,
                                      neco_info *info);

/* The result of decoding: either an image or audio, as info.media says. */
typedef struct neco_decoded {
    neco_info info;
    uint32_t concealed; /* units filled instead of decoded (neco_config.conceal) */
    neco_image image; /* valid when info.media == NECO_MEDIA_IMAGE */
    neco_audio audio; /* valid when info.media == NECO_MEDIA_AUDIO */
} neco_decoded;

/* Decodes a complete bitstream. Free the result with neco_decoded_free. */
NECO_API neco_status neco_decode(neco_context *context, const uint8_t *data, size_t size,
                                 neco_decoded *out);
NECO_API void neco_decoded_free(neco_decoded *decoded);

/*
 * Decodes one chunk of an audio stream, for decoding while the stream arrives (chunks decode
 * independently, BITSTREAM.md section 1). header[0..header_size) holds at least the whole file
 * header (neco_read_header says how long it is; bytes after it are ignored); unit[0..unit_size)
 * is chunk number `index` exactly as the stream carries it: its u32 length, payload and CRC-32.
 * On success out holds that chunk's frames only (frames index * chunk_frames onwards, at most
 * chunk_frames of them; out->data allocated by the library, free it with neco_free). On failure
 * out->data is NULL and the context's error names the chunk: a CRC mismatch (NECO_ERR_CRC), a
 * unit shorter than its length field says (NECO_ERR_TRUNCATED: the stream was cut; unit_size 0,
 * unit NULL or not, means the chunk is missing), bytes after its CRC or a payload the model
 * refuses (NECO_ERR_BITSTREAM). The model and weights are checked as neco_decode checks them
 * (NECO_ERR_MODEL). An image stream or an index past the last chunk is
 * NECO_ERR_INVALID_ARGUMENT. neco_config.conceal does not apply here: the caller decides what
 * replaces a chunk that fails (neco_decode uses silence).
 */
NECO_API neco_status neco_decode_audio_chunk(neco_context *context, const uint8_t *header,
                                             size_t header_size, uint32_t index,
                                             const uint8_t *unit, size_t unit_size,
                                             neco_audio *out);

/*
 * Conformance digests of a stream (conformance/BITSTREAM.md section 4): output_sha256 is the
 * SHA-256 of the decoded samples in little-endian order (as neco_decoded holds them: 8-bit
 * samples as bytes, wider ones as 2- or 4-byte little-endian words, interleaved); symbols_sha256
 * the SHA-256 of every unit's entropy-decoded symbols in stream order (each symbol as a 4-byte
 * little-endian two's-complement integer, in the order the payload codes them; for models
 * without entropy coding, the payload bytes themselves).
 */
NECO_API neco_status neco_stream_digests(neco_context *context, const uint8_t *data, size_t size,
                                         uint8_t output_sha256[32], uint8_t symbols_sha256[32]);

/* Frees memory returned by the library. */
NECO_API void neco_free(void *pointer);

/* ---- Models ------------------------------------------------------------------------------ */

/* Number of models this build knows, and their ids/descriptions by index. */
NECO_API int neco_model_count(void);
NECO_API const char *neco_model_id(int index);
NECO_API const char *neco_model_description(int index);

#ifdef __cplusplus
}
#endif
#endif /* NECO_NECO_H */
