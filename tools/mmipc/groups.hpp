#pragma once
// The subcommand groups of the mmipc tool, one file each. A new group
// is one more file with one more registration function, declared here and listed in main.cpp.

#include "CLI/CLI.hpp"

namespace mmipc::cli {

/// mmipc mq ...: POSIX message queues (mq.cpp).
void add_mq_commands(CLI::App& program);
/// mmipc shm ...: POSIX shared memory guarded by the posixipc semaphore (shm.cpp).
void add_shm_commands(CLI::App& program);
/// mmipc log ...: ring logs, cyclic log files of records (log.cpp).
void add_log_commands(CLI::App& program);

}  // namespace mmipc::cli
