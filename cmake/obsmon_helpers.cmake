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

# obsmon_add_test(<name> SOURCES ... LIBS ... [LABELS ...])
# One test executable per test file; every TEST becomes its own ctest entry.
function(obsmon_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Tests include shared support headers as "tests/support/...".
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  obsmon_target_defaults(${name})
  target_compile_definitions(${name} PRIVATE
    OBSMON_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    OBSMON_BINARY_DIR="${PROJECT_BINARY_DIR}")
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  # Integration tests start real processes and measure real outages: they run one at a time so
  # that a loaded machine cannot stretch their timings.
  set(serial FALSE)
  if("integration" IN_LIST labels)
    set(serial TRUE)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${labels}" TIMEOUT 300 RUN_SERIAL ${serial})
endfunction()
