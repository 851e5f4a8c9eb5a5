# Threads: a mapped variable cloned into a new thread stays valid, and the mapping is
# unmapped once, when the last clone lets go.
use strict;
use warnings;
use Config;
use lib 't/lib';
use Test::More;
BEGIN {
  plan skip_all => 'this perl has no ithreads' unless $Config{useithreads};
}
use threads;
use MmapTest;
use Sys::Mmap;

my $file = temp_file('0123456789' x 10);

{
  open my $fh, '+<', $file or die;
  my $address = mmap(my $var, 0, PROT_READ | PROT_WRITE, MAP_SHARED, $fh);
  my $seen = threads->create(sub {
    my $before = substr($var, 0, 10);
    substr($var, 0, 5) = 'child';
    munmap($var);    # the thread lets go of its clone; the parent's stays mapped
    return $before;
  })->join;
  is($seen, '0123456789', 'the thread read the mapped variable');
  is(substr($var, 0, 5), 'child', 'its write is in our mapping');
  is(length($var), 100, "the thread's munmap left ours mapped");
  is(substr(slurp($file), 0, 5), 'child', 'and in the file');
  ok(is_mapped($address), 'still mapped after the thread ended');
  ok(munmap($var), 'unmapped once, here');
  ok(!is_mapped($address), 'and now it is gone');

  # A clone the thread never unmaps is let go when the thread's interpreter ends.
  $address = mmap(my $other, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  threads->create(sub { substr($other, 0, 2) = 'ok'; 1 })->join;
  ok(is_mapped($address), 'mapped after the thread (its clone was freed, ours remains)');
  is(substr($other, 0, 2), 'ok', 'and valid');
  undef $other;
  ok(is_mapped($address), 'undef does not unmap (the variable still owns the mapping)');
  munmap($other);
  ok(!is_mapped($address), 'munmap of the last holder unmaps');
}

{
  Sys::Mmap->new(my $shared, 64) or die;
  $shared = 'parent';
  my @threads = map {
    my $n = $_;
    threads->create(sub { substr($shared, 10 + $n, 1) = $n; length $shared })
  } 1 .. 4;
  is_deeply([map { $_->join } @threads], [64, 64, 64, 64], 'four threads see the region');
  is(substr($shared, 0, 15), "parent" . "\0" x 5 . '1234', 'each wrote into it');
  my $inner = threads->create(sub { $shared = 'thread'; 1 })->join;
  is(substr($shared, 0, 6), 'thread', 'assignment in a thread writes over the region');
}

{
  # A thread whose clone goes out of scope first, then ours: no double unmap.
  my $address = mmap(my $var, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $wired, $address + 10, 5);
  substr($var, 10, 5) = 'wired';
  my $seen = threads->create(sub { "$wired" })->join;
  is($seen, 'wired', 'a hardwired variable in a thread');
  undef $var;    # assigning undef does not unmap: the variable still owns the mapping
  is($wired, 'wired', 'still mapped');
  ok(munmap($var), 'munmap of the reassigned variable');
  ok(!defined $wired, 'now the hardwired one is undef');
}

done_testing;
