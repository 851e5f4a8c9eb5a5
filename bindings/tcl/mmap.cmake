# Tcl package mmap: a memory-mapped region of a file as a Tcl channel (drop-in for tcl-mmap).
mmipc_tcl_package(mmap 1.2 Mmap SOURCES mmap.cpp mmap_log.cpp DOCS doc/mmap.n)
