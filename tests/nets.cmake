# nets/ suites: the core (loader, JSON, pool), every ref op against PyTorch fixtures
# (tests/data/nets, written by train/make_nets_fixtures.py), and the onednn backend against ref.
neco_add_test(NAME test_nets SOURCES test_nets.c)
neco_add_test(NAME test_nets_ref SOURCES test_nets_ref.c test_nets_util.c)
if(NECO_WITH_ONEDNN)
  neco_add_test(NAME test_nets_onednn SOURCES test_nets_onednn.c test_nets_util.c)
endif()

# bench_nets: per-op and per-graph times and the CPU's measured peak (a program, not a test).
add_executable(bench_nets test_nets_bench.c test_nets_util.c)
target_include_directories(bench_nets PRIVATE ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(bench_nets PRIVATE neco_static ${NECO_MODULE_LIBS} PkgConfig::CUNIT
                      Threads::Threads m)
neco_add_test(NAME test_intconv SOURCES test_intconv.c)
