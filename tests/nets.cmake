# nets/ suites: the core (loader, JSON, pool), every ref op against PyTorch fixtures
# (tests/data/nets, written by train/make_nets_fixtures.py), and the onednn backend against ref.
neco_add_test(NAME test_nets SOURCES test_nets.c)
neco_add_test(NAME test_nets_ref SOURCES test_nets_ref.c test_nets_util.c)
# test_nets_backend.c, built once per backend.
if(NECO_WITH_ONEDNN)
  neco_add_test(NAME test_nets_onednn SOURCES test_nets_backend.c test_nets_util.c)
  target_compile_definitions(test_nets_onednn PRIVATE NN_TEST_BACKEND="onednn")
endif()
# The cuda backend's own kernels on the CPU (every build), and the backend against ref on a
# GPU: without a device that suite exits 77, which ctest reports as skipped, not passed.
neco_add_test(NAME test_cuda_kernels SOURCES test_cuda_kernels.c test_nets_util.c)
if(NECO_CUDA_ENABLED)
  neco_add_test(NAME test_nets_cuda SOURCES test_nets_backend.c test_nets_util.c)
  target_compile_definitions(test_nets_cuda PRIVATE NN_TEST_BACKEND="cuda")
  set_tests_properties(test_nets_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()

# bench_nets: per-op and per-graph times and the CPU's measured peak (a program, not a test).
add_executable(bench_nets test_nets_bench.c test_nets_util.c)
target_include_directories(bench_nets PRIVATE ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(bench_nets PRIVATE neco_static ${NECO_MODULE_LIBS} PkgConfig::CUNIT
                      Threads::Threads m)
neco_add_test(NAME test_intconv SOURCES test_intconv.c)
