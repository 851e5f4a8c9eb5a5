# Tcl package posixipc: POSIX message queues and shared memory as Tcl channels (drop-in for
# posixipc 1.0). Its tests create message queues.
mmipc_tcl_package(posixipc 1.1 Posixipc
  SOURCES posixipc.cpp posixipc_mq.cpp posixipc_shm.cpp
  DOCS doc/posixipc.n
  TESTS MQUEUE)
# What scripts written for posixipc 1.0 observe, case by case, against the original's recorded
# answers; and every message of the spec, produced verbatim.
mmipc_tcl_suite(posixipc-original MQUEUE)
mmipc_tcl_suite(posixipc-messages MQUEUE)
