# The differential test of Sys::Mmap->new() against the original: every idiom of
# t/lib/Idioms.pm (assignments of every length, .=, x=, chop, chomp, s///, tr, substr, vec,
# sprintf, read/sysread, utf8::*, lc/uc, reverse, local, aliases, references, numbers, globs,
# code, regexes, objects) runs on a new() variable under Sys::Mmap 0.20 (Debian's
# libsys-mmap-perl, loaded by its path in its own process) and under ours, each idiom in a
# forked child so that a crash is recorded, not fatal. Compared after each idiom: whether it
# died, its result, defined($v), length($v), $v and the file's bytes.
#
# The contract is 0.20's tie with one difference the POD documents: a value longer than the
# region is cut to it. A pure-Perl tie doing exactly that (Idioms::Model) must give our
# results for every idiom; 0.20 must give them too, except where it stored a value longer
# than the region (then its variable leaves the file for good, and the file keeps its old
# bytes), listed below.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Idioms;
use File::Temp ();

my $original = original_module();
plan skip_all => 'Sys::Mmap 0.20 is not installed (Debian: apt-get install libsys-mmap-perl)'
  unless $original;

cmp_ok(scalar @Idioms::LIST, '>=', 80, 'at least 80 idioms');

# Where 0.20 stored a value longer than the region (or with wide characters): its variable
# grew out of the mapping, so it shows the whole value while the file keeps the old bytes.
my %longer_than_the_region = map { $_ => 1 } (
  'assign region+1 bytes', 'assign 100 bytes', 'append', 'append to a short value',
  'repeat twice in place', 'concatenate with itself', 'prepend to itself', 'interpolate itself',
  's/// longer', 's///g growing', 's/// with a capture', 'lvalue substr longer',
  '4-arg substr longer', 'lvalue substr at the end', 'vec growing', 'read past the end',
  'utf8::encode of Latin-1', 'utf8::decode', 'assign a wide character', 'reference append',
  'global concatenation with itself', 'global append',
);

my $dir = File::Temp::tempdir("sys-mmap-differential-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
my $results = Idioms::run_modes([qw(orig model ours)], $dir);

for my $idiom (@Idioms::LIST) {
  my $name = $idiom->[0];
  my $r = $results->{$name};
  my ($ours, $orig, $model) = @$r{qw(ours orig model)};
  ok(defined $ours && $ours !~ /^(?:signal|setup)/, "$name: ours ran") or diag(Idioms::describe_result($ours));
  is($ours, $model, "$name: ours behaves as the contract says")
    or diag("ours:     " . Idioms::describe_result($ours) . "\ncontract: " . Idioms::describe_result($model));
  if ($longer_than_the_region{$name}) {
    my $o = Idioms::parse($orig);
    isnt($orig, $ours, "$name: 0.20 differs (a value longer than the region)");
    isnt($o->{value}, $o->{file}, "$name: ... because 0.20's variable left its file")
      or diag("0.20: " . Idioms::describe_result($orig));
  } else {
    is($orig, $ours, "$name: as 0.20")
      or diag("ours: " . Idioms::describe_result($ours) . "\n0.20: " . Idioms::describe_result($orig));
  }
}

# The same idioms once more in this process (so that `make valgrind` and `make asan` see our
# module run every one of them), with the same results as in the children.
{
  no warnings 'once';
  $Idioms::READ_FILE = "$dir/ours/read";
  my $different = 0;
  for my $idiom (@Idioms::LIST) {
    my ($name, $code, $o) = @$idiom;
    $o ||= {};
    # References: how many bytes an address takes differs between processes (and under
    # valgrind), and with it what follows it in the region.
    next if $o->{size};
    my $line = Idioms::run_one('ours', "$dir/in-process", $o->{scope} // 'my', $o->{size} // 16, $code);
    next if defined $results->{$name}{ours} && $line eq $results->{$name}{ours};
    $different++;
    diag("$name in this process: " . Idioms::describe_result($line));
  }
  is($different, 0, 'every idiom gives the same result in this process');
}

done_testing;
