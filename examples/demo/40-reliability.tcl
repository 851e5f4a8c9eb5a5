# Demo: Reliability: a file truncated under a mapping is an error, not a crash
#
# Another process cuts a mapped file short. With the original extension (or any plain mmap)
# the next read of the lost pages would kill tclsh with SIGBUS; here it is a Tcl error that
# says what happened, and the pages that still exist keep working. Run by `make demo`; runs
# on its own too: tclsh 40-reliability.tcl
package require mmap

set dir [expr {[info exists env(MMIPC_DEMO_DIR)] ? $env(MMIPC_DEMO_DIR) : "/tmp"}]
set path [file join $dir reliability-demo-[pid].dat]
proc show {label text} {
    puts [format "  %-30s %s" $label $text]
}

set f [open $path wb]
puts -nonewline $f [string repeat a 4096][string repeat b 4096][string repeat c 4096]
close $f
set f [open $path r+]
set m [mmap -shared $f]
close $f
fconfigure $m -translation binary
show "mapped:" "[file size $path] bytes, three pages a, b, c"

exec truncate -s 4096 $path
show "another process truncated it:" "[file size $path] bytes left"

seek $m 8192
if {[catch {read $m 10} message options]} {
    show "read of page 3:" $message
    show "errorCode:" [dict get $options -errorcode]
}
seek $m 0
show "tclsh is still running; page 1:" "[read $m 10]..."
seek $m 0
puts -nonewline $m HELLO
flush $m
set f [open $path rb]
show "write to page 1 reaches the file:" "[read $f 10]..."
close $f
close $m
file delete $path
