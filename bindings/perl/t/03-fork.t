# Anonymous memory with forked children: MAP_SHARED|MAP_ANON is shared, MAP_PRIVATE is not,
# and new() without a file gives shared memory; a file mapping is shared too.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;


{
  mmap(my $shared, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  is(length($shared), 4096, 'anonymous mapping of LENGTH bytes');
  is($shared, "\0" x 4096, '... zero-filled');
  my ($status) = run_in_child(sub { substr($shared, 0, 5) = 'child'; 1 });
  is($status, 0, 'child ran');
  is(substr($shared, 0, 5), 'child', 'MAP_SHARED|MAP_ANON: the child wrote into our memory');
  munmap($shared);
}

{
  mmap(my $shared, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, *STDOUT);
  my ($status) = run_in_child(sub { substr($shared, 100, 3) = 'abc'; 1 });
  is(substr($shared, 100, 3), 'abc', 'MAP_ANONYMOUS is the same');
  munmap($shared);
}

{
  mmap(my $private, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, STDOUT);
  my ($status, $seen) = run_in_child(sub { substr($private, 0, 5) = 'child'; substr($private, 0, 5) });
  is($seen, 'ok:child', 'the child sees its own write');
  is(substr($private, 0, 5), "\0" x 5, 'MAP_PRIVATE: the parent does not');
  munmap($private);
}

{
  Sys::Mmap->new(my $var, 1000) or die "new: $!";
  is(length($var), 1000, 'new() without a file: LENGTH bytes of anonymous memory');
  my ($status) = run_in_child(sub { $var = 'from the child'; 1 });
  is(substr($var, 0, 14), 'from the child', 'new() memory is shared with a forked child');
  my ($status2, $seen) = run_in_child(sub { substr($var, 0, 14) });
  is($seen, 'ok:from the child', 'and the other way round');
}

{
  my $file = temp_file('x' x 100);
  open my $fh, '+<', $file or die;
  mmap(my $var, 0, PROT_READ | PROT_WRITE, MAP_SHARED, $fh);
  run_in_child(sub { substr($var, 0, 4) = 'kid!'; 1 });
  is(substr($var, 0, 4), 'kid!', 'a shared file mapping is shared with a child');
  is(substr(slurp($file), 0, 4), 'kid!', '... and in the file');
  munmap($var);
}

done_testing;
