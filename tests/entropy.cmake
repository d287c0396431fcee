# Suites of entropy/ (issue 3), and its benchmark, which is a program and not a test.
neco_add_test(NAME test_entropy SOURCES test_entropy.c)
neco_add_test(NAME test_entropy_tables SOURCES test_entropy_tables.c)

# bench_entropy: speed and size overhead (entropy/README.md). The _lanes1/_lanes4 variants
# compile the coder with another number of interleaved states to measure that choice.
add_executable(bench_entropy bench/bench_entropy.c)
target_include_directories(bench_entropy PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(bench_entropy PRIVATE neco_static m)
foreach(lanes 1 4)
  add_executable(bench_entropy_lanes${lanes} bench/bench_entropy.c ${NECO_ENTROPY_SOURCES})
  target_include_directories(bench_entropy_lanes${lanes} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(bench_entropy_lanes${lanes} PRIVATE RANS_LANES=${lanes})
  target_link_libraries(bench_entropy_lanes${lanes} PRIVATE m)
endforeach()

# The committed fixtures and C constant tables must be what the Python twin writes today.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME entropy_python_twin
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/train/neco_cdf.py check
                   ${CMAKE_CURRENT_SOURCE_DIR}/data/entropy
                   ${PROJECT_SOURCE_DIR}/entropy/gaussian_tables.c)
endif()
