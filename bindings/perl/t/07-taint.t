#!perl -T
# Under -T, data mapped from a file is tainted; anonymous memory is not.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use Scalar::Util qw(tainted);

ok(${^TAINT}, 'taint mode is on');
my $file = temp_file('tainted data from a file');
open my $fh, '<', $file or die;

mmap(my $var, 0, PROT_READ, MAP_SHARED, $fh);
ok(tainted($var), 'mmap of a file: tainted');
my ($word) = $var =~ /(\w+)/;
ok(!tainted($word), 'a regex capture launders it, as usual');
ok(tainted(substr($var, 0, 7)), 'substr of it is tainted');
munmap($var);

mmap(my $anon, 100, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
ok(!tainted($anon), 'anonymous memory: not tainted');

my $new_file = temp_file('x' x 20);
Sys::Mmap->new(my $mapped, 0, $new_file) or die;
ok(tainted($mapped), 'new() with a file: tainted');
$mapped = 'clean';
ok(tainted($mapped), 'still tainted after an assignment (the rest is file data)');

my $address = mmap(my $region, 0, PROT_READ, MAP_SHARED, $fh);
Sys::Mmap::hardwire(my $wired, $address, 5);
ok(tainted($wired), 'hardwired into a file mapping: tainted');

done_testing;
