# Sys::Mmap->new(): tied() gives its object (with no FETCH copy); the file is created and grown; assignment writes over the start
# of the region and leaves the rest; longer values are cut; substr works at offsets; scope
# exit unmaps without a warning; the original's usage and open warnings.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use B ();
use File::Temp ();

my @warnings;
$SIG{__WARN__} = sub { push @warnings, @_ };

my $dir = File::Temp->newdir;
my $file = "$dir/created";

{
  my $object = Sys::Mmap->new(my $var, 16, $file);
  ok($object, 'new returns a true object');
  isa_ok($object, 'Sys::Mmap');
  ok(-e $file, 'the file is created');
  is(-s $file, 16, '... and grown to LENGTH');
  is($var, "\0" x 16, '... with zero bytes');
  ok(tied($var), 'the variable is tied, as with 0.20');
  is(tied($var), $object, '... and tied() returns the object new() returned');
  is(B::svref_2object(\$var)->LEN, 0, 'the variable is the mapped memory (SvLEN 0)');
  my $flags = B::svref_2object(\$var)->FLAGS;
  ok(!($flags & B::SVs_GMG()), 'no get magic: reads cost what they cost on a raw mmap variable');
  ok($flags & B::SVs_SMG(), 'set magic: assignments write into the region');

  $var = 'abc';
  is($var, "abc" . "\0" x 13, 'assignment writes over the start and leaves the rest');
  is(length($var), 16, 'reading gives the whole region');
  is(slurp($file), "abc" . "\0" x 13, 'the write reached the file');
  substr($var, 5, 3) = 'XYZ';
  is(substr($var, 0, 8), "abc\0\0XYZ", 'substr writes at an offset');
  is(substr($var, 5, 3), 'XYZ', 'substr reads at an offset');
  $var = '0123456789abcdefOVERFLOW';
  is($var, '0123456789abcdef', 'a value longer than the region is cut');
  is(slurp($file), '0123456789abcdef', '... and the file keeps its size');
  $var = 42;
  is($var, '4223456789abcdef', 'numbers are written as their string');
  my $other = 'shared copy';
  my $copy = $other;
  $var = $copy;
  is($var, 'shared copybcdef', 'copy-on-write strings are copied in');
  is($other, 'shared copy', '... leaving the source alone');
  $var .= 'more';
  is($var, 'shared copybcdef', 'appending cannot grow the region');
  $var = "caf\x{e9}";
  is(substr($var, 0, 4), "caf\x{e9}", 'a character string is stored as bytes');
}
is(slurp($file), "caf\xe9ed copybcdef", 'the file has the last contents');
is_deeply(\@warnings, [], 'no warnings at scope exit (the original warned "munmap failed")');

{
  # An existing, longer file: LENGTH 0 maps all of it; a shorter LENGTH maps only that.
  open my $fh, '>', $file or die;
  print {$fh} 'z' x 100;
  close $fh;
  Sys::Mmap->new(my $all, 0, $file) or die;
  is(length($all), 100, 'LENGTH 0 maps the whole file');
  Sys::Mmap->new(my $part, 10, $file) or die;
  is(length($part), 10, 'LENGTH maps that much');
  is(-s $file, 100, 'and does not shrink the file');
  $part = 'A';
  is(substr($all, 0, 2), 'Az', 'two mappings of one file see each other');
  Sys::Mmap->new(my $grown, 200, $file) or die;
  is(-s $file, 200, 'a longer LENGTH grows the file');
  is(substr($grown, 100), "\0" x 100, '... with zero bytes');
}

{
  # `local` gives a global mapped variable an ordinary value for the scope and restores it.
  our $global;
  Sys::Mmap->new($global, 8) or die;
  $global = 'global';
  {
    local $global = 'localised value';
    is($global, 'localise', 'local: as with 0.20, the assignment writes into the region (cut)');
  }
  is($global, "global\0\0", 'the old value is written back when the scope ends');
  $global = 'again';
  is($global, "againl\0\0", '... and still writes into the region');

  my $object = {};
  Sys::Mmap->new($object->{buffer}, 4) or die;
  $object->{buffer} = 'ab';
  is($object->{buffer}, "ab\0\0", 'new() into a hash element that did not exist');
}

{
  # Many new() variables going out of scope, one after another.
  for (1 .. 100) {
    Sys::Mmap->new(my $tmp, 4096) or die;
    $tmp = "round $_";
  }
  is_deeply(\@warnings, [], 'no warnings after 100 scopes');
}

{
  @warnings = ();
  my $result = Sys::Mmap->new(my $var);
  ok(!defined $result, 'fewer than two arguments returns undef');
  is(scalar @warnings, 1, '... with one warning');
  my $usage = 'Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );';
  like($warnings[0], qr/^\Q$usage\E at /, '... the usage');
  @warnings = ();
  $result = Sys::Mmap->new(my $other, 10, "$dir/no/such/dir/file");
  ok(!defined $result, 'a file that cannot be opened returns undef');
  like($warnings[0] // '', qr{^mmap: could not open file '\Q$dir\E/no/such/dir/file' for append r/w at },
       '... with the warning');
  @warnings = ();
}

{
  # The original's tie interface still works for scripts that tie directly.
  tie my $tied, 'Sys::Mmap', 8, "$dir/tied" or die;
  $tied = 'tie';
  is($tied, "tie\0\0\0\0\0", 'tie $var, "Sys::Mmap", LENGTH, FILE still works');
  untie $tied;
  is(slurp("$dir/tied"), "tie\0\0\0\0\0", '... and writes the file');
}
is_deeply(\@warnings, [], 'no warnings at all');

done_testing;
