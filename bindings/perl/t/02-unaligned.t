# Offsets that are not page-aligned map and unmap cleanly, many times over in one process
# (the original gave Perl a bogus SvLEN and corrupted the heap when the variable was freed).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;

my $page = 4096;
my $content = join '', map { chr(32 + $_ % 90) } 0 .. 3 * $page - 1;
my $file = temp_file($content);
open my $fh, '+<', $file or die;

my $bad = 0;
for my $round (1 .. 300) {
  my $offset = ($round * 37) % (2 * $page) + 1;
  my $length = ($round * 13) % 1000 + 1;
  mmap(my $var, $length, PROT_READ | PROT_WRITE, MAP_SHARED, $fh, $offset);
  $bad++ unless $var eq substr($content, $offset, $length);
  if ($round % 2) {
    munmap($var) or $bad++;
  }
  else {
    my $copy = $var;    # freed by Perl at scope exit: must not free() the mapping
    $var = "reallocated $round";
  }
}
is($bad, 0, '300 unaligned mappings read the right bytes and unmap cleanly');

mmap(my $tail, 0, PROT_READ, MAP_SHARED, $fh, 3 * $page - 5);
is($tail, substr($content, -5), 'LENGTH 0 from an unaligned offset maps to the end');
munmap($tail);

mmap(my $one, 1, PROT_READ, MAP_SHARED, $fh, $page - 1);
is($one, substr($content, $page - 1, 1), 'one byte just before a page boundary');
munmap($one);

done_testing;
