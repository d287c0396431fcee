/* PNG file I/O for the CLI (libpng). The library never touches files; apps/ does. */
#ifndef NECO_APPS_IMAGEIO_H
#define NECO_APPS_IMAGEIO_H
#include <neco/neco.h>
#include <stddef.h>

/*
 * Reads a PNG: 8- and 16-bit; gray, gray+alpha, RGB, RGBA; palette expanded to RGB (RGBA when
 * it has transparency), tRNS expanded to alpha, bit depths below 8 expanded to 8, interlaced
 * images de-interlaced. Animated PNGs (APNG) are refused. On success fills *image (free
 * image->data with free()) and returns 0. On failure returns -1 and writes a one-line reason
 * (without the file name, without a newline) to err[0..err_size).
 */
int imageio_read_png(const char *path, neco_image *image, char *err, size_t err_size);

/* Writes a PNG of image's channels and bit depth. Returns 0, or -1 with a reason in err. */
int imageio_write_png(const char *path, const neco_image *image, char *err, size_t err_size);

#endif
