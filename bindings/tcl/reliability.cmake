# Reliability tests of both Tcl packages (faults, leaks, close-on-exec: tests/reliability.test)
# and the random-argument test of every command (tests/random_args.test). Not packages of
# their own: they only register CTest tests over the packages staged by mmap.cmake and
# posixipc.cmake. Each is also registered as stress.tcl.<name> with MMIPC_STRESS=1.
if(MMIPC_BUILD_TESTS)
  foreach(_suite reliability random_args)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/${_suite}.test)
      continue()
    endif()
    foreach(_variant check stress)
      if(_variant STREQUAL "check")
        set(_test tcl.${_suite})
        set(_labels tcl)
        set(_stress "")
      else()
        set(_test stress.tcl.${_suite})
        set(_labels stress)
        set(_stress "MMIPC_STRESS=1")
      endif()
      add_test(NAME ${_test}
               COMMAND ${TCLSH} ${CMAKE_CURRENT_SOURCE_DIR}/tests/all.tcl -file ${_suite}.test)
      # The queue tests share the per-user message queue budget with the other queue tests.
      set_tests_properties(${_test} PROPERTIES LABELS ${_labels} TIMEOUT 900
        RESOURCE_LOCK mqueue
        ENVIRONMENT "TCLLIBPATH=${MMIPC_TCL_STAGE};TCLSH=${TCLSH};${_stress};${MMIPC_INTERPRETER_ENV}")
    endforeach()
  endforeach()
endif()
