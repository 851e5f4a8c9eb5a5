#!/usr/bin/env perl
# Demo: Perl Sys::Mmap - a file as a variable, memory shared with a forked child
use strict;
use warnings;
use Sys::Mmap;

my $dir = $ENV{MMIPC_DEMO_DIR} // '/tmp';
my $file = "$dir/greeting.txt";
print "Sys::Mmap $Sys::Mmap::VERSION from $INC{'Sys/Mmap.pm'}\n";

# new(): the file is created, grown to 32 bytes, and $text *is* its bytes (no copy on read).
Sys::Mmap->new(my $text, 32, $file) or die "new: $!";
$text = 'Hello from a mapped variable';       # writes over the start of the file
substr($text, 0, 5) = 'HELLO';                # writes in place
printf "file now holds: %s\n", do { open my $fh, '<', $file or die; local $/; <$fh> =~ tr/\0//dr };

# mmap(): anonymous shared memory, inherited by a forked child.
mmap(my $shared, 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
my $pid = fork // die "fork: $!";
if ($pid == 0) {
  my $message = "written by child $$";
  substr($shared, 0, length $message) = $message;    # same length: written in place
  exit 0;
}
waitpid($pid, 0);
printf "parent reads:   %s\n", $shared =~ tr/\0//dr;
munmap($shared);

# Misuse dies with a message instead of crashing Perl.
eval { munmap($shared) };
print "munmap twice:   $@";
