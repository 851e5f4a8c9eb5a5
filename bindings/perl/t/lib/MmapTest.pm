package MmapTest;
# Shared by the tests: proves the module under test is ours (Debian's libsys-mmap-perl
# installs one of the same name), makes temporary files, and runs code that must die in a
# child process so that a crash is seen as a signal rather than taking the test down.
use strict;
use warnings;
use Exporter ();
our @ISA = ('Exporter');
use File::Temp ();
use POSIX ();
use Test::More;

our @EXPORT = qw(temp_file slurp dies_in_child run_in_child is_mapped run_with_module original_module
  fd_count);

sub import {
  require Sys::Mmap;
  my $path = $INC{'Sys/Mmap.pm'};
  unless ($path =~ m{blib/lib/Sys/Mmap\.pm\z} && defined &Sys::Mmap::msync) {
    BAIL_OUT("loaded $path, not the Sys::Mmap under test (run with prove -b or make test)");
  }
  __PACKAGE__->export_to_level(1, @_);
}

# Files are removed when the test process ends, even on failure, and only by the process
# that made them (not by forked children, nor by threads cloning a File::Temp object).
my @files;
my $owner = $$;
END { unlink @files if $$ == $owner }

# A new file holding $content; returns its name.
sub temp_file {
  my ($content) = @_;
  my ($fh, $name) = File::Temp::tempfile("sys-mmap-$$-XXXXXX", TMPDIR => 1);
  push @files, $name;
  binmode $fh;
  print {$fh} $content if defined $content;
  close $fh;
  return $name;
}

# True when the page holding $address is mapped in this process (from /proc/self/maps).
sub is_mapped {
  my ($address) = @_;
  open my $maps, '<', '/proc/self/maps' or die "/proc/self/maps: $!";
  no warnings 'portable';    # 64-bit addresses
  while (<$maps>) {
    my ($from, $to) = /^([0-9a-f]+)-([0-9a-f]+)/ or next;
    return 1 if $address >= hex($from) && $address < hex($to);
  }
  return 0;
}

# The number of descriptors this process has open (from /proc/self/fd), not counting the one
# used to list them.
sub fd_count {
  opendir(my $d, '/proc/self/fd') or die "/proc/self/fd: $!";
  my $own = fileno($d);
  my $n = grep { /^\d+$/ && (!defined $own || $_ != $own) } readdir $d;
  closedir $d;
  return $n;
}

sub slurp {
  my ($name) = @_;
  open my $fh, '<:raw', $name or die "$name: $!";
  local $/;
  return scalar <$fh>;
}

# Debian's Sys::Mmap 0.20 (libsys-mmap-perl), or undef when it is not installed.
sub original_module {
  require Config;
  my $path = "$Config::Config{vendorarch}/Sys/Mmap.pm";
  return -f $path ? $path : undef;
}

# Runs the Perl program $code in a new perl with `which` Sys::Mmap loaded and imported:
# 'ours' (the module under test) or 'orig' (0.20, by its path, with no directory of ours in
# @INC). Returns what it printed on STDOUT and STDERR, and its exit status.
sub run_with_module {
  my ($which, $code) = @_;
  my $file = temp_file($code);
  my @inc;
  my $load;
  if ($which eq 'ours') {
    (my $root = $INC{'Sys/Mmap.pm'}) =~ s{/lib/Sys/Mmap\.pm\z}{};
    @inc = ("-I$root/lib", "-I$root/arch");
    $load = 'require Sys::Mmap; die "not ours\n" unless $INC{"Sys/Mmap.pm"} =~ m{blib/lib};';
  } else {
    my $path = original_module() or die "Sys::Mmap 0.20 is not installed\n";
    $load = "die \"a Sys::Mmap is loaded\\n\" if exists \$INC{'Sys/Mmap.pm'}; require '$path';"
      . " die \"not 0.20\\n\" unless \$Sys::Mmap::VERSION eq '0.20'; \$INC{'Sys/Mmap.pm'} = '$path';";
  }
  local $ENV{PERL5LIB};
  # 0.20 is not built with the sanitizers of a sanitizer build (and frees a bad pointer at
  # exit after an unaligned mapping): run it as Debian built it.
  local $ENV{LD_PRELOAD} = $which eq 'ours' ? $ENV{LD_PRELOAD} : undef;
  delete $ENV{LD_PRELOAD} unless defined $ENV{LD_PRELOAD};
  my $prelude = "BEGIN { open STDERR, '>&', \\*STDOUT; \$| = 1; $load Sys::Mmap->import }";
  open my $fh, '-|', $^X, @inc, '-e', "$prelude\n#line 1 \"program\"\n" . 'do $ARGV[0]; die $@ if $@', $file
    or die "cannot run $^X: $!";
  my $out = do { local $/; <$fh> };
  close $fh;
  return ($out // '', $?);
}

# Runs $code in a forked child; returns ($status, $output) where output is what the child
# returned (a string) or, if it died, its message.
sub run_in_child {
  my ($code) = @_;
  pipe(my $reader, my $writer) or die "pipe: $!";
  my $pid = fork;
  die "fork: $!" unless defined $pid;
  if ($pid == 0) {
    close $reader;
    my $result = eval { $code->() };
    my $died = $@;
    my $errno = $! + 0;
    print {$writer} $died ne '' ? "died:$errno:$died" : "ok:" . ($result // '');
    close $writer;
    POSIX::_exit($died ne '' ? 3 : 0);
  }
  close $writer;
  my $output = do { local $/; <$reader> };
  waitpid($pid, 0);
  return ($?, $output // '');
}

# Asserts that $code dies in a child with a message matching $pattern (and $! == $errno
# when given), and that the child was not killed by a signal.
sub dies_in_child {
  my ($name, $code, $pattern, $errno) = @_;
  my ($status, $output) = run_in_child($code);
  subtest $name => sub {
    is($status & 127, 0, 'not killed by a signal') or diag("signal " . ($status & 127));
    is($status >> 8, 3, 'died');
    my ($err, $message) = $output =~ /\Adied:(\d+):(.*)\z/s;
    like($message // $output, $pattern, 'message');
    is($err, $errno, "\$! is $errno") if defined $errno;
  };
}

1;
