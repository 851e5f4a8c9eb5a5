# Not a package: the bad-input, leak and security tests of both Tcl packages (mmap and
# posixipc), registered like the packages' own tests. They create message queues, so they
# take the mqueue lock (see tests/CMakeLists.txt).
if(MMIPC_BUILD_TESTS)
  foreach(_test badinput leaks security)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/${_test}.test)
      add_test(NAME tcl.${_test}
               COMMAND ${TCLSH} ${CMAKE_CURRENT_SOURCE_DIR}/tests/all.tcl -file ${_test}.test)
      set_tests_properties(tcl.${_test} PROPERTIES LABELS tcl TIMEOUT 900 RESOURCE_LOCK mqueue
        ENVIRONMENT "TCLLIBPATH=${MMIPC_TCL_STAGE};TCLSH=${TCLSH};${MMIPC_INTERPRETER_ENV}")
    endif()
  endforeach()
endif()
