# Demo: posixipc - two tclsh processes talk over message queues and share memory
#
# This process is the client; it starts a second tclsh as the server. They talk over two
# POSIX message queues (one line = one message), then both look at one shared memory object.
package require posixipc 1.0
namespace import ::posixipc::mq ::posixipc::shm

set tag [pid]
set requests /demo-requests-$tag
set replies /demo-replies-$tag
set board /demo-board-$tag

# The server: its own script, which the mmipc demonstration runs too.
set server_script [file join [file dirname [file normalize [info script]]] .. tcl posixipc-server.tcl]

# Create both queues before the server opens them (small queues: 4 messages of 256 bytes).
set to_server [mq open -maxmsg 4 -msgsize 256 $requests w+ 0600]
set from_server [mq open -maxmsg 4 -msgsize 256 $replies w+ 0600]
fconfigure $to_server -buffering line
set s [shm open -size 256 $board w+ 0600]
puts -nonewline $s "client [pid] was here"
flush $s

set server [open |[list [info nameofexecutable] $server_script $requests $replies $board] r]
puts "client [pid] started server [pid $server]"
foreach request {"add 2 3 37" "shout hello queues" "sign the board" "bye"} {
    puts $to_server $request
    puts [format "  client -> %-20s server -> %s" $request [gets $from_server]]
}
close $server

seek $s 0
puts "shared memory $board ([fconfigure $s -size] bytes) now reads:"
puts "  [string trimright [read $s] \0]"

# Priorities: mq send bypasses the buffering; the highest priority comes out first.
mq send $to_server "routine" 1
mq send $to_server "urgent" 9
set q [mq open $requests r]
set first [mq receive $q prio]
puts "queued routine (priority 1) then urgent (priority 9): received '$first' first (priority $prio)"
mq receive $q

foreach c [list $to_server $from_server $s $q] { close $c }
mq unlink $requests
mq unlink $replies
shm unlink $board
puts "queues and shared memory removed"
