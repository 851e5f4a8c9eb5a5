#!/usr/bin/env perl
# Reduces the `sample` lines the benchmark programs printed to one table per group (median of
# the repetitions, spread, ratio to ours), checks the issue's targets, and writes
#   OUT/latest.md   the tables (also printed on stdout)
#   OUT/latest.png  a chart of the ratios (when gnuplot is installed)
#
#   bench/report.pl --samples FILE --out DIR [--title TEXT]
#
# Input lines (tab-separated):
#   sample <group> <case> <contender> <role> <ns per op> <bytes per op>
#   note   <group> <text>          printed under the group's table
use strict;
use warnings;
use Getopt::Long;
use List::Util qw(sum);

my ($samples_file, $out, $title) = ('', '', 'mmipc benchmarks');
GetOptions('samples=s' => \$samples_file, 'out=s' => \$out, 'title=s' => \$title)
  or die "usage: $0 --samples FILE --out DIR [--title TEXT]\n";
die "usage: $0 --samples FILE --out DIR\n" unless $samples_file && $out;

my %group_title = (
  tcl      => '1. Tcl `mmap` channel vs Tcl file channel vs memcpy (file hot in the page cache)',
  tcl9     => '1b. Tcl 9: `mmap` channel vs Tcl 9 file channel vs memcpy (as table 1)',
  posixipc => '2. `posixipc` (Tcl) vs raw C++ `mq_*` / memcpy, and the C++ `message_queue`',
  posixipc9 => '2b. Tcl 9: `posixipc` vs raw C++ `mq_*` / memcpy (as table 2)',
  perl     => '3. `Sys::Mmap`: ours vs Debian\'s 0.20 vs File::Map (separate perl processes)',
  cxx      => '4. C++: `mmipc::mapping`/`cursor` vs pread, std::ifstream, Boost.Interprocess; `mmipc::ring_log` vs write(2), spdlog',
  log      => '5. Command line: `mmipc log cat` of a full ring log vs `cat` of the same file',
);
# tcl9 and posixipc9: the Tcl cases under Tcl 9, when the build made the packages for it
# (bench/run); the targets below are table 1's and 2's, Tcl 8.6's.
my @group_order = qw(tcl tcl9 posixipc posixipc9 perl cxx log);

# The issue's targets: in each case matching `case`, every contender matching `fast` must be
# `op` `threshold` times faster than the contender matching `slow` (ratio = slow / fast).
# With `slow` undef, `threshold` is a time in ns that `fast` must not exceed (ratio =
# threshold / its time, met when >= 1).
# `tie` is ">= threshold" where a ratio within 3% below it counts as a tie: "no slower than"
# between contenders that run the same code path (the same Perl opcode on the same memory)
# would otherwise be decided by noise. `under` is an absolute target instead: the median time
# of every contender matching `fast` must be below `threshold` nanoseconds (`slow` unused).
#   [group, case, fast, slow, op, threshold, what the target says]
my $mmap = qr/^mmap/;
my @targets = (
  ['tcl', qr/^read whole file/, $mmap, qr/^file channel/, '>=', 2.0,
   'read of the whole file: >= 2x faster than the file channel'],
  ['tcl', qr/^read whole file/, $mmap, qr/memcpy into a new buffer/, '>=', 1 / 1.5,
   'read of the whole file: within 1.5x of memcpy into a new buffer'],
  ['tcl', qr/^read whole file/, $mmap, qr/memcpy into a new pre-faulted buffer/, '>=', 1 / 1.5,
   'read of the whole file: within 1.5x of memcpy into a new pre-faulted buffer'],
  ['tcl', qr/^read whole file/, $mmap, qr/memcpy into a reused buffer/, '>=', 1 / 1.5,
   'read of the whole file: within 1.5x of memcpy into a reused buffer'],
  ['tcl', qr/^gets loop/, $mmap, qr/^file channel/, '>=', 1.5,
   'gets loop: >= 1.5x faster than the file channel'],
  ['tcl', qr/^random 64 B seek\+read/, $mmap, qr/^file channel/, '>=', 3.0,
   'random 64 B seek+read: >= 3x faster than the file channel'],
  ['tcl', qr/^64 B puts -nonewline/, $mmap, qr/^file channel/, '>', 1.0,
   '64 B puts through a -shared mapping: faster than the file channel'],
  ['tcl', qr/^64 B line puts -buffering line/, qr/^mmap::log/, qr/^file channel/, '>=', 2.0,
   'Tcl puts of a 64 B line to a log channel: >= 2x faster than a file channel with -buffering line'],
  ['posixipc', qr/^mq send\/receive round trip, 64 B/, qr/^Tcl/, qr/^raw/, '>=', 1 / 1.3,
   'Tcl mq send/receive, 64 B round trip: at most 1.3x raw mq_*'],
  ['posixipc', qr/^channel puts\/gets round trip, 64 B/, qr/^Tcl/, qr/^raw/, '>=', 1 / 1.3,
   'Tcl channel puts/gets, 64 B round trip: at most 1.3x raw mq_* (not required; for reference)'],
  ['posixipc', qr/^C\+\+ message_queue round trip/, qr/^mmipc/, qr/^raw/, '>=', 1 / 1.05,
   'C++ message_queue: within 5% of raw mq_*'],
  ['posixipc', qr/^C\+\+ shared_memory 4 KiB write_at \+ read_at/, qr/^mmipc/, qr/^raw/, '>=', 1 / 2,
   'C++ shared_memory 4 KiB write_at+read_at: at most 2x raw sem_wait/memcpy/sem_post'],
  ['posixipc', qr/^shm 4 KiB write \+ read back/, qr/^Tcl shm/, qr/^Tcl mmap channel/, '>=', 1 / 1.5,
   'Tcl shm channel 4 KiB write+read: at most 1.5x a Tcl mmap channel over /dev/zero'],
  ['posixipc', qr/^next lock after its holder is killed/, qr/^mmipc/, undef, 'under', 10e6,
   'next shm lock after its holder is killed: under 10 ms'],
  ['perl', qr/^random 64 B substr, raw mmap/, qr/\(ours\)/, qr/0\.20/, 'tie', 1.0,
   'raw mmap variable substr: no slower than 0.20'],
  ['perl', qr/^random 64 B substr, new\(\)/, qr/\(ours\)/, qr/0\.20/, '>=', 100.0,
   'new() variable substr: >= 100x faster than 0.20 (tied)'],
  ['perl', qr/^random 64 B substr write, new\(\)/, qr/\(ours\)/, qr/0\.20/, '>', 1.0,
   'new() variable 64 B in-place write: faster than 0.20 (tied)'],
  ['perl', qr/^shortening s\/\/\//, qr/\(ours\)/, qr/0\.20/, '>', 1.0,
   'new() variable shortening s///: faster than 0.20 (tied)'],
  ['perl', qr/^map\+unmap/, qr/\(ours\)/, qr/File::Map/, 'tie', 1.0,
   'map+unmap 1 MiB: no slower than File::Map'],
  ['cxx', qr/^ring log append of a 64 B record/, qr/^mmipc ring_log, 1 writer$/, undef, '>=', 100,
   'ring log append of a 64 B record, one writer: at least 10 million records/s (100 ns each)'],
  ['cxx', qr/^ring log append of a 64 B record/, qr/^mmipc ring_log, 1 writer$/,
   qr/^write\(2\) of each line, O_APPEND file$/, '>=', 5.0,
   'ring log append, one writer: >= 5x faster than write(2) of each line to an O_APPEND file'],
  ['cxx', qr/^ring log append of a 64 B record/, qr/^mmipc ring_log, 1 writer$/, qr/^spdlog/, '>', 1.0,
   'ring log append, one writer: faster than spdlog\'s file sink flushing each line'],
  ['cxx', qr/^ring log append of a 64 B record/, qr/^mmipc ring_log, 4 writer processes$/,
   qr/^mmipc ring_log, 1 writer$/, '>=', 0.5,
   'ring log append, four writer processes at once: aggregate >= half of one writer\'s'],
  ['log', qr/^log cat of a full/, qr/^mmipc log cat$/, qr/^cat of the same file$/, '>=', 1 / 4,
   'reading a full 64 MiB ring log from the command line (mmipc log cat to /dev/null): within 4x of cat of the same file'],
);

my (%samples, %role, %bytes, @cases, %seen_case, %contenders, %notes);
open my $in, '<', $samples_file or die "cannot read $samples_file: $!\n";
while (my $line = <$in>) {
  chomp $line;
  my @f = split /\t/, $line;
  next unless @f;
  if ($f[0] eq 'sample' && @f == 7) {
    my (undef, $group, $case, $who, $role, $ns, $bytes) = @f;
    push @cases, [$group, $case] unless $seen_case{"$group\t$case"}++;
    push @{$contenders{"$group\t$case"}}, $who unless grep { $_ eq $who } @{$contenders{"$group\t$case"} || []};
    push @{$samples{"$group\t$case\t$who"}}, $ns;
    $role{"$group\t$case\t$who"} = $role;
    $bytes{"$group\t$case\t$who"} = $bytes;
  } elsif ($f[0] eq 'note' && @f >= 3) {
    push @{$notes{$f[1]}}, $f[2] unless grep { $_ eq $f[2] } @{$notes{$f[1]} || []};
  }
}
close $in;

sub median {
  my @s = sort { $a <=> $b } @_;
  my $n = @s;
  return $n % 2 ? $s[$n / 2] : ($s[$n / 2 - 1] + $s[$n / 2]) / 2;
}
sub fmt_time {
  my $ns = shift;
  return sprintf('%.1f ns', $ns) if $ns < 1e3;
  return sprintf('%.2f µs', $ns / 1e3) if $ns < 1e6;
  return sprintf('%.2f ms', $ns / 1e6) if $ns < 1e9;
  return sprintf('%.2f s', $ns / 1e9);
}
sub fmt_rate {
  my ($bytes, $ns) = @_;
  return '' unless $bytes > 0 && $ns > 0;
  my $bps = $bytes / ($ns / 1e9);
  return sprintf('%.2f GiB/s', $bps / 2**30) if $bps >= 2**30;
  return sprintf('%.1f MiB/s', $bps / 2**20);
}

my (%median, %ratio, @chart);
my $md = "# $title\n\n";
$md .= 'Run ' . gmtime() . " UTC on " . `uname -n | tr -d '\n'` . ', ' . `nproc | tr -d '\n'` .
  " cores. Each value is the median of the repetitions; all contenders of a case ran in the same" .
  " process or alternately, interleaved. *time / ours* > 1 means ours is faster. *spread* is" .
  " (max - min) / median over the repetitions.\n";
my %known = map { $_ => 1 } @group_order;
my %extra = map { $_->[0] => 1 } grep { !$known{$_->[0]} } @cases;
for my $group (@group_order, sort keys %extra) {
  my @gcases = grep { $_->[0] eq $group } @cases;
  next unless @gcases || $notes{$group};
  $md .= "\n## " . ($group_title{$group} // $group) . "\n\n";
  if (@gcases) {
    $md .= "| case | contender | role | time/op | throughput | time / ours | spread | reps |\n";
    $md .= "|---|---|---|---:|---:|---:|---:|---:|\n";
  }
  my %done;
  for my $c (@gcases) {
    my $case = $c->[1];
    next if $done{$case}++;
    my @who = @{$contenders{"$group\t$case"}};
    my ($ours) = grep { $role{"$group\t$case\t$_"} eq 'ours' } @who;
    my $ours_ns = defined $ours ? median(@{$samples{"$group\t$case\t$ours"}}) : undef;
    # ours first, then peers, then limits
    my %rank = (ours => 0, 'ours-alt' => 1, peer => 2, limit => 3);
    for my $who (sort { $rank{$role{"$group\t$case\t$a"}} <=> $rank{$role{"$group\t$case\t$b"}} } @who) {
      my $key = "$group\t$case\t$who";
      my @s = @{$samples{$key}};
      my $m = median(@s);
      my @sorted = sort { $a <=> $b } @s;
      my $spread = $m > 0 ? ($sorted[-1] - $sorted[0]) / $m : 0;
      $median{$key} = $m;
      my $r = defined $ours_ns && $ours_ns > 0 ? $m / $ours_ns : undef;
      $ratio{$key} = $r;
      push @chart, [$group, $case, $who, $r] if defined $r && $role{$key} ne 'ours';
      $md .= sprintf "| %s | %s | %s | %s | %s | %s | %.0f%% | %d |\n", $case,
        ($role{$key} =~ /^ours/ ? "**$who**" : $who), $role{$key}, fmt_time($m),
        fmt_rate($bytes{$key}, $m), defined $r ? sprintf('%.2f', $r) : 'n/a', 100 * $spread,
        scalar @s;
    }
  }
  if ($notes{$group}) { $md .= "\n" . join('', map { "- $_\n" } @{$notes{$group}}) }
}

# Targets
my @rows;
for my $t (@targets) {
  my ($group, $case_re, $fast_re, $slow_re, $op, $threshold, $text) = @$t;
  next unless grep { $_->[0] eq $group } @cases;
  my $found = 0;
  my %done;
  for my $c (grep { $_->[0] eq $group && $_->[1] =~ $case_re } @cases) {
    my $case = $c->[1];
    next if $done{$case}++;
    my @who = @{$contenders{"$group\t$case"}};
    if ($op eq 'under') {
      for my $fast (grep { $_ =~ $fast_re } @who) {
        my $m = $median{"$group\t$case\t$fast"};
        push @rows, sprintf "| %s | %s: %s | %s | %s |\n", $text, $case, $fast, fmt_time($m),
          $m < $threshold ? 'met' : '**missed**';
        $found++;
      }
      next;
    }
    for my $fast (grep { $_ =~ $fast_re } @who) {
      if (!defined $slow_re) {
        # An absolute target: at most `threshold` ns per operation.
        my $ns = $median{"$group\t$case\t$fast"};
        my $r = $threshold / $ns;
        push @rows, sprintf "| %s | %s: %s vs %s | %.2f | %s |\n", $text, $case, $fast,
          fmt_time($threshold), $r, $r >= 1 ? 'met' : '**missed**';
        $found++;
        next;
      }
      for my $slow (grep { $_ =~ $slow_re } @who) {
        my $r = $median{"$group\t$case\t$slow"} / $median{"$group\t$case\t$fast"};
        my $ok = $op eq '>' ? $r > $threshold : $r >= $threshold;
        my $tie = !$ok && $op eq 'tie' && $r >= 0.97 * $threshold;
        push @rows, sprintf "| %s | %s: %s vs %s | %.2f | %s |\n", $text, $case, $fast, $slow, $r,
          $ok ? 'met' : $tie ? 'met (a tie, within 3%)' : '**missed**';
        $found++;
      }
    }
  }
  push @rows, "| $text | | | not measured |\n" unless $found;
}
if (@rows) {
  $md .= "\n## Targets\n\nRatio = the slower contender's time / the faster one's (the threshold" .
    " is in the target's text); for an absolute target, the median time itself.\n\n| target | case: contenders | ratio | result |\n|---|---|---:|---|\n" .
    join('', @rows);
}

system('mkdir', '-p', $out) == 0 or die "cannot create $out\n";
open my $o, '>', "$out/latest.md" or die "cannot write $out/latest.md: $!\n";
print $o $md;
close $o;
print $md;

# Chart: one bar per (case, contender), height = its time / ours, log scale; 1 = as fast as ours.
if (@chart && system('sh', '-c', 'command -v gnuplot >/dev/null') == 0) {
  my $dat = "$out/latest.dat";
  open my $d, '>', $dat or die "cannot write $dat: $!\n";
  my $i = 0;
  my @tics;
  my %colour = (tcl => 1, tcl9 => 1, posixipc => 2, posixipc9 => 2, perl => 3, cxx => 4);
  for my $c (@chart) {
    my ($group, $case, $who, $r) = @$c;
    (my $label = ($group =~ /9$/ ? 'Tcl 9, ' : '') . "$case: $who") =~ s/"/'/g;
    $label = substr($label, 0, 90);
    printf $d "%d\t%g\t%d\n", $i, $r, $colour{$group} // 5;
    push @tics, sprintf('"%s" %d', $label, $i);
    $i++;
  }
  close $d;
  my $height = 200 + 22 * @chart;
  open my $gp, '|-', 'gnuplot' or die "cannot run gnuplot: $!\n";
  print $gp <<"GP";
set terminal pngcairo size 1400,$height font "sans,10" noenhanced
set output "$out/latest.png"
set title "$title: time of each alternative / time of ours (log scale; > 1 means ours is faster)"
set logscale x 2
set xrange [*:*]
set yrange [$i:-1]
set ytics (@{[join(', ', @tics)]}) font "sans,8"
set grid x
set key outside top center horizontal
set style fill solid 0.8
set palette defined (1 "#1f77b4", 2 "#ff7f0e", 3 "#2ca02c", 4 "#d62728", 5 "#7f7f7f")
set cbrange [1:5]
unset colorbox
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "black"
plot "$dat" using (sqrt(\$2)):1:(sqrt(\$2) < 1 ? \$2 : 1):(\$2 > 1 ? \$2 : 1):(\$1-0.35):(\$1+0.35):3 with boxxyerror lc palette notitle, \\
     NaN with boxes lc rgb "#1f77b4" title "1. Tcl mmap (1b: Tcl 9)", \\
     NaN with boxes lc rgb "#ff7f0e" title "2. posixipc (2b: Tcl 9)", \\
     NaN with boxes lc rgb "#2ca02c" title "3. Sys::Mmap", \\
     NaN with boxes lc rgb "#d62728" title "4. C++"
GP
  close $gp or warn "gnuplot failed\n";
  unlink $dat;
}
