# The idioms of t/lib/Idioms.pm on an mmap() variable (PROT_READ|PROT_WRITE, MAP_SHARED over
# a 16-byte file), compared with a plain scalar holding the same bytes, with File::Map, and
# with Sys::Mmap 0.20's mmap(). Each idiom runs in a forked child.
#
# The rule (POD, "mmap() variables and Perl's operations"): an mmap() variable reads and
# changes exactly like a plain scalar; an edit that keeps its length (substr with a
# replacement as long as what it replaces, vec, tr without /d, a same-length s///) is made in
# the mapped memory, so it reaches the file; anything else gives the variable storage of its
# own, as the original's documentation says, and the file keeps its bytes.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Idioms;
use File::Temp ();

my $original = original_module();
my $file_map = eval { require File::Map; 1 };
my @modes = ('raw-ours', 'raw-plain', ($original ? 'raw-orig' : ()), ($file_map ? 'raw-filemap' : ()));
diag('Sys::Mmap 0.20 not installed: not compared') unless $original;
diag('File::Map not installed: not compared') unless $file_map;

my $dir = File::Temp::tempdir("sys-mmap-raw-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
my $results = Idioms::run_modes(\@modes, $dir);
my $initial = substr($Idioms::INIT, 0, 16);

# 0.20 edited the mapped memory in place whatever the length: a shorter value left a NUL and
# moved bytes in the file, and where Perl moves the string's start (a shortening s/// or
# substr near the front) its variable lost the replacement.
my %original_edits_in_place = map { $_ => 1 } (
  'repeat zero times in place', 'chop', 'chop a list', 's/// shorter', 's///g removing',
  's/// at the end', 'tr/d', 'lvalue substr shorter', '4-arg substr shorter',
  '4-arg substr negative', 'substr lvalue in a loop', 'chop through @_', 'foreach alias tr',
  'reference s/// shorter', 'reference tr/d', 'reference chop', 'global s/// shorter',
  'global substr shorter',
);

my ($written, $kept) = (0, 0);
for my $idiom (@Idioms::LIST) {
  my $name = $idiom->[0];
  next if ($idiom->[2] // {})->{size};    # references: addresses, not bytes, to compare
  my $r = $results->{$name};
  my $ours = Idioms::parse($r->{'raw-ours'});
  my $plain = Idioms::parse($r->{'raw-plain'});
  ok(exists $ours->{file}, "$name: ran") or next;
  is_deeply([@$ours{qw(status result defined length value)}], [@$plain{qw(status result defined length value)}],
            "$name: the variable is as a plain scalar's")
    or diag("ours:  " . Idioms::describe_result($r->{'raw-ours'}) . "\nplain: " . Idioms::describe_result($r->{'raw-plain'}));
  if (($ours->{file} // '') ne $initial) {
    $written++;
    ok(defined $ours->{value} && length($ours->{value}) == 16 && $ours->{file} eq $ours->{value},
       "$name: a change of the file is the same-length edit of the variable")
      or diag(Idioms::describe_result($r->{'raw-ours'}));
  } else {
    $kept++;
  }
  if ($original) {
    if ($original_edits_in_place{$name}) {
      isnt($r->{'raw-orig'}, $r->{'raw-ours'}, "$name: 0.20 edited the file in place");
    } else {
      is($r->{'raw-orig'}, $r->{'raw-ours'}, "$name: as 0.20's mmap()")
        or diag("ours: " . Idioms::describe_result($r->{'raw-ours'}) . "\n0.20: " . Idioms::describe_result($r->{'raw-orig'}));
    }
  }
  if ($file_map && ($ours->{file} // '') ne $initial) {
    # File::Map also copies assigned values into the map (ours gives the variable its own
    # storage, as 0.20 did); edits in place it makes the same way.
    is(Idioms::parse($r->{'raw-filemap'})->{file}, $ours->{file}, "$name: the file as with File::Map");
  }
}
cmp_ok($written, '>=', 10, "$written idioms wrote the file in place");
cmp_ok($kept, '>=', 40, "$kept idioms left it alone");

done_testing;
