# A mapped file truncated by another process: the module's own copies (assigning to a
# Sys::Mmap->new variable) die with an error instead of killing Perl with SIGBUS, the process
# lives on, and what still exists of the region stays usable. What Perl's own ops read
# directly from the variable cannot be guarded (see the POD): shown here to die of SIGBUS in
# a child process.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use Errno qw(EFAULT);
use POSIX ();

my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE());

# Truncates $file to $size bytes from a forked child, as an unrelated process would.
sub truncate_elsewhere {
  my ($file, $size) = @_;
  my $pid = fork // die "fork: $!";
  if ($pid == 0) { truncate($file, $size) or POSIX::_exit(1); POSIX::_exit(0) }
  waitpid($pid, 0);
  return $? == 0;
}

my $file = temp_file('a' x $page . 'b' x $page . 'c' x $page);
my $object = Sys::Mmap->new(my $var, 3 * $page, $file);
ok(truncate_elsewhere($file, $page), 'another process cut the file to one page');

my $long = 'Z' x (2 * $page);
ok(!eval { $var = $long; 1 }, 'assigning over the lost pages dies');
like($@, qr/^Sys::Mmap: cannot write to the mapped region: the mapped file shrank under the mapping/,
     '... saying the file shrank');
is($! + 0, EFAULT, '... with $! EFAULT');

my $faults = 0;
my $rounds = $ENV{MMIPC_STRESS} ? 20000 : 1000;
for (1 .. $rounds) { $faults++ unless eval { $var = $long; 1 } }
is($faults, $rounds, "$rounds more faults in a row are survived");
diag("[ figure   ] Perl Sys::Mmap: SIGBUS faults survived: " . ($faults + 1));

ok(eval { $var = 'still here'; 1 }, 'assigning within the page that exists works') or diag $@;
is(substr(slurp($file), 0, 10), 'still here', '... and reaches the file');
is(substr($var, 0, 10), 'still here', '... and the variable is the region again');

# Perl's own ops read mapped memory directly: no library can guard them. A child shows that
# reading the lost pages through the variable still kills with SIGBUS.
my $pid = fork // die "fork: $!";
if ($pid == 0) {
  my $byte = substr($var, 2 * $page, 1);
  POSIX::_exit(0);
}
waitpid($pid, 0);
# Under AddressSanitizer (preloaded in the sanitizer build) its handler reports the fault and
# exits with its own status instead.
my $asan = ($ENV{LD_PRELOAD} // '') =~ /asan/;
ok(($? & 127) == POSIX::SIGBUS() || ($asan && $? >> 8 != 0),
   'a direct read of a lost page by Perl itself dies of SIGBUS (documented)');

done_testing;
