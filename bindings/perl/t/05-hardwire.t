# hardwire(): a variable made to point into a live mapping of this module; refused
# elsewhere; undef once its mapping is unmapped (the original left it pointing at freed
# memory and Perl segfaulted).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use POSIX ();

my $EINVAL = POSIX::EINVAL();

{
  my $address = mmap(my $region, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  ok(Sys::Mmap::hardwire(my $whole, $address, 8192), 'hardwire returns true');
  is(length($whole), 8192, 'the whole region');
  ok(Sys::Mmap::hardwire(my $part, $address + 1024, 11), 'hardwire into the middle');
  substr($region, 1024, 11) = 'Hello world';
  is($part, 'Hello world', 'the hardwired variable is the memory');
  substr($part, 0, 5) = 'HELLO';
  is(substr($region, 1024, 11), 'HELLO world', 'writes through it land in the region');
  is(msync($part), 1, 'msync on a hardwired variable');

  my ($status, $seen) = run_in_child(sub { $part });
  is($seen, 'ok:HELLO world', 'a child sees it too');

  ok(munmap($region), 'unmap the region');
  ok(!defined $part, 'a hardwired variable becomes undef when its mapping goes away');
  ok(!defined $whole, '... every one of them');
  eval { munmap($part) };
  like($@, qr/^undef variable not unmappable/, 'it is no longer unmappable');
  eval { Sys::Mmap::hardwire(my $late, $address, 10) };
  like($@, qr/^hardwire: address 0x[0-9a-f]+ length 10 is not inside a live mapping made by Sys::Mmap at /,
       'hardwire into an unmapped region dies');
}

{
  my $address = mmap(my $region, 100, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $ro, $address, 100);
  eval { $ro = 'x' };
  like($@, qr/^Modification of a read-only value attempted/, 'hardwired into read-only memory: read-only');
  for my $case ([$address + 90, 11, 'past the end'], [$address - 1, 2, 'before the start'],
                [4096, 10, 'an arbitrary address'], [0, 1, 'address 0']) {
    my ($at, $length, $what) = @$case;
    $! = 0;
    eval { Sys::Mmap::hardwire(my $bad, $at, $length) };
    like($@, qr/^hardwire: address .* is not inside a live mapping made by Sys::Mmap/, "refused: $what");
    is($! + 0, $EINVAL, '... with $! EINVAL');
  }
  my $string = 'a Perl string';
  eval { Sys::Mmap::hardwire(my $bad, unpack('J', pack('p', $string)), 5) };
  like($@, qr/not inside a live mapping/, "refused: Perl's own memory");
  eval { Sys::Mmap::hardwire(my $bad, 'abc', 5) };
  like($@, qr/^hardwire: address is not a number/, 'refused: not a number');
  eval { Sys::Mmap::hardwire(my $bad, $address, -1) };
  like($@, qr/^hardwire: length is not a non-negative number/, 'refused: negative length');

  # The mapping going away at scope exit, not only through munmap.
  my $survivor;
  {
    my $inner = mmap(my $scoped, 100, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
    Sys::Mmap::hardwire($survivor, $inner, 50);
    is(length($survivor), 50, 'hardwired into a scoped mapping');
  }
  ok(!defined $survivor, 'undef once the owning variable went out of scope');

  # A hardwired variable that Perl has reallocated keeps its own value.
  Sys::Mmap::hardwire(my $moved, $address, 10);
  Sys::Mmap::hardwire(my $kept, $address, 10);
  munmap($kept);
  ok(!defined $kept, 'munmap of a hardwired variable lets go of it');
  is(length($region), 100, '... and leaves the region mapped');
  munmap($region);
  ok(!defined $moved, 'still undef after the region goes');
}

done_testing;
