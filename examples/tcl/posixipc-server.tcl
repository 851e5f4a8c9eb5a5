# The queue server of the posixipc demonstration (examples/demo/20-posixipc.tcl), which the
# mmipc demonstration (examples/demo/25-mmipc.sh) answers from the shell: it reads requests,
# one line each, from one queue and writes one reply line each to another, until "bye".
#
#   tclsh posixipc-server.tcl REQUESTS REPLIES BOARD
package require posixipc
namespace import ::posixipc::mq ::posixipc::shm
lassign $argv requests replies board
set in [mq open $requests r]
set out [mq open $replies w]
fconfigure $out -buffering line
while {[gets $in line] >= 0} {
    switch -glob -- $line {
        "add *" { puts $out [tcl::mathop::+ {*}[lrange $line 1 end]] }
        "shout *" { puts $out [string toupper [lrange $line 1 end]] }
        "sign the board" {
            # Shared memory: the client created it; the server appends to what it reads.
            set s [shm open $board r+]
            set text [string trimright [read $s] \0]
            seek $s [string length $text]
            puts -nonewline $s " / server [pid] was here"
            close $s
            puts $out "signed"
        }
        "bye" { puts $out "bye"; break }
        default { puts $out "?" }
    }
}
