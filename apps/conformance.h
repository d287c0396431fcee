/* The conformance runner of the neco CLI (apps/conformance.c). */
#ifndef NECO_APPS_CONFORMANCE_H
#define NECO_APPS_CONFORMANCE_H

typedef struct conformance_options {
    const char *dir;     /* holds MANIFEST and the streams */
    const char *backend; /* NULL: the default backend */
    const char *weights; /* weights folder or NULL */
    int threads;
    double tolerance; /* max |sample difference| from ref for other backends */
    int sweep;        /* damage every stream instead of checking digests */
    int verbose;
} conformance_options;

/* Prints "pass NAME" or "FAIL NAME: why" per stream and "N passed, M failed"; returns the exit
 * code (0 when every stream passed). */
int conformance_run(const conformance_options *options);

#endif
