# Shared build helpers: warnings stay PRIVATE to each target, tests come in through one function.

function(obsmon_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  if(OBSMON_WARNINGS)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  endif()
  # PUBLIC, so that every executable linking an obsmon library links the sanitizer runtime too.
  if(OBSMON_SANITIZE)
    target_compile_options(${target} PUBLIC
      -fsanitize=${OBSMON_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=${OBSMON_SANITIZE})
  endif()
  # Coverage feedback for libFuzzer in the libraries; fuzz/ links the fuzzer's main itself.
  if(OBSMON_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# obsmon_add_library(<name> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# Creates obsmon_<name> with the alias obsmon::<name>; headers are included as "<folder>/<file>.h".
function(obsmon_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(obsmon_${name} STATIC ${ARG_SOURCES})
  add_library(obsmon::${name} ALIAS obsmon_${name})
  target_include_directories(obsmon_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(obsmon_${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  obsmon_target_defaults(obsmon_${name})
endfunction()

# Test code is built for a short build, not a fast run: what a test measures runs in the obsmon
# libraries and binaries, which keep the build type's flags. At -O2 -g, g++ 12 spends half of a
# test file's time on full debug info and most of the rest optimising gtest's templates
# (tests/probes/http_probe_test.cc: 9.5 s user at -O2 -g, 4.3 s at -O1 -g1; sanitized 9.0 s at
# -O1 -g1, 5.7 s at -O0 -g1). -g1 keeps line tables, so a failing test's stack trace and a
# sanitizer report still name file and line. -O0 rather than -O1 saves another 28 % (stop 50:
# http_probe_test.cc 5.4 s user at -O1 -g1, 3.9 s at -O0 -g1), in both of CI's builds; the
# sanitized build had built them at -O0 since stop 45. OBSMON_TEST_BUILD_FLAGS=OFF keeps the
# build type's.
option(OBSMON_TEST_BUILD_FLAGS "Build test code at -O0 -g1" ON)
# A test whose own code computes much (an oracle over a week of runs) passes OPTIMIZED: -O1
# (run_summaries_test's seeds took 25-34 s each at -O0 against 14-20 s at -O1, sanitized).
function(obsmon_test_code_flags target optimized)
  if(NOT OBSMON_TEST_BUILD_FLAGS OR NOT CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Release)$")
    return()
  endif()
  if(optimized)
    target_compile_options(${target} PRIVATE -O1 -g1)
  else()
    target_compile_options(${target} PRIVATE -O0 -g1)
  endif()
endfunction()

# obsmon_add_test(<name> SOURCES ... LIBS ... [LABELS ...] [OPTIMIZED] [SERIAL])
# One test executable per test file; every TEST becomes its own ctest entry.
function(obsmon_add_test name)
  cmake_parse_arguments(ARG "OPTIMIZED;SERIAL" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Tests include shared support headers as "tests/support/...".
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  obsmon_target_defaults(${name})
  obsmon_test_code_flags(${name} ${ARG_OPTIMIZED})
  if(TARGET obsmon_test_pch AND NOT ARG_OPTIMIZED)
    target_precompile_headers(${name} REUSE_FROM obsmon_test_pch)
  endif()
  target_compile_definitions(${name} PRIVATE
    OBSMON_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    OBSMON_BINARY_DIR="${PROJECT_BINARY_DIR}")
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  # Integration tests start real processes and mostly wait for them (115 tests: 685 s of wall
  # time one at a time, about 40 s of CPU), so they run beside each other and the unit tests:
  # 423 s for all of them two at a time on 2 cores, every one passing (stop 50). A test that
  # measures the daemon's share of a core or its memory over time passes SERIAL and runs alone.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${labels}" TIMEOUT 300 RUN_SERIAL ${ARG_SERIAL})
endfunction()
