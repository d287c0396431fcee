neco_add_test(NAME test_codec SOURCES test_codec.c)
# Count the library's allocations (hostile headers must be refused before any).
target_link_options(test_codec PRIVATE -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc)
neco_add_test(NAME test_lifting97 SOURCES test_lifting97.c)
neco_add_test(NAME test_aud_wave SOURCES test_aud_wave.c)
neco_add_test(NAME test_aud_grvq SOURCES test_aud_grvq.c)
neco_add_test(NAME test_stream SOURCES test_stream.c)
if(TARGET neco_fileio)
  neco_add_test(NAME test_img_wave SOURCES test_img_wave.c LIBS neco_fileio)
  neco_add_test(NAME test_img_swin SOURCES test_img_swin.c LIBS neco_fileio)
endif()

# bench_image: library-level encode/decode times of the image models (a program, not a test;
# README "Speed").
add_executable(bench_image bench/bench_image.c)
target_include_directories(bench_image PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(bench_image PRIVATE neco_static ${NECO_MODULE_LIBS} Threads::Threads m)
if(TARGET neco_fileio) # PNG input; PPM always
  target_link_libraries(bench_image PRIVATE neco_fileio)
  target_compile_definitions(bench_image PRIVATE NECO_BENCH_PNG)
endif()

# Round trips through the codec on the GPU (skipped, exit 77, without a CUDA device).
if(NECO_CUDA_ENABLED)
  neco_add_test(NAME test_cuda_codec SOURCES test_cuda_codec.c)
  set_tests_properties(test_cuda_codec PROPERTIES SKIP_RETURN_CODE 77)
endif()
