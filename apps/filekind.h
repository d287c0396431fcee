/* What a file holds, judged from its first bytes, not its name. */
#ifndef NECO_APPS_FILEKIND_H
#define NECO_APPS_FILEKIND_H

typedef enum file_kind {
    FILE_KIND_UNKNOWN = 0,
    FILE_KIND_NECO,  /* "NECO" */
    FILE_KIND_PNG,   /* the 8-byte PNG signature */
    FILE_KIND_AUDIO, /* RIFF/WAVE, RF64, fLaC, OggS, FORM/AIFF, ... */
} file_kind;

/* Reads the first bytes of path. Returns FILE_KIND_UNKNOWN for a file it cannot open or read. */
file_kind filekind_detect(const char *path);

#endif
