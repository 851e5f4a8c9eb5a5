# Mapping and unmapping many times in one process leaves as many descriptors and mappings as
# before: every path (mmap/munmap, scope exit, Sys::Mmap->new, failed calls) gives back what
# it took. 10,000 rounds of each in `make check`, 100,000 under `make stress` (MMIPC_STRESS=1).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;

my $rounds = $ENV{MMIPC_STRESS} ? 100_000 : 10_000;

my $file = temp_file('x' x 10000);
(my $tag = $file) =~ s{.*/}{};

# Open descriptors, mappings of the test's file, and all mappings (left out under
# AddressSanitizer, preloaded in the sanitizer build: its allocator maps memory as it likes).
sub resources {
  opendir(my $dir, '/proc/self/fd') or die "/proc/self/fd: $!";
  my $fds = grep { /^\d+$/ } readdir $dir;
  closedir $dir;
  open my $maps, '<', '/proc/self/maps' or die "/proc/self/maps: $!";
  my @maps = <$maps>;
  close $maps;
  my $ours = grep { index($_, $tag) >= 0 } @maps;
  my $all = ($ENV{LD_PRELOAD} // '') =~ /asan/ ? '' : ' maps ' . scalar(@maps);
  return "fds $fds ours $ours$all";
}

open my $fh, '+<', $file or die "$file: $!";

# Warm up once, so memory Perl allocates on first use is not counted as a leak.
{ mmap(my $v, 0, PROT_READ | PROT_WRITE, MAP_SHARED, $fh, 3); munmap($v) }
{ my $o = Sys::Mmap->new(my $v, 100, $file) }
eval { mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh, 20000) };

my $before = resources();
for my $i (1 .. $rounds) {
  mmap(my $v, 100, PROT_READ | PROT_WRITE, MAP_SHARED, $fh, $i % 5000);
  substr($v, 0, 1) = 'y';
  munmap($v);
}
is(resources(), $before, "$rounds mmap/munmap pairs: descriptors and mappings back where they were");

for my $i (1 .. $rounds) {
  mmap(my $v, 0, PROT_READ, MAP_PRIVATE, $fh, $i % 5000);  # unmapped at scope exit
}
is(resources(), $before, "$rounds mappings dropped at scope exit: nothing left");

for my $i (1 .. $rounds / 10) {
  my $object = Sys::Mmap->new(my $v, 4096, $file);
  $v = "round $i";
}
is(resources(), $before, ($rounds / 10) . " Sys::Mmap->new objects: nothing left");

for my $i (1 .. $rounds) {
  eval { mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh, 20000) };         # past the end
  eval { mmap(my $v, 100, PROT_READ | PROT_WRITE, MAP_SHARED, \*STDIN_NOT_OPEN, 0) };
}
is(resources(), $before, "$rounds pairs of failed calls: nothing left");
diag("[ figure   ] Perl mappings made and released: " . (3 * $rounds + $rounds / 10));

close $fh;
done_testing;
