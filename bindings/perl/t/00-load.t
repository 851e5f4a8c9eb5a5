# The module loads (ours, not Debian's), exports what the original exported plus msync and
# the MS_* constants, and the constants have the platform's integer values.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use B ();
use POSIX ();

like($INC{'Sys/Mmap.pm'}, qr{blib/lib/Sys/Mmap\.pm\z}, 'loaded the module under test');
ok(Sys::Mmap->VERSION >= 1, 'version 1 or later');

for my $name (qw(mmap munmap msync)) {
  ok(defined &{"main::$name"}, "$name exported");
}
ok(!defined &main::hardwire, 'hardwire not exported');
ok(defined &Sys::Mmap::hardwire, 'hardwire callable as Sys::Mmap::hardwire');

my %expected = (
  MAP_SHARED => 1, MAP_PRIVATE => 2, MAP_ANON => 32, MAP_ANONYMOUS => 32, MAP_FILE => 0,
  MAP_LOCKED => 8192, MAP_NORESERVE => 16384, MAP_POPULATE => 32768, MAP_HUGETLB => 262144,
  MAP_HUGE_2MB => 21 << 26, MAP_HUGE_1GB => 30 << 26,
  PROT_NONE => 0, PROT_READ => 1, PROT_WRITE => 2, PROT_EXEC => 4,
  MS_ASYNC => 1, MS_INVALIDATE => 2, MS_SYNC => 4,
);
for my $name (sort keys %expected) {
  no strict 'refs';
  ok(defined &{"main::$name"}, "$name exported");
  my $value = &{"main::$name"}();
  is($value, $expected{$name}, "$name is $expected{$name}");
  my $flags = B::svref_2object(\$value)->FLAGS;
  ok($flags & B::SVf_IOK() && !($flags & B::SVf_POK()), "$name is an integer");
}
is(MAP_HUGE_2MB, 1409286144, 'MAP_HUGE_2MB defined (the original lacked it on Linux)');
is(MAP_HUGE_1GB, 2013265920, 'MAP_HUGE_1GB defined');

# The original's constant() lookup.
is(Sys::Mmap::constant('MAP_SHARED', 0), 1, 'constant() knows MAP_SHARED');
$! = 0;
is(Sys::Mmap::constant('MAP_INHERIT', 0), 0, 'constant() of an unknown name is 0');
is($! + 0, POSIX::EINVAL(), '... with $! EINVAL');

done_testing;
