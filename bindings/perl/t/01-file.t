# mmap() of files: the variable is the file's bytes, shared writes reach the file, private
# ones do not, LENGTH 0 means to the end, OFFSET need not be aligned, msync, munmap.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use B ();

my $content = join '', map { chr(ord('a') + $_ % 26) } 0 .. 9999;
my $file = temp_file($content);

{
  open my $fh, '<', $file or die;
  my $address = mmap(my $var, 0, PROT_READ, MAP_SHARED, $fh);
  ok($address, 'mmap returns the address');
  like($address, qr/\A\d+\z/, '... as an integer');
  ok(B::svref_2object(\$address)->FLAGS & B::SVf_IOK(), '... an IV, not a float');
  is(length($var), 10000, 'LENGTH 0 maps to the end of the file');
  is($var, $content, 'the variable holds the file');
  is(B::svref_2object(\$var)->LEN, 0, 'Perl does not own the buffer (SvLEN 0)');
  my @tags = $var =~ /(xyz)/g;
  is(scalar @tags, 384, 'regular expressions run on it');
  is(substr($var, 26, 3), 'abc', 'substr reads at an offset');
  eval { $var = 'x' };
  like($@, qr/^Modification of a read-only value attempted at /, 'without PROT_WRITE it is read-only');
  eval { substr($var, 0, 1) = 'x' };
  like($@, qr/^Modification of a read-only value attempted/, '... substr too');
  is(munmap($var), 1, 'munmap returns 1');
  ok(!defined $var, 'munmap makes the variable undef');
  close $fh;
}

{
  open my $fh, '+<', $file or die;
  mmap(my $var, 100, PROT_READ | PROT_WRITE, MAP_SHARED, $fh, 1000);
  is(length($var), 100, 'LENGTH bytes from OFFSET');
  is($var, substr($content, 1000, 100), '... holding the file from OFFSET');
  substr($var, 10, 11) = 'Hello world';
  is(msync($var), 1, 'msync returns 1');
  is(msync($var, MS_ASYNC), 1, 'msync with MS_ASYNC');
  is(msync($var, MS_SYNC | MS_INVALIDATE), 1, 'msync with MS_SYNC|MS_INVALIDATE');
  is(substr(slurp($file), 1010, 11), 'Hello world', 'a shared write reaches the file');
  ok(munmap($var), 'munmap');
  close $fh;
}

{
  my $before = slurp($file);
  open my $fh, '<', $file or die;
  mmap(my $var, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE, $fh);
  substr($var, 0, 5) = 'XXXXX';
  is(substr($var, 0, 5), 'XXXXX', 'a private mapping is writable (even from a read-only handle)');
  is(slurp($file), $before, 'a private write does not reach the file');
  munmap($var);
}

{
  open my $fh, '<', $file or die;
  mmap(my $raw, 0, PROT_READ, MAP_SHARED, $fh);
  my $flags = B::svref_2object(\$raw)->FLAGS;
  ok(!($flags & (B::SVs_GMG() | B::SVs_SMG())), 'an mmap() variable has neither get nor set magic');
  my $address = mmap(my $none, 100, PROT_NONE, MAP_SHARED, $fh);
  ok($address, 'PROT_NONE maps');
  is($none, '', '... and exposes none of the unreadable pages');
  eval { Sys::Mmap::hardwire(my $into, $address, 10) };
  like($@, qr/not inside a live mapping/, '... nor lets hardwire() expose them');
  ok(munmap($none), '... and unmaps');
}

{
  # Handles as the original accepted them: bareword, glob, glob reference, IO::Handle.
  open(FH, '<', $file) or die;
  mmap(my $a, 10, PROT_READ, MAP_SHARED, FH);
  is($a, substr($content, 0, 10), 'bareword handle');
  mmap(my $b, 10, PROT_READ, MAP_SHARED, *FH);
  is($b, $a, 'glob');
  mmap(my $c, 10, PROT_READ, MAP_SHARED, \*FH);
  is($c, $a, 'glob reference');
  mmap(my $d, 10, PROT_READ, MAP_SHARED, *FH{IO});
  is($d, $a, 'IO object');
  mmap(my $e, 10, PROT_READ, MAP_SHARED, 'FH');
  is($e, $a, 'handle name');
  close FH;
  is($a, substr($content, 0, 10), 'a mapping outlives its handle');
  munmap($_) for $a, $b, $c, $d, $e;
}

{
  # Hash and array elements that do not exist yet reach mmap() as proxies: the element is
  # created (0.20 mapped into the proxy and the mapping was lost).
  open my $fh, '<', $file or die;
  my (%h, @a);
  mmap($h{map}, 10, PROT_READ, MAP_SHARED, $fh);
  is($h{map}, substr($content, 0, 10), 'mmap into a new hash element');
  mmap($a[2], 10, PROT_READ, MAP_SHARED, $fh);
  is($a[2], substr($content, 0, 10), 'mmap into a new array element');
  ok(munmap($h{map}) && munmap($a[2]), 'and munmap of them');
  ok(!defined $h{map} && !defined $a[2], 'undef afterwards');
}

{
  # Mapping into a variable that already holds a mapping replaces it.
  open my $fh, '<', $file or die;
  mmap(my $var, 10, PROT_READ, MAP_SHARED, $fh);
  mmap($var, 10, PROT_READ, MAP_SHARED, $fh, 26);
  is($var, substr($content, 26, 10), 'mapping again replaces the mapping');
  ok(munmap($var), 'and unmaps once');
  eval { munmap($var) };
  like($@, qr/^undef variable not unmappable/, 'a second munmap dies');
}

{
  # A raw mapped variable that goes out of scope is unmapped, quietly.
  my @warnings;
  local $SIG{__WARN__} = sub { push @warnings, @_ };
  open my $fh, '<', $file or die;
  for (1 .. 50) { mmap(my $var, 0, PROT_READ, MAP_SHARED, $fh); }
  is_deeply(\@warnings, [], 'no warnings when mapped variables go out of scope');
  my $address;
  { $address = mmap(my $scoped, 0, PROT_READ, MAP_SHARED, $fh); ok(is_mapped($address), 'mapped') }
  ok(!is_mapped($address), 'unmapped when the variable goes out of scope (0.20 leaked it)');
  $address = mmap(my $var, 0, PROT_READ, MAP_SHARED, $fh);
  munmap($var);
  ok(!is_mapped($address), 'munmap unmaps');
}

done_testing;
