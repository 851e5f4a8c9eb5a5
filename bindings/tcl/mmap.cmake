# Tcl package mmap: a memory-mapped region of a file as a Tcl channel (drop-in for tcl-mmap).
mmipc_tcl_package(mmap 1.2 Mmap SOURCES mmap.cpp DOCS doc/mmap.n)
# mmap::read, the one-copy read the benchmarks measure, in a file of its own.
if(MMIPC_BUILD_TESTS)
  add_test(NAME tcl.mmap-read
           COMMAND ${TCLSH} ${CMAKE_CURRENT_SOURCE_DIR}/tests/all.tcl -file mmap-read.test)
  set_tests_properties(tcl.mmap-read PROPERTIES LABELS tcl TIMEOUT 300
    ENVIRONMENT "TCLLIBPATH=${MMIPC_TCL_STAGE};${MMIPC_INTERPRETER_ENV}")
endif()
