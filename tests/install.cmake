# Installing works and the result is usable from another project (find_package and pkg-config).
# Not in sanitizer builds: the consumer is built without the sanitizer runtime.
if(NOT NECO_SANITIZE)
  add_test(NAME install_consumer COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install/run.sh ${PROJECT_BINARY_DIR})
endif()
