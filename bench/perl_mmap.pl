#!/usr/bin/env perl
# Group "perl": one contender per process, so our Sys::Mmap and Debian's 0.20 never meet in one
# interpreter. bench/run starts the three alternately, once per repetition.
#
#   perl perl_mmap.pl --module ours|orig|filemap [--orig PATH/Sys/Mmap.pm] [--dir DIR]
#                     [--reps N] [--quick | --smoke]
#
# ours:    Sys::Mmap from PERL5LIB (the build's blib); refuses to run if that is Debian's.
# orig:    Debian's libsys-mmap-perl 0.20, loaded explicitly from --orig.
# filemap: File::Map.
# Prints `sample` lines (see bench/harness.hpp).
use strict;
use warnings;
use Getopt::Long;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use Fcntl qw(O_RDONLY);

my ($module, $orig, $dir, $reps, $quick, $smoke) = ('', '', $ENV{TMPDIR} || '/tmp', 1, 0, 0);
GetOptions('module=s' => \$module, 'orig=s' => \$orig, 'dir=s' => \$dir, 'reps=i' => \$reps,
           'quick' => \$quick, 'smoke' => \$smoke)
  or die "usage: $0 --module ours|orig|filemap [--orig PATH] [--dir DIR] [--reps N] [--quick|--smoke]\n";

my %name = (ours => 'Sys::Mmap (ours)', orig => 'Sys::Mmap 0.20', filemap => 'File::Map');
my %role = (ours => 'ours', orig => 'peer', filemap => 'peer');
die "--module must be ours, orig or filemap\n" unless $name{$module};

if ($module eq 'ours') {
  require Sys::Mmap;
  Sys::Mmap->import;
  die "loaded $INC{'Sys/Mmap.pm'}, which is Debian's, not ours (set PERL5LIB to the build's blib)\n"
    if $INC{'Sys/Mmap.pm'} =~ m{^/usr/};
} elsif ($module eq 'orig') {
  die "--orig PATH/Sys/Mmap.pm is needed\n" unless $orig && -f $orig;
  die "PERL5LIB must not point at our build when measuring the original\n"
    if grep { m{/blib/} } @INC;
  require $orig;
  $INC{'Sys/Mmap.pm'} = $orig;
  # 0.20 warns "munmap failed" whenever a mapped variable is destroyed (a bug the seed lists).
  $SIG{__WARN__} = sub { warn @_ unless $_[0] =~ /munmap failed/ };
  Sys::Mmap->import;
} else {
  require File::Map;
  File::Map->import(qw(map_file map_handle unmap));
}

my $region = 1024 * 1024;
my $ops = $smoke ? 1000 : $quick ? 100_000 : 1_000_000;
# The original's tied variable copies the whole region on every access (about 1 MiB per
# substr): a million of them would take minutes, so it does fewer. Times are per operation.
my $tied_ops = $smoke ? 20 : $quick ? 500 : 2000;
my $map_ops = $smoke ? 20 : $quick ? 2000 : 10_000;

my $path = "$dir/mmipc-bench-perl-$$";
{
  open my $fh, '>', $path or die "cannot create $path: $!\n";
  print $fh join('', map { sprintf("%0255d\n", $_) } 0 .. $region / 256 - 1);
  close $fh;
}
END { unlink $path if defined $path }

srand(42);
my @offsets = map { int(rand($region - 64)) } 1 .. $ops;

sub now { clock_gettime(CLOCK_MONOTONIC) }
sub sample {
  my ($case, $ops, $bytes, $code) = @_;
  $code->();    # warm-up
  for (1 .. $reps) {
    my $t0 = now();
    $code->();
    my $t1 = now();
    printf "sample\tperl\t%s\t%s\t%s\t%.3f\t%d\n", $case, $name{$module}, $role{$module},
      ($t1 - $t0) * 1e9 / $ops, $bytes;
  }
}

sub substr_loop {
  my ($ref, $n) = @_;
  my $x;
  $x = substr($$ref, $offsets[$_], 64) for 0 .. $n - 1;
  return $x;
}
sub substr_loop_var {
  # The same loop on a named (possibly tied or magical) variable, not through a reference, as
  # a user writes it.
  our $var;
  my $n = shift;
  my $x;
  $x = substr($var, $offsets[$_], 64) for 0 .. $n - 1;
  return $x;
}

# 1. random substr reads on a raw mapping
{
  my $buf;
  open my $fh, '<', $path or die "cannot open $path: $!\n";
  if ($module eq 'filemap') {
    File::Map::map_handle($buf, $fh, '<');
  } else {
    Sys::Mmap::mmap($buf, $region, Sys::Mmap::PROT_READ(), Sys::Mmap::MAP_SHARED(), $fh);
  }
  sample('random 64 B substr, raw mmap variable, 1 MiB', $ops, 64, sub { substr_loop(\$buf, $ops) });
  if ($module eq 'filemap') { File::Map::unmap($buf) } else { Sys::Mmap::munmap($buf) }
  close $fh;
}

# 2. the same through a variable made by Sys::Mmap->new (File::Map has no new(): its
# map_file variable is shown again for reference)
{
  our $var;
  my $n = $module eq 'orig' ? $tied_ops : $ops;
  if ($module eq 'filemap') {
    File::Map::map_file($var, $path, '+<');
  } else {
    Sys::Mmap->new($var, $region, $path) or die "Sys::Mmap->new failed\n";
  }
  sample('random 64 B substr, new() variable, 1 MiB', $n, 64, sub { substr_loop_var($n) });
  if ($module eq 'filemap') { File::Map::unmap($var) }
  elsif ($module eq 'orig') { untie $var }
  else { undef $var }
}

# 2b. writes through a new() variable: a 64-byte in-place substr write, and a shortening
# s/// (0.20's tie copies the region on every access; ours writes in place, and for the
# s/// copies the region once, as Perl edits all of it). File::Map has no new(): its
# map_file variable takes the in-place write only (a shortening s/// on it edits the map
# in place, which is not the same operation).
{
  our $var;
  my $n = $module eq 'orig' ? $tied_ops : $ops;
  my $subst_ops = $module eq 'orig' ? $tied_ops : ($smoke ? 20 : $quick ? 500 : 2000);
  if ($module eq 'filemap') {
    File::Map::map_file($var, $path, '+<');
  } else {
    Sys::Mmap->new($var, $region, $path) or die "Sys::Mmap->new failed\n";
  }
  my $data = 'w' x 64;
  sample('random 64 B substr write, new() variable, 1 MiB', $n, 64, sub {
    substr($var, $offsets[$_], 64) = $data for 0 .. $n - 1;
  });
  if ($module ne 'filemap') {
    sample('shortening s/// (4 bytes to 1), new() variable, 1 MiB', $subst_ops, 0, sub {
      $var =~ s/0000/Z/ for 1 .. $subst_ops;
    });
  }
  if ($module eq 'filemap') { File::Map::unmap($var) }
  elsif ($module eq 'orig') { untie $var }
  else { undef $var }
}

# 3. map + unmap of a 1 MiB file (opening it included)
sample('map+unmap of a 1 MiB file', $map_ops, 0, sub {
  if ($module eq 'filemap') {
    for (1 .. $map_ops) {
      File::Map::map_file(my $m, $path, '<');
      File::Map::unmap($m);
    }
  } else {
    for (1 .. $map_ops) {
      open my $fh, '<', $path or die "cannot open $path: $!\n";
      my $m;
      Sys::Mmap::mmap($m, 0, Sys::Mmap::PROT_READ(), Sys::Mmap::MAP_SHARED(), $fh);
      close $fh;
      Sys::Mmap::munmap($m);
    }
  }
});
