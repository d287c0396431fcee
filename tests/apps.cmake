# apps/ file I/O: PNG (libpng), audio (libsndfile), file kinds. Fixtures: tests/data/png and
# tests/data/audio, written by tests/data/make_fileio_fixtures.py.
neco_add_test(NAME test_fileio SOURCES test_fileio.c LIBS neco_fileio)
