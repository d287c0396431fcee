neco_add_test(NAME test_codec SOURCES test_codec.c)
# Count the library's allocations (hostile headers must be refused before any).
target_link_options(test_codec PRIVATE -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc)
neco_add_test(NAME test_lifting97 SOURCES test_lifting97.c)
neco_add_test(NAME test_aud_wave SOURCES test_aud_wave.c)
neco_add_test(NAME test_aud_grvq SOURCES test_aud_grvq.c)
neco_add_test(NAME test_stream SOURCES test_stream.c)
neco_add_test(NAME test_img_wave SOURCES test_img_wave.c LIBS neco_fileio)
neco_add_test(NAME test_img_swin SOURCES test_img_swin.c LIBS neco_fileio)

# bench_image: library-level encode/decode times of the image models (a program, not a test;
# README "Speed").
add_executable(bench_image bench/bench_image.c)
target_include_directories(bench_image PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(bench_image PRIVATE neco_fileio neco_static ${NECO_MODULE_LIBS} Threads::Threads m)
