# What several test files read from the environment and count in the process, defined once:
# sourced by leaks.test, badinput.test and badinput_worker.tcl (all.tcl runs only *.test).

# The value of environment variable `name`, or `default` when it is unset or empty.
proc env_or {name default} {
    expr {[info exists ::env($name)] && $::env($name) ne "" ? $::env($name) : $default}
}

# The descriptors this process has open.
proc fd_count {} { llength [glob -nocomplain /proc/self/fd/*] }

# The mappings of this process, or those whose line in /proc/self/maps matches `pattern`.
proc map_count {{pattern ""}} {
    set f [open /proc/self/maps]
    set lines [split [string trim [read $f]] \n]
    close $f
    if {$pattern eq ""} { return [llength $lines] }
    return [llength [lsearch -all -regexp $lines $pattern]]
}

# This process's resident set size in KiB.
proc rss_kib {} {
    set f [open /proc/self/status]
    set status [read $f]
    close $f
    regexp {VmRSS:\s+(\d+)} $status -> kib
    return $kib
}
