# Group "tcl": the Tcl mmap channel against Tcl's own file channel on the same file, hot in
# the page cache. Every contender of a case runs once per round, in a rotating order; each
# channel is opened (and mapped) before its timed part and closed after it. Both channels are
# configured alike (-translation binary), so the difference is the channel driver.
#
#   tclsh tcl_mmap.tcl --file PATH [--reps N] [--quick | --smoke]
#
# PATH is a file of 256-byte lines (bench/run makes it). Prints `sample` lines (see
# bench/harness.hpp).

package require mmap

proc usage {} {
    puts stderr "usage: tclsh tcl_mmap.tcl --file PATH ?--reps N? ?--quick|--smoke?"
    exit 2
}
set file ""
set reps 7
set mode full
for {set i 0} {$i < $argc} {incr i} {
    switch -- [lindex $argv $i] {
        --file  { set file [lindex $argv [incr i]] }
        --reps  { set reps [lindex $argv [incr i]] }
        --quick { set mode quick }
        --smoke { set mode smoke; set reps 1 }
        default { usage }
    }
}
if {$file eq ""} usage
set size [file size $file]
set ops [dict get {full 1000000 quick 100000 smoke 1000} $mode]

# Times one run of each contender per round, after one untimed warm-up run of each.
#   contenders: a list of {name role open run close}; open returns the channel, run gets it.
proc run_case {case ops bytes contenders} {
    global reps
    foreach c $contenders {
        lassign $c name role open run close
        set chan [{*}$open]
        {*}$run $chan
        {*}$close $chan
    }
    set n [llength $contenders]
    for {set r 0} {$r < $reps} {incr r} {
        for {set k 0} {$k < $n} {incr k} {
            lassign [lindex $contenders [expr {($k + $r) % $n}]] name role open run close
            set chan [{*}$open]
            set t0 [clock microseconds]
            {*}$run $chan
            set t1 [clock microseconds]
            {*}$close $chan
            puts [join [list sample tcl $case $name $role \
                            [format %.3f [expr {($t1 - $t0) * 1000.0 / $ops}]] $bytes] \t]
            flush stdout
        }
    }
}

# Opening: the file channel, or an mmap channel over it (the file channel closed at once,
# as the spec allows).
proc open_file {path access} {
    set f [open $path $access]
    fconfigure $f -translation binary
    return $f
}
proc open_mmap {path access args} {
    set f [open $path $access]
    set m [mmap {*}$args $f]
    close $f
    fconfigure $m -translation binary
    return $m
}

# Whether this mmap package has mmap::read (the one-copy read added for this comparison).
set have_read [llength [info commands ::mmap::read]]

# 1. read of the whole file
proc read_all {chan} { set data [read $chan]; string length $data }
proc mmap_read_all {chan} { set data [mmap::read $chan]; string length $data }
set contenders [list \
    [list "mmap channel: read" ours [list open_mmap $file r] read_all close] \
    [list "file channel: read" peer [list open_file $file r] read_all close]]
if {$have_read} {
    lappend contenders [list "mmap::read (one copy)" ours-alt [list open_mmap $file r] \
                            mmap_read_all close]
}
run_case "read whole file" 1 $size $contenders

# 2. gets loop over every line
proc gets_loop {chan} {
    set n 0
    while {[gets $chan line] >= 0} { incr n }
    return $n
}
set lines [expr {$size / 256}]
set contenders [list \
    [list "mmap channel: gets" ours [list open_mmap $file r] gets_loop close] \
    [list "file channel: gets" peer [list open_file $file r] gets_loop close]]
run_case "gets loop over $lines lines" $lines 256 $contenders

# 3. random 64-byte seek+read
expr {srand(42)}
set offsets {}
for {set i 0} {$i < $ops} {incr i} {
    lappend offsets [expr {int(rand() * ($size - 64))}]
}
proc seek_read {offsets chan} {
    foreach o $offsets {
        seek $chan $o
        read $chan 64
    }
}
proc seek_mmap_read {offsets chan} {
    foreach o $offsets {
        seek $chan $o
        mmap::read $chan 64
    }
}
set contenders [list \
    [list "mmap channel: seek+read" ours [list open_mmap $file r] [list seek_read $offsets] close] \
    [list "file channel: seek+read" peer [list open_file $file r] [list seek_read $offsets] close]]
# A smaller buffer refills less after each seek (the driver keeps Tcl's default of 4 KiB,
# which suits sequential reads).
proc open_mmap_1k {path access} {
    set m [open_mmap $path $access]
    fconfigure $m -buffersize 1024
    return $m
}
lappend contenders [list "mmap channel -buffersize 1024: seek+read" ours-alt \
                        [list open_mmap_1k $file r] [list seek_read $offsets] close]
if {$have_read} {
    lappend contenders [list "mmap channel: seek+mmap::read" ours-alt [list open_mmap $file r] \
                            [list seek_mmap_read $offsets] close]
}
run_case "random 64 B seek+read, $ops times" $ops 64 $contenders

# 4. 64-byte puts -nonewline into a 1 MiB region, wrapping: the mmap channel wraps by itself,
# the file channel is sent back to the start by a seek each time it reaches the end.
set wfile [file rootname $file]-write
set region [expr {$mode eq "smoke" ? 65536 : 1048576}]
set f [open $wfile w]
fconfigure $f -translation binary
puts -nonewline $f [string repeat x $region]
close $f
set record [string repeat a 63]\n
proc puts_loop {ops region record chan} {
    set per_wrap [expr {$region / 64}]
    set n 0
    for {set i 0} {$i < $ops} {incr i} {
        puts -nonewline $chan $record
        if {[incr n] == $per_wrap} { set n 0 }
    }
    flush $chan
}
proc open_mmap_full {path access args} {
    set m [open_mmap $path $access {*}$args]
    fconfigure $m -buffering full
    return $m
}
proc puts_loop_seek {ops region record chan} {
    set per_wrap [expr {$region / 64}]
    set n 0
    for {set i 0} {$i < $ops} {incr i} {
        puts -nonewline $chan $record
        if {[incr n] == $per_wrap} { set n 0; seek $chan 0 }
    }
    flush $chan
}
run_case "64 B puts -nonewline, $ops times, wrapping in [expr {$region / 1024}] KiB" $ops 64 \
    [list \
        [list "mmap channel -shared (default -buffering none)" ours \
             [list open_mmap $wfile r+ -shared] [list puts_loop $ops $region $record] close] \
        [list "file channel (default -buffering full)" peer [list open_file $wfile r+] \
             [list puts_loop_seek $ops $region $record] close] \
        [list "mmap channel -shared -buffering full" ours-alt \
             [list open_mmap_full $wfile r+ -shared] [list puts_loop $ops $region $record] \
             close]]
file delete $wfile

# 5. puts of a 64-byte line (63 characters and the newline) to a ring log channel
# (mmap::log, -buffering line by default: one record per line) against a file channel with
# -buffering line (one write(2) per line), each opened afresh: the log over a new 1 MiB
# file (wrapping, the oldest records dropped), the file empty.
set have_log [llength [info commands ::mmap::log]]
if {$have_log} {
    set lfile [file rootname $file]-log
    proc open_log {path} {
        file delete $path
        return [mmap::log create $path 1048576]
    }
    proc open_line_file {path} {
        set f [open $path w]
        fconfigure $f -buffering line
        return $f
    }
    proc line_loop {ops line chan} {
        for {set i 0} {$i < $ops} {incr i} {
            puts $chan $line
        }
    }
    set line [string repeat a 63]
    run_case "64 B line puts -buffering line, $ops times" $ops 64 [list \
        [list "mmap::log channel (one record per line)" ours [list open_log $lfile] \
             [list line_loop $ops $line] close] \
        [list "file channel -buffering line" peer [list open_line_file $lfile-file] \
             [list line_loop $ops $line] close]]
    file delete $lfile $lfile-file
}
