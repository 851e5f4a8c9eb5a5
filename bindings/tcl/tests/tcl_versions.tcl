# What Tcl 8.6 and Tcl 9 say or do differently, for the suites, which run under both (see
# bindings/tcl/CMakeLists.txt): sourced by the test files that need it. The packages' own
# words are the same in both Tcl versions, but some words of their messages are Tcl's, and
# Tcl 9 changed those for its own channels too: the text of an errno (Tcl 9 took the C
# library's: "file exists" where Tcl 8.6 says "file already exists") and the generic options
# that a "bad option" message lists (-profile is new in Tcl 9), and the errorCode of a value
# that is not an integer (TCL VALUE NUMBER where Tcl 8.6 says TCL VALUE INTEGER, also for its
# own open's permissions). A test writes such a message
# as Tcl 8.6 words it and passes it through ::tclver::msg, so every test file keeps the 8.6
# text verbatim (mmap-messages.test looks for the documented messages there).

namespace eval ::tclver {
    # 1 under Tcl 9.
    variable tcl9 [package vsatisfies [package provide Tcl] 9-]
    # The errno texts the suites meet: name, Tcl 8.6's text, Tcl 9's.
    variable errno_texts {
        EBADF  {bad file number}                      {bad file descriptor}
        EEXIST {file already exists}                  {file exists}
        EFAULT {bad address in system call argument}  {bad address}
        ENOMEM {not enough memory}                    {cannot allocate memory}
    }
}

# `text`, a message as Tcl 8.6 words it, as the running Tcl words it.
proc ::tclver::msg {text} {
    variable tcl9
    variable errno_texts
    if {!$tcl9} {return $text}
    set map {}
    foreach {name old new} $errno_texts {lappend map $old $new}
    lappend map "-eofchar, -translation" "-eofchar, -profile, -translation" \
        "-eofchar, or -translation" "-eofchar, -profile, or -translation" \
        "TCL VALUE INTEGER" "TCL VALUE NUMBER"
    string map $map $text
}

# The running Tcl's text for errno `name` (one of those above).
proc ::tclver::errno_text {name} {
    variable tcl9
    variable errno_texts
    foreach {known old new} $errno_texts {
        if {$known eq $name} {return [expr {$tcl9 ? $new : $old}]}
    }
    error "no text known for $name"
}

# What `close $chan write`, `close $chan read` and then a write with flush give, as
# {code message code message code message}, on a channel whose driver cannot half-close.
# Tcl 8.6 refuses the half-close itself for a driver without close2Proc, as posixipc 1.0's
# (and ours there), with "half-close of channels not supported by <type>s", and the channel
# lives on. Tcl 9 has no closeProc any more: every driver takes half-closes, and one that
# refuses gets what Tcl's own file channels get in both versions: an empty message, and the
# write side is closed ("invalid argument" from then on; its output may still go out first).
proc ::tclver::refused_half_close {type} {
    variable tcl9
    if {$tcl9} {return [list 1 {} 1 {} 1 {error flushing "CHAN": invalid argument}]}
    set message "half-close of channels not supported by ${type}s"
    list 1 $message 1 $message 0 {}
}

# `chan configure` arguments that set the output end-of-file character to `char`: Tcl 9 has
# none (its -eofchar is one character, for input only; its file channels refuse Tcl 8.6's
# two-element value), so there they are empty.
proc ::tclver::output_eofchar {char} {
    variable tcl9
    expr {$tcl9 ? {} : [list -eofchar [list {} $char]]}
}
