# Group "posixipc", the Tcl side: round trips of 64 B, 1 KiB and 8 KiB messages between this
# tclsh and a second tclsh (an echo server started from this script), once with
# `mq send`/`mq receive` and once through the queue channels with `puts`/`gets`; and 4 KiB
# written and read back through an `shm` channel and, for comparison, through an `mmap`
# channel over /dev/zero (the same channel work with no lock at all). bench_ipc measures the
# same exchanges in raw C++; bench/run alternates the two programs.
#
#   tclsh tcl_posixipc.tcl [--reps N] [--quick | --smoke]
#   tclsh tcl_posixipc.tcl --serve mq|chan REQUEST RESPONSE     (the echo server)
#
# Queues hold one message of at most 8 KiB (well inside the default limits), are named after
# this process and are unlinked when the script ends, even on failure. Prints `sample` lines
# (see bench/harness.hpp).

package require posixipc
package require mmap
namespace import ::posixipc::mq ::posixipc::shm

# The echo server: answers every message until it gets an empty one.
if {[lindex $argv 0] eq "--serve"} {
    lassign $argv - mode reqname respname
    set req [mq open $reqname {RDWR BINARY}]
    set resp [mq open $respname {RDWR BINARY}]
    if {$mode eq "mq"} {
        while {[string length [set m [mq receive $req]]] > 0} {
            mq send $resp $m
        }
    } else {
        fconfigure $req -translation binary
        fconfigure $resp -translation binary -buffering line
        while {[gets $req line] > 0} {
            puts $resp $line
        }
    }
    close $req
    close $resp
    exit 0
}

set reps 7
set mode full
for {set i 0} {$i < $argc} {incr i} {
    switch -- [lindex $argv $i] {
        --reps  { set reps [lindex $argv [incr i]] }
        --quick { set mode quick }
        --smoke { set mode smoke; set reps 1 }
        default {
            puts stderr "usage: tclsh tcl_posixipc.tcl ?--reps N? ?--quick|--smoke?"
            exit 2
        }
    }
}
set ops [dict get {full 4000 quick 1000 smoke 50} $mode]
set shm_ops [dict get {full 40000 quick 10000 smoke 100} $mode]
set tclsh [expr {[info exists env(TCLSH)] ? $env(TCLSH) : [info nameofexecutable]}]

# Times one run of each contender per round, after an untimed warm-up run of each.
#   contenders: a list of {name role script}; the script is evaluated at global level.
proc run_case {case ops bytes contenders} {
    global reps
    foreach c $contenders { uplevel #0 [lindex $c 2] }
    set n [llength $contenders]
    for {set r 0} {$r < $reps} {incr r} {
        for {set k 0} {$k < $n} {incr k} {
            lassign [lindex $contenders [expr {($k + $r) % $n}]] name role script
            set t0 [clock microseconds]
            uplevel #0 $script
            set t1 [clock microseconds]
            puts [join [list sample posixipc $case $name $role \
                            [format %.3f [expr {($t1 - $t0) * 1000.0 / $ops}]] $bytes] \t]
            flush stdout
        }
    }
}

set names {}
set servers {}
proc cleanup {} {
    global names servers
    foreach {mode req resp} $servers {
        # A reply left over by a failed run would keep the server blocked on a full queue.
        catch { fconfigure $resp -blocking 0; mq receive $resp }
        # An empty message (an empty line for the channel server) stops a server.
        if {$mode eq "mq"} {
            catch { mq send $req "" }
        } else {
            catch { puts $req ""; flush $req }
        }
    }
    foreach name $names { catch { mq unlink $name } }
    set names {}
}

# mq open, retried for up to a minute while the per-user queue budget (RLIMIT_MSGQUEUE,
# EMFILE, shared with every other program of this user) is full.
proc open_queue {args} {
    for {set attempt 0} {1} {incr attempt} {
        if {![catch {mq open {*}$args} result options]} { return $result }
        if {[lindex [dict get $options -errorcode] 1] ne "EMFILE" || $attempt >= 120} {
            return -options $options $result
        }
        puts stderr "tcl_posixipc: the message queue budget is full; retrying"
        after 500
    }
}

# Starts an echo server of `mode` on a new pair of queues; returns {req resp} channels.
proc start_server {mode} {
    global names servers tclsh argv0
    set base /mmipc-bench-[pid]-$mode
    set req [open_queue -maxmsg 1 -msgsize 8192 $base-req {RDWR CREAT EXCL BINARY} 0600]
    lappend names $base-req
    set resp [open_queue -maxmsg 1 -msgsize 8192 $base-resp {RDWR CREAT EXCL BINARY} 0600]
    lappend names $base-resp
    set pid [exec $tclsh $argv0 --serve $mode $base-req $base-resp >@ stderr 2>@ stderr &]
    lappend servers $mode $req $resp
    # bench/run ends the servers by pid should this script die before it can stop them.
    if {[info exists ::env(MMIPC_BENCH_PIDFILE)]} {
        set f [open $::env(MMIPC_BENCH_PIDFILE) a]
        puts $f $pid
        close $f
    }
    return [list $req $resp]
}

proc mq_loop {ops req resp message} {
    for {set i 0} {$i < $ops} {incr i} {
        mq send $req $message
        mq receive $resp
    }
}
proc chan_loop {ops req resp line} {
    for {set i 0} {$i < $ops} {incr i} {
        puts $req $line
        gets $resp
    }
}

try {
    lassign [start_server mq] mreq mresp
    lassign [start_server chan] creq cresp
    fconfigure $creq -translation binary -buffering line
    fconfigure $cresp -translation binary
    foreach size {64 1024 8192} {
        set label [expr {$size >= 1024 ? "[expr {$size / 1024}] KiB" : "$size B"}]
        set message [string repeat m $size]
        # puts adds the newline: the message on the queue is $size bytes.
        set line [string repeat m [expr {$size - 1}]]
        run_case "mq send/receive round trip, $label" $ops $size [list \
            [list "Tcl mq send/receive (2 tclsh)" ours \
                 [list mq_loop $ops $mreq $mresp $message]]]
        run_case "channel puts/gets round trip, $label" $ops $size [list \
            [list "Tcl channel puts/gets (2 tclsh)" ours \
                 [list chan_loop $ops $creq $cresp $line]]]
    }

    # Shared memory: 4 KiB written at offset 0 and read back, each under the lock; the same
    # through an mmap channel over /dev/zero, which takes no lock.
    set shmname /mmipc-bench-[pid]-shm
    set s [shm open -size 4096 $shmname {RDWR CREAT EXCL BINARY} 0600]
    fconfigure $s -translation binary
    set zero [open /dev/zero r+]
    set m [mmap -shared -length 4096 $zero]
    close $zero
    fconfigure $m -translation binary
    set block [string repeat a 4096]
    proc shm_loop {ops s block} {
        for {set i 0} {$i < $ops} {incr i} {
            seek $s 0
            puts -nonewline $s $block
            flush $s
            seek $s 0
            read $s 4096
        }
    }
    try {
        run_case "shm 4 KiB write + read back" $shm_ops 4096 [list \
            [list "Tcl shm channel puts+read" ours [list shm_loop $shm_ops $s $block]] \
            [list "Tcl mmap channel over /dev/zero puts+read (no lock)" limit \
                 [list shm_loop $shm_ops $m $block]]]
    } finally {
        close $m
        close $s
        shm unlink $shmname
    }
} finally {
    cleanup
}
