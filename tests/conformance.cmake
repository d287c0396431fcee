# The conformance suite (conformance/README.md) with the CLI's runner: the ref backend must
# reproduce every checksum exactly with 1 and 2 threads; oneDNN must decode the same symbols
# and stay within 1 level (8-bit) of ref; every damaged copy of every stream must be refused.
set(NECO_STREAMS ${PROJECT_SOURCE_DIR}/conformance/streams)
if(EXISTS ${NECO_STREAMS}/MANIFEST)
  if(TARGET neco_cli)
    set(runner $<TARGET_FILE:neco_cli> conformance ${NECO_STREAMS} --weights ${PROJECT_SOURCE_DIR}/weights)
  else()
    add_executable(neco_conformance ${PROJECT_SOURCE_DIR}/apps/conformance.c conformance_main.c)
    target_include_directories(neco_conformance PRIVATE ${PROJECT_SOURCE_DIR})
    target_link_libraries(neco_conformance PRIVATE neco_static ${NECO_MODULE_LIBS} Threads::Threads m)
    set(runner $<TARGET_FILE:neco_conformance> ${NECO_STREAMS} --weights ${PROJECT_SOURCE_DIR}/weights)
  endif()
  add_test(NAME conformance_ref_t1 COMMAND ${runner} --backend ref --threads 1)
  add_test(NAME conformance_ref_t2 COMMAND ${runner} --backend ref --threads 2)
  if(NECO_WITH_ONEDNN)
    add_test(NAME conformance_onednn COMMAND ${runner} --backend onednn --tolerance 1)
    # After each oneDNN call the OpenMP workers spin, taking the cores from the ref pool's
    # threads on a loaded 2-core machine (a run took 30 s instead of 10); the runtime reads
    # the policy only at start-up, so it is set here rather than by the library.
    set_tests_properties(conformance_onednn PROPERTIES ENVIRONMENT OMP_WAIT_POLICY=passive)
  endif()
  # The cuda backend under the same rule as onednn; skipped (not passed) without a device.
  if(NECO_CUDA_ENABLED)
    add_test(NAME conformance_cuda COMMAND ${runner} --backend cuda --tolerance 1)
    set_tests_properties(conformance_cuda PROPERTIES SKIP_REGULAR_EXPRESSION
                         "backend 'cuda': no CUDA device")
  endif()
  add_test(NAME conformance_sweep COMMAND ${runner} --sweep --quiet)
endif()
