# The original's own test suite (t/upstream/, Sys::Mmap 0.20 as CPAN ships it, unchanged)
# passes against ours: each file runs as a subtest in this process (so `make valgrind` and
# `make asan` see it), in a directory of its own (it writes mmap.tmp where it runs).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use Cwd ();
use File::Temp ();

my $here = Cwd::getcwd();
my @files = sort glob("$here/t/upstream/*.t");
cmp_ok(scalar @files, '>=', 2, 'the upstream test files are there');
for my $file (@files) {
  my $dir = File::Temp::tempdir("sys-mmap-upstream-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
  chdir $dir or die "$dir: $!";
  subtest $file =~ s{.*/}{}r => sub {
    my $result = do $file;
    die $@ if $@;
  };
  chdir $here or die "$here: $!";
}
is($INC{'Sys/Mmap.pm'}, "$here/blib/lib/Sys/Mmap.pm", 'the upstream tests ran against ours');

done_testing;
