/* neco_conformance: the CLI's conformance runner (apps/conformance.c) as a program of its own,
 * for builds without apps/ (-DNECO_BUILD_APPS=OFF: the GPU machine's check, which lacks libpng
 * and libsndfile). Same options as `neco conformance`:
 *   neco_conformance DIR [--backend B] [--threads N] [--weights DIR] [--tolerance T]
 *                        [--sweep] [--verbose] [--quiet] */
#include "apps/conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    conformance_options o = {NULL, NULL, NULL, 1, 2.0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sweep"))
            o.sweep = 1;
        else if (!strcmp(a, "--verbose"))
            o.verbose = 1;
        else if (!strcmp(a, "--quiet"))
            ; /* the CLI's: no progress bar (this program has none) */
        else if (a[0] != '-' && !o.dir)
            o.dir = a;
        else if (v && !strcmp(a, "--backend"))
            o.backend = v, i++;
        else if (v && !strcmp(a, "--weights"))
            o.weights = v, i++;
        else if (v && !strcmp(a, "--threads"))
            o.threads = atoi(v), i++;
        else if (v && !strcmp(a, "--tolerance"))
            o.tolerance = atof(v), i++;
        else {
            fprintf(stderr, "neco: usage: neco_conformance DIR [--backend B] [--threads N] "
                            "[--weights DIR] [--tolerance T] [--sweep] [--verbose]\n");
            return 1;
        }
    }
    if (!o.dir || o.threads < 1 || o.tolerance < 0) {
        fprintf(stderr, "neco: usage: neco_conformance DIR [options]\n");
        return 1;
    }
    return conformance_run(&o);
}
