# Runs the tcltest files of this directory (all, or those named with -file) and exits
# non-zero when any test fails or a file exits with an error, so CTest sees failures.
#
#   tclsh all.tcl ?-file pattern? ?other tcltest options?
package require Tcl 8.6-
package require tcltest 2.5
namespace import ::tcltest::*

configure -testdir [file dirname [file normalize [info script]]] -singleproc 1 \
    -tmpdir [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}] {*}$argv

# runAllTests returns true when a test failed or a test file exited with an error.
if {[runAllTests]} {
    puts stderr "all.tcl: failures (see above)"
    exit 1
}
exit 0
