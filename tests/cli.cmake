# The CLI end to end (tests/cli_test.sh): round trips, exit codes, truncation and bit flips.
add_test(NAME cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh $<TARGET_FILE:neco_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
