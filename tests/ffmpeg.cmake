# neco's FFmpeg filters end to end (tests/ffmpeg_test.sh): installs this build into a prefix,
# fetches Debian's FFmpeg 5.1 source (network: deb.debian.org), builds a minimal FFmpeg with the
# filters against the installed libneco (apps/ffmpeg/build-ffmpeg.sh), and runs a PNG and a WAV
# through them. Off by default: it needs the network and a few minutes of compiling.
# Not in sanitizer builds: the FFmpeg binaries are built without the sanitizer runtime that an
# instrumented libneco would need.
option(NECO_FFMPEG_TEST "test the FFmpeg filters (builds FFmpeg from Debian's source)" OFF)
if(NECO_FFMPEG_TEST AND NOT NECO_SANITIZE)
  add_test(NAME ffmpeg_filters
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ffmpeg_test.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  # The FFmpeg build is -j2 by itself; running it beside other tests only slows both.
  set_tests_properties(ffmpeg_filters PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE LABELS ffmpeg)
endif()

# apps/avinput (inputs read through Debian's libavformat/libavcodec), when apps/CMakeLists.txt
# builds it (libavformat-dev, libavcodec-dev, libswscale-dev found). Fixtures: tests/data/avinput,
# made by tests/data/avinput/make_fixtures.sh.
if(TARGET neco_avinput)
  # The test links libavutil itself (it checks avinput's log-level handling); avinput.c opens
  # the same libraries with dlopen, so both see one FFmpeg.
  neco_add_test(NAME test_avinput SOURCES test_avinput.c LIBS neco_avinput neco_fileio PkgConfig::LIBAV)
endif()
