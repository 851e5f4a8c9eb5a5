# Tcl package posixipc: POSIX message queues and shared memory as Tcl channels (drop-in for
# posixipc 1.0).
mmipc_tcl_package(posixipc 1.1 Posixipc
  SOURCES posixipc.cpp posixipc_mq.cpp posixipc_shm.cpp
  DOCS doc/posixipc.n)
if(MMIPC_BUILD_TESTS)
  # The Tcl tests create message queues: they share the per-user RLIMIT_MSGQUEUE budget with
  # the C++ queue tests, so they never run at the same time (see tests/CMakeLists.txt).
  set_tests_properties(tcl.posixipc PROPERTIES RESOURCE_LOCK mqueue)
endif()
