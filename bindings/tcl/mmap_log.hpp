#pragma once
// mmap::log, the ring log of the mmap package (mmap_log.cpp): registered by the package's
// init beside mmap, mmap::sync and mmap::read.

#include <tcl.h>

namespace mmipc::tcl {

/// Creates the command ::mmap::log in `interp` (the ::mmap namespace must exist).
void register_log_command(Tcl_Interp* interp);

}  // namespace mmipc::tcl
