# Warning flags for our own targets. Applied through an interface target so
# third-party code (none vendored today) never inherits -Werror.
add_library(fastboop_warnings INTERFACE)
target_compile_options(fastboop_warnings INTERFACE
  -Wall -Wextra $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(FASTBOOP_WERROR)
  target_compile_options(fastboop_warnings INTERFACE -Werror)
endif()

if(FASTBOOP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FASTBOOP_FUZZ=ON needs clang (configure with -DCMAKE_CXX_COMPILER=clang++ or the 'ci' preset)")
  endif()
endif()
# Instrumentation for fuzz builds travels with libfastboop (see tools/lib), so
# targets that do not link it — the static PID1 — stay uninstrumented.
add_library(fastboop_sanitize INTERFACE)
if(FASTBOOP_FUZZ)
  target_compile_options(fastboop_sanitize INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(fastboop_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# fastboop_add_fuzzer(NAME SOURCES...) — a libFuzzer target plus a short CTest run
# over the seed corpus in tests/fuzz/corpus/NAME (created empty when absent).
# The CTest run starts from the seed corpus alone with a fixed seed, so CI
# explores the same inputs a developer's run did: a gate must be reproducible.
# Longer, randomised runs: set FASTBOOP_FUZZ_SEED=0 (libFuzzer picks one) or
# run the binary by hand.
set(FASTBOOP_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed for the CTest fuzz runs (0 = random)")
function(fastboop_add_fuzzer name)
  if(NOT FASTBOOP_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE fastboop fastboop_warnings)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  add_test(NAME fuzz.${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            sh -c "rm -rf '${work}' && mkdir -p '${work}' && { cp -r '${corpus}/.' '${work}/' 2>/dev/null || true; } && exec '$<TARGET_FILE:${name}>' -seed=${FASTBOOP_FUZZ_SEED} -max_total_time=15 -rss_limit_mb=2048 -timeout=10 -artifact_prefix='${CMAKE_CURRENT_BINARY_DIR}/${name}-' '${work}'")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS "fuzz" TIMEOUT 120)
endfunction()
