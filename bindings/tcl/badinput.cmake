# Not a package: the bad-input, leak and security tests of both Tcl packages (mmap and
# posixipc), registered like the packages' own tests over what mmap.cmake and posixipc.cmake
# stage. They create message queues, so they take the mqueue lock (see tests/CMakeLists.txt).
# The bad-input and leak tests are also registered as stress.tcl.<name> with MMIPC_STRESS=1
# (100,000 calls and cycles; label stress: `make stress` runs them, `make check` skips them).
if(MMIPC_BUILD_TESTS)
  foreach(_suite badinput leaks security)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/${_suite}.test)
      continue()
    endif()
    set(_variants check)
    if(NOT _suite STREQUAL "security")
      list(APPEND _variants stress)
    endif()
    foreach(_variant IN LISTS _variants)
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
      set_tests_properties(${_test} PROPERTIES LABELS ${_labels} TIMEOUT 900
        RESOURCE_LOCK mqueue
        ENVIRONMENT "TCLLIBPATH=${MMIPC_TCL_STAGE};TCLSH=${TCLSH};${_stress};${MMIPC_INTERPRETER_ENV}")
    endforeach()
  endforeach()
endif()
