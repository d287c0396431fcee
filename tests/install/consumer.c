/* A program outside the neco tree that uses the installed library: encodes and decodes a tiny
 * image with the public API and checks the result. */
#include <neco/neco.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    unsigned char px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    neco_image img = {2, 2, 3, 8, px};
    neco_context *ctx;
    if (neco_context_create(NULL, &ctx) != NECO_OK)
        return 1;
    uint8_t *coded;
    size_t size;
    neco_decoded dec;
    neco_encode_params params;
    neco_encode_params_default(&params);
    params.model = "raw"; /* needs no weights file */
    int ok = neco_encode_image(ctx, &img, &params, &coded, &size) == NECO_OK &&
             neco_decode(ctx, coded, size, &dec) == NECO_OK &&
             memcmp(dec.image.data, px, sizeof px) == 0;
    if (ok) {
        neco_decoded_free(&dec);
        neco_free(coded);
    }
    neco_context_destroy(ctx);
    printf("neco %s consumer: %s\n", neco_version_string(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
