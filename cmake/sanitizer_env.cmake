# Interpreters (tclsh, perl) are not built with the sanitizers, so an instrumented extension
# loaded into them needs the sanitizer runtime preloaded. MMIPC_INTERPRETER_ENV is the
# environment a test that runs an interpreter must set (empty without MMIPC_SANITIZE).
set(MMIPC_INTERPRETER_ENV "")
if(MMIPC_SANITIZE)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _asan OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libubsan.so
                  OUTPUT_VARIABLE _ubsan OUTPUT_STRIP_TRAILING_WHITESPACE)
  # Interpreters keep some memory until exit by design, so leak checking is off for them;
  # every other finding stops the process with a non-zero status.
  list(APPEND MMIPC_INTERPRETER_ENV
       "LD_PRELOAD=${_asan} ${_ubsan}"
       "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=86"
       "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87")
endif()
