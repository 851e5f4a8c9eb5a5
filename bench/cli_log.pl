#!/usr/bin/env perl
# Command-line ring log benchmark (group "log"): `mmipc log cat` of a full ring log to
# /dev/null against `cat` of the same file, both real processes started the same way,
# alternately, so that noise hits both alike (bench/harness.hpp explains the output).
#
#   bench/cli_log.pl --mmipc PATH --log FILE [--reps N] [--runs N]
#
# FILE is a full ring log (bench/run makes it). Each sample is the median time of --runs
# runs (default 5) of one program; ns per op is the time of one whole run.
use strict;
use warnings;
use Getopt::Long qw(GetOptions);
use POSIX qw(_exit);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my %opt = (reps => 5, runs => 5);
GetOptions(\%opt, 'mmipc=s', 'log=s', 'reps=i', 'runs=i', 'quick', 'smoke')
  or die "usage: $0 --mmipc PATH --log FILE [--reps N] [--runs N]\n";
die "usage: $0 --mmipc PATH --log FILE [--reps N] [--runs N]\n" unless $opt{mmipc} && $opt{log};
my $size = -s $opt{log} or die "cli_log.pl: $opt{log}: empty or missing\n";
my $mib = $size / 2**20;
my $case = sprintf 'log cat of a full %d MiB ring log to /dev/null', $mib;
my $cat = -x '/bin/cat' ? '/bin/cat' : 'cat';

# Runs the command with its output on /dev/null; returns the nanoseconds it took.
sub timed {
  my @command = @_;
  my $start = clock_gettime(CLOCK_MONOTONIC);
  my $pid = fork // die "fork: $!";
  if (!$pid) {
    open STDOUT, '>', '/dev/null' or _exit(127);
    exec @command or _exit(127);
  }
  waitpid $pid, 0;
  my $ns = (clock_gettime(CLOCK_MONOTONIC) - $start) * 1e9;
  die "cli_log.pl: @command failed (status $?)\n" if $?;
  return $ns;
}

sub median {
  my @s = sort { $a <=> $b } @_;
  return @s % 2 ? $s[@s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my @contenders = (
  ['mmipc log cat', 'ours', [$opt{mmipc}, 'log', 'cat', $opt{log}]],
  ['cat of the same file', 'peer', [$cat, $opt{log}]],
);
# Warm-up: the file hot in the page cache, the programs loaded.
timed(@{$_->[2]}) for @contenders;
$| = 1;
for my $r (0 .. $opt{reps} - 1) {
  for my $k (0 .. $#contenders) {
    my ($name, $role, $command) = @{$contenders[($k + $r) % @contenders]};
    my $ns = median(map { timed(@$command) } 1 .. $opt{runs});
    printf "sample\tlog\t%s\t%s\t%s\t%.3f\t%d\n", $case, $name, $role, $ns, $size;
  }
}
