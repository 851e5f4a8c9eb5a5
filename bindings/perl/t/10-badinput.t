# Bad input: mmap, munmap, msync, hardwire and new called thousands of times with random
# arguments (undef, references, globs, closed and in-memory handles, strings, huge, negative,
# infinite and NaN numbers, read-only values, elements of hashes and arrays, mapped variables
# of every kind), plus random uses of the mapped variables. Every call must return or die
# with a message; none may crash, hang or leave a descriptor or a mapping behind.
#
# The calls run in a forked child that reports each call on a pipe before making it, so a
# crash (a signal, a sanitizer report) or a hang fails the test and names the call and seed.
#
#   MMIPC_FUZZ_SEED   the seed (default: from the clock; printed for replay)
#   MMIPC_FUZZ_CALLS  calls (default 5000; 100000 when MMIPC_STRESS is set)
#   MMIPC_FUZZ_HANG   seconds one call may take before it counts as hung (default 60)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use IO::Select;
use File::Temp ();
use POSIX ();

my $stress = ($ENV{MMIPC_STRESS} // '') !~ /\A0?\z/;
my $calls = $ENV{MMIPC_FUZZ_CALLS} || ($stress ? 100000 : 5000);
my $hang = $ENV{MMIPC_FUZZ_HANG} || 60;

# Mappings of what the calls can map: the test's files, /dev/zero and anonymous shared
# memory (shown as "/dev/zero (deleted)"). Private anonymous memory cannot be told from the
# allocators' own, so it is counted only in the total.
sub our_mappings {
  my ($dir) = @_;
  open my $maps, '<', '/proc/self/maps' or die "/proc/self/maps: $!";
  my @ours = grep { m{\Q$dir\E/|/dev/zero} } <$maps>;
  return @ours;
}

sub map_count {
  open my $maps, '<', '/proc/self/maps' or die "/proc/self/maps: $!";
  my @lines = <$maps>;
  return scalar @lines;
}

# ---- the child: the calls ----------------------------------------------------------------

sub fuzz {
  my ($seed, $calls, $dir, $report) = @_;
  srand($seed);
  my $failures = 0;
  my %stats;
  my $fail = sub { $failures++; print {$report} "FAIL $_[0]\n" };
  my $rnd = sub { int(rand($_[0])) };
  my $pick = sub { $_[$rnd->(scalar @_)] };
  my $chance = sub { rand() < $_[0] };

  my $start_fds = fd_count();
  my $start_maps = map_count();

  # Files, their handles (read, read-write, write, append, closed, in-memory, a pipe).
  my @paths;
  my $file = sub {
    my ($size) = @_;
    my $path = "$dir/f" . scalar(@paths);
    open my $fh, '>:raw', $path or die "$path: $!";
    print {$fh} 'x' x $size;
    close $fh;
    push @paths, $path;
    return $path;
  };
  my @handles;
  my $refill = sub {
    for my $size (4096, 1, 10000, 0, 8192) {
      my $path = $file->($size);
      for my $mode ('<', '+<', '>>', '+>>') {
        open my $fh, $mode, $path or die "$path: $!";
        push @handles, $fh;
      }
    }
    open my $closed, '<', $paths[0] or die;
    close $closed;
    push @handles, $closed;
    my $text = "in memory";
    open my $mem, '<', \$text or die;
    push @handles, $mem;
    pipe(my $r, my $w) or die "pipe: $!";
    push @handles, $r, $w;
    open my $zero, '+<', '/dev/zero' or die "/dev/zero: $!";
    push @handles, $zero;
  };
  $refill->();

  my @numbers = (0, 1, 2, 7, -1, -2, -100, 4095, 4096, 4097, 8192, 65536, 2**31 - 1, 2**31,
    2**32, 2**47, 2**48, 2**62, 2**63, 2**64, 2**64 + 1, -2**63, 18446744073709551615,
    9223372036854775807, 1e300, -1e300, 9**9**9, -9**9**9, -sin(9**9**9), 0.5, 1.5, -0.5,
    '', 'abc', '0 but true', '1e3', '0x10', ' 7 ', '7abc', "4096\n", '-0', 'inf', 'nan',
    'Inf', '00', undef);
  # A length that could map GiBs that a later copy of the variable would read whole: only
  # values that fail, or small ones.
  my $bounded = sub {
    my ($n) = @_;
    no warnings;
    return $n
      unless defined $n && $n =~ /\A\s*[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*\z/ && $n > 65536 && $n < 2**48;
    return $pick->(4096, 100, 65536);
  };
  my @prots = (PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE, PROT_NONE, PROT_EXEC,
    PROT_READ | PROT_EXEC, 8, -1, 255, 2**40);
  my @flags = (MAP_SHARED, MAP_PRIVATE, MAP_SHARED | MAP_ANON, MAP_PRIVATE | MAP_ANON,
    MAP_SHARED | MAP_PRIVATE, 0, MAP_ANON, MAP_SHARED | MAP_POPULATE, MAP_PRIVATE | MAP_NORESERVE,
    MAP_SHARED | MAP_LOCKED, MAP_SHARED | MAP_HUGETLB, MAP_PRIVATE | MAP_HUGETLB | MAP_HUGE_2MB,
    MAP_SHARED | MAP_HUGE_1GB, MAP_SHARED | 0x100000, -1, 2**40, MAP_FILE);
  my @sync_flags = (MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_ASYNC, MS_SYNC | MS_INVALIDATE,
    0, -1, 8, 'abc', undef, 2**40);

  # Variables: fresh ones, mapped ones (of every kind), and other things.
  my @mapped;        # references to variables that hold (or held) a mapping
  my @addresses;     # what mmap returned
  my %hash;
  my @array;
  my $substr_of = 'abcdef';
  # Magical variables ($/ and friends are left alone: they change how this script reads).
  my @magic = (\$!, \$0, \substr($substr_of, 1, 2), \$#array, \pos($substr_of),
    \vec($substr_of, 0, 8));
  my $name = $0;
  tie my $tied, 'Tied';
  push @magic, \$tied;
  my $var = sub {
    my $k = $rnd->(13);
    return $pick->(@magic) if $k == 12;
    return \my $fresh if $k < 3;
    return $pick->(@mapped) if $k < 7 && @mapped;
    return \$hash{ $pick->('a', 'b', 'c') } if $k == 7;
    return \$array[ $rnd->(4) ] if $k == 8;
    return \"read-only" if $k == 9;
    my $v = $pick->(\1, [], {}, sub { 1 }, \*STDOUT, 'string', 42, 1.5);
    return \$v;
  };
  my $handle = sub {
    my $k = $rnd->(10);
    return $pick->(@handles) if $k < 6;
    return $pick->(undef, 'STDOUT', 'STDIN', 'NoSuchHandle', *STDOUT, \*STDIN, \*{"main::NOSUCH"},
      [], {}, \"x", 3, -1, '', sub { 1 }, *STDOUT{IO});
  };
  my $path = sub {
    return $pick->(@paths) if $chance->(0.6);
    return $pick->(undef, '', "$dir/new" . $rnd->(3), "$dir/no/such/dir/x", $dir, '/dev/null',
      "$dir/f0\0x", 0);
  };

  # One random call; returns its name and a closure.
  my @ops = (
    [ mmap => 8, sub {
        my $v = $var->();
        my @rest = ($bounded->($pick->(@numbers)), $pick->(@prots), $pick->(@flags),
          $handle->());
        push @rest, $pick->(@numbers) if $chance->(0.4);
        # Half the time, arguments that mostly work, so mapped variables get exercised.
        @rest = ($pick->(0, 0, 1, 100, 4096), $pick->(PROT_READ, PROT_READ | PROT_WRITE),
          $pick->(MAP_SHARED, MAP_PRIVATE, MAP_SHARED | MAP_ANON, MAP_PRIVATE | MAP_ANON),
          $pick->(@handles), $pick->(0, 0, 1, 4095, 4096)) if $chance->(0.5);
        push @rest, 'extra' if $chance->(0.03);
        # A wrong number of arguments (bypassing the prototype with &).
        return &Sys::Mmap::mmap(@rest[0 .. $rnd->(scalar @rest) - 1]) if $chance->(0.05);
        my $address = &Sys::Mmap::mmap($$v, @rest);    # $$v itself, aliased
        push @mapped, $v;
        push @addresses, [$address, length($$v // '')];
        return $address;
      } ],
    [ mmap_var => 4, sub {
        # The usual way: the variable itself (aliased) rather than a copy.
        my $v = $var->();
        my $address = mmap($$v, $bounded->($pick->(@numbers)), $pick->(@prots), $pick->(@flags),
          $handle->(), $chance->(0.5) ? $pick->(@numbers) : 0);
        push @mapped, $v;
        push @addresses, [$address, length($$v // '')];
        return $address;
      } ],
    [ munmap => 4, sub { my $v = $var->(); munmap($$v) } ],
    [ munmap_args => 1, sub { &Sys::Mmap::munmap(map { $pick->(@numbers) } 0 .. $rnd->(3)) } ],
    [ msync => 3, sub {
        my $v = $var->();
        $chance->(0.3) ? msync($$v) : msync($$v, $pick->(@sync_flags));
      } ],
    [ hardwire => 4, sub {
        my $v = $var->();
        my ($address, $length) = @addresses && $chance->(0.7) ? @{ $pick->(@addresses) }
                                                               : ($pick->(@numbers), 0);
        { no warnings; $address += $pick->(0, 0, 1, -1, 4096, 2**40) if $chance->(0.3) && defined $address && $address =~ /^\d+$/; }
        $length = $chance->(0.5) ? $pick->(@numbers) : $length;
        my $ok = Sys::Mmap::hardwire($$v, $address, $length);
        push @mapped, $v;
        return $ok;
      } ],
    [ new => 4, sub {
        my $v = $var->();
        my @args = ($$v, $bounded->($pick->(@numbers)));
        push @args, $path->() if $chance->(0.7);
        splice @args, $rnd->(@args + 1) if $chance->(0.05);
        my $object = Sys::Mmap->new(@args[0 .. $#args]);
        push @mapped, $v;
        return $object;
      } ],
    [ use => 8, sub {
        # Uses a variable that is (or was) mapped: reads, substr, assignments.
        return unless @mapped;
        my $v = $pick->(@mapped);
        my $k = $rnd->(9);
        no warnings;
        return length($$v) if $k == 0;
        return substr($$v, $rnd->(5000), $rnd->(100)) if $k == 1;
        return (substr($$v, $rnd->(100), $rnd->(10)) = $pick->('', 'ab', 'xyz' x 30)) if $k == 2;
        return ($$v = $pick->('', 'short', 'y' x 5000, undef, 42)) if $k == 3;
        return ($$v .= 'tail') if $k == 4 && length($$v // '') < 100000;
        return chop($$v) if $k == 5;
        return undef($$v) if $k == 6;
        return ($$v =~ s/x/y/g) if $k == 7 && length($$v // '') < 100000;
        return scalar($$v =~ /x/) if $k == 8;
        return;
      } ],
    [ constant => 1, sub { Sys::Mmap::constant($pick->('MAP_SHARED', 'BOGUS', '', undef), $pick->(@numbers)) } ],
    [ forget => 2, sub {
        # Drops mapped variables (unmapping by scope exit) and closes handles.
        splice @mapped, $rnd->(scalar @mapped), 1 if @mapped;
        if ($chance->(0.3) && @handles) { my $h = $pick->(@handles); close $h if ref $h }
        @mapped = @mapped[-100 .. -1] if @mapped > 200;
        @addresses = @addresses[-100 .. -1] if @addresses > 200;
        return;
      } ],
  );
  my @weighted = map { my $op = $_; ($op) x $op->[1] } @ops;

  for my $n (1 .. $calls) {
    my $op = $pick->(@weighted);
    print {$report} "CALL $n $op->[0]\n";
    local $SIG{__WARN__} = sub { };
    my $ok = eval { $op->[2]->(); 1 };
    my $error = $@;
    $stats{"$op->[0] " . ($ok ? 'ok' : 'error')}++;
    if (!$ok) {
      if (!defined $error || $error eq '' || ref $error) {
        $fail->("call $n ($op->[0]) died without a message");
      } elsif ($error =~ /unexpected|internal|panic/i) {
        chomp $error;
        $fail->("call $n ($op->[0]): $error");
      }
    }
    $refill->() if $n % 500 == 0;
  }

  # Let go of everything, then nothing of ours may be left.
  print {$report} "CALL cleanup\n";
  # Globals keep what was mapped into them: unmap those first.
  for my $v (@magic) { eval { munmap($$v) } }
  $0 = $name;
  @mapped = ();
  @addresses = ();
  %hash = ();
  @array = ();
  close $_ for grep { ref $_ } @handles;
  @handles = ();
  my $fds = fd_count();
  my @ours = our_mappings($dir);
  my $maps = map_count();
  $fail->("descriptors: $start_fds before, $fds after") if $fds != $start_fds;
  $fail->("mappings left: @ours") if @ours;
  # Private anonymous mappings have no name: a leak of them shows in the total, one per
  # successful call; the allocators' own come and go by a few.
  $fail->("mappings: $start_maps before, $maps after") if $maps > $start_maps + 64;
  my ($ok, $errors) = (0, 0);
  for (keys %stats) { /ok$/ ? ($ok += $stats{$_}) : ($errors += $stats{$_}) }
  print {$report} "STATS " . join(', ', map {"$_=$stats{$_}"} sort keys %stats) . "\n";
  print {$report} "DONE seed=$seed calls=$calls returned=$ok died=$errors failures=$failures"
    . " fds=$start_fds/$fds maps=$start_maps/$maps\n";
  return $failures;
}

# A tied scalar: mapping into it is refused.
package Tied {
  sub TIESCALAR { my $v = ''; bless \$v }
  sub FETCH { ${ $_[0] } }
  sub STORE { ${ $_[0] } = $_[1] }
}

# ---- the parent: runs and watches the child --------------------------------------------

sub run_child {
  my ($seed, $calls) = @_;
  my $dir = File::Temp::tempdir("sys-mmap-badinput-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
  pipe(my $reader, my $writer) or die "pipe: $!";
  my $pid = fork;
  die "fork: $!" unless defined $pid;
  if ($pid == 0) {
    close $reader;
    $writer->autoflush(1);
    my $failures = eval { fuzz($seed, $calls, $dir, $writer) };
    print {$writer} "FAIL the run died: $@" unless defined $failures;
    close $writer;
    POSIX::_exit(defined $failures && $failures == 0 ? 0 : 1);
  }
  close $writer;
  my $select = IO::Select->new($reader);
  my ($last, @tail, $hung) = ('(none)');
  my $buffer = '';
  while (1) {
    if (!$select->can_read($hang)) {
      $hung = 1;
      kill 'KILL', $pid;
      last;
    }
    my $got = sysread($reader, $buffer, 65536, length $buffer);
    last unless $got;
    while ($buffer =~ s/\A([^\n]*)\n//) {
      my $line = $1;
      if ($line =~ /^CALL /) { $last = $line }
      else { push @tail, $line; diag($line) if $line =~ /^(?:FAIL|DONE|STATS)/ }
    }
  }
  waitpid($pid, 0);
  my $status = $?;
  my $problem = '';
  if ($hung) { $problem = "seed $seed: hung for more than $hang s in: $last" }
  elsif ($status & 127) { $problem = "seed $seed: killed by signal " . ($status & 127) . " in: $last" }
  elsif ($status >> 8) { $problem = "seed $seed: exit status " . ($status >> 8) . " after: $last" }
  elsif (!@tail || $tail[-1] !~ /^DONE/) { $problem = "seed $seed: stopped early after: $last" }
  $problem .= "\n" . join("\n", @tail[ -20 .. -1 ]) if $problem && @tail >= 20;
  $problem .= "\n" . join("\n", @tail) if $problem && @tail < 20;
  return $problem;
}

# ---- regressions found by the random calls ------------------------------------------------

# A variable hardwired into a read-only mapping became undef when the mapping went away, but
# stayed read-only for ever (Perl restores the flag after a get hook, where this was done).
for my $how ('munmap', 'scope exit') {
  my $view;
  {
    my $address = mmap(my $owner, 100, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
    Sys::Mmap::hardwire($view, $address, 10);
    ok(Internals::SvREADONLY($view), "$how: a view of a read-only mapping is read-only");
    munmap($owner) if $how eq 'munmap';
  }
  ok(!defined $view, "$how: the view is undef once the mapping is gone");
  ok(!Internals::SvREADONLY($view), "$how: ... and no longer read-only");
  ok(eval { $view = 'free'; 1 }, "$how: ... so it can be assigned") or diag($@);
}

# ---- the random calls ---------------------------------------------------------------------

my $seed = $ENV{MMIPC_FUZZ_SEED} // (time() ^ $$) % 1000000007;
diag("seed $seed, $calls calls (replay: MMIPC_FUZZ_SEED=$seed MMIPC_FUZZ_CALLS=$calls)");
is(run_child($seed, $calls), '', "random calls, seed $seed: no crash, hang or leak");
is(run_child(20261121, int($calls / 3)), '', 'random calls, a fixed seed: no crash, hang or leak');

done_testing;
