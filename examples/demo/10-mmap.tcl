# Demo: Tcl package mmap: files through memory, a cyclic log, memory shared by two processes
#
# The three uses of the original tcl-mmap, each shown working. Run by `make demo` (which sets
# TCLLIBPATH and MMIPC_DEMO_DIR); runs on its own too: tclsh 10-mmap.tcl
package require mmap
package require Tclx

set dir [expr {[info exists env(MMIPC_DEMO_DIR)] ? $env(MMIPC_DEMO_DIR) : [file dirname [file normalize [info script]]]}]
proc show {label text} {
    puts [format "  %-24s %s" $label $text]
}
proc slurp {path} {
    set f [open $path rb]
    set data [read $f]
    close $f
    return $data
}

# ---- 1. Reading and writing a file through memory ---------------------------------------------
puts "1. Reading and writing a file through memory"
set path [file join $dir inventory.txt]
set f [open $path w]
puts $f "apples   012\npears    007\nplums    130"
close $f

set f [open $path r+]
set mp [mmap -shared $f]      ;# the whole file, writes reach it
close $f                      ;# the mapping lives on without the file channel
show "mapped:" "$mp, [chan configure $mp -length] bytes, shared [chan configure $mp -shared]"
while {[gets $mp line] >= 0} {show "gets:" $line}
seek $mp 22                   ;# the pears' count
puts -nonewline $mp 042       ;# overwrites 3 bytes in memory, and so in the file
show "after puts at 22:" "the file on disk says: [lindex [split [slurp $path] \n] 1]"
seek $mp 0 end
show "seek to end, read:" "\"[read $mp]\", eof [eof $mp]"
close $mp                     ;# msync, then unmap
show "file size:" "[file size $path] bytes (writes never grow the file)"

# ---- 2. A cyclic log -----------------------------------------------------------------------------
puts "\n2. A cyclic log: 512 bytes, 100 messages, always the latest ones"
set logpath [file join $dir app.log]
set f [open $logpath w+]
chan truncate $f 512          ;# the log's fixed size
set log [mmap -shared $f]
close $f
set total 0
for {set i 1} {$i <= 100} {incr i} {
    set message [format "event %03d: sensor reading %d" $i [expr {($i * 37) % 101}]]
    puts $log $message
    incr total [string length $message\n]
}
set pos [tell $log]
close $log
set disk [slurp $logpath]
show "messages written:" "100, $total bytes in all, into 512 bytes"
show "file size:" "[file size $logpath] bytes, write position now $pos"
# Oldest byte first: from the write position round to it again.
set ordered [string range $disk $pos end][string range $disk 0 [expr {$pos - 1}]]
set kept [lrange [split $ordered \n] 1 end-1]
show "whole messages kept:" "[llength $kept], the latest of them:"
foreach line [lrange $kept end-2 end] {show "" $line}

# ---- 3. Memory shared between two processes -------------------------------------------------------
puts "\n3. Memory shared between two processes (/dev/zero -shared, TclX fork)"
set zero [open /dev/zero r+]
set shm [mmap -shared -length 4096 $zero]
close $zero
set private [mmap -length 4096 [set zero [open /dev/zero r+]]]
close $zero
lassign [chan pipe] ready_r ready_w
flush stdout
set pid [fork]
if {$pid == 0} {
    # The child writes into both mappings, then tells the parent.
    close $ready_r
    puts -nonewline $shm "hello from child [id process]"
    puts -nonewline $private "a private note"
    puts $ready_w done
    close $ready_w
    exit 0
}
close $ready_w
gets $ready_r
close $ready_r
wait $pid
show "child $pid wrote;" "the parent reads:"
show "shared mapping:" "\"[string trimright [read $shm 64] \0]\""
set note [string trimright [read $private 64] \0]
show "private mapping:" [expr {$note eq "" ? "only zeros (copy-on-write: not shared)" : "\"$note\""}]
close $shm
close $private
file delete $path $logpath
