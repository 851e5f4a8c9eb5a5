# Not a package: the suites that test both Tcl packages together (or one command apart),
# over what mmap.cmake and posixipc.cmake stage.
mmipc_tcl_suite(mmap-read)                    # mmap::read, the one-copy read
mmipc_tcl_suite(reliability STRESS MQUEUE)    # SIGBUS: files and objects shrinking under us
mmipc_tcl_suite(badinput STRESS MQUEUE)       # random argument lists to every command
mmipc_tcl_suite(leaks STRESS MQUEUE)          # 100,000 channels opened and closed
mmipc_tcl_suite(security MQUEUE)              # close-on-exec, names, modes, O_EXCL, links
mmipc_tcl_suite(shm-lock STRESS)              # the shm lock: lock object, racing opens, fork
mmipc_tcl_suite(mmap-messages)                # mmap's documented messages, each tested
mmipc_tcl_suite(mmap-log STRESS)              # mmap::log, the ring log as channels and commands
mmipc_tcl_suite(fulldisk)                     # a full tmpfs: mmap into a sparse file, the ring log
