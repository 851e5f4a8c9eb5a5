# Misuse never crashes: each bad call runs in a child process, which must die with the
# documented message (and $! where the contract gives one), not be killed by a signal.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use POSIX ();

my $EINVAL = POSIX::EINVAL();
my $file = temp_file('0123456789');
my $empty = temp_file('');
my $at = qr/ at \S+ line \d+\.\n\z/;

sub with_file { open my $fh, '<', $file or die; return $fh }

# ---- mmap ----
dies_in_child('negative offset', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file(), -100) },
  qr/\Ammap: Cannot operate on a negative offset \(-100\) $at/);
dies_in_child('MAP_ANON without a length', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) },
  qr/\Ammap: MAP_ANON specified, but no length specified\. cannot infer length from file$at/);
my $closed = with_file();
close $closed;
open(my $in_memory, '<', \"a string") or die;
open(FAKE, '<', $file) or die;
close FAKE;
for my $case ([undef, 'undef'], [3, 'a number'], ['NoSuchHandle', 'a name that is no handle'],
              [[], 'an array reference'], [$closed, 'a closed handle'],
              [$in_memory, 'an in-memory handle'], [\*FAKE, 'a closed glob'],
              [{}, 'a hash reference']) {
  my ($handle, $what) = @$case;
  dies_in_child("handle: $what", sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, $handle) },
    qr/\Ammap: file not open or does not have associated fileno$at/);
}
# A handle whose descriptor was closed underneath Perl: fstat() fails.
dies_in_child('LENGTH 0 and fstat fails', sub {
  my $fh = with_file();
  POSIX::close(fileno $fh);
  mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh);
}, qr/\Ammap: no len provided, fstat failed, unable to infer length$at/, POSIX::EBADF());
dies_in_child('a LENGTH and a dead descriptor', sub {
  my $fh = with_file();
  POSIX::close(fileno $fh);
  mmap(my $v, 5, PROT_READ, MAP_SHARED, $fh);
}, qr/\Ammap: mmap call failed: errno: 9 errmsg: Bad file descriptor $at/, POSIX::EBADF());
dies_in_child('offset beyond end of file', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file(), 11) },
  qr/\Ammap: offset \(11\) is at or beyond end of file \(size 10\)$at/, $EINVAL);
dies_in_child('offset at end of file, LENGTH 0', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file(), 10) },
  qr/offset.*beyond end of file/, $EINVAL);
dies_in_child('zero length on an empty file', sub {
  open my $fh, '<', $empty or die;
  mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh);
}, qr/\Ammap: offset \(0\) is at or beyond end of file \(size 0\)$at/, $EINVAL);
dies_in_child('length past the end of file', sub { mmap(my $v, 11, PROT_READ, MAP_SHARED, with_file()) },
  qr/\Ammap: offset 0 plus length 11 runs beyond end of file \(10 bytes\)$at/, $EINVAL);
dies_in_child('PROT_WRITE|MAP_SHARED on a read-only handle',
  sub { mmap(my $v, 0, PROT_READ | PROT_WRITE, MAP_SHARED, with_file()) },
  qr/\Ammap: mmap call failed: errno: 13 errmsg: Permission denied $at/, POSIX::EACCES());
dies_in_child('neither MAP_SHARED nor MAP_PRIVATE', sub { mmap(my $v, 0, PROT_READ, 0, with_file()) },
  qr/\Ammap: mmap call failed: errno: 22 errmsg: Invalid argument $at/, $EINVAL);
dies_in_child('MAP_SHARED|MAP_PRIVATE', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED | MAP_PRIVATE, with_file()) },
  qr/\Ammap: mmap call failed: errno: 22/, $EINVAL);
dies_in_child('MAP_FIXED is not offered', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED | 0x10, with_file()) },
  qr/\Ammap: mmap call failed: errno: 22/, $EINVAL);
dies_in_child('unknown PROT bits', sub { mmap(my $v, 0, 0x100, MAP_SHARED, with_file()) },
  qr/\Ammap: mmap call failed: errno: 22/, $EINVAL);
dies_in_child('a pipe', sub {
  pipe(my $r, my $w) or die;
  mmap(my $v, 10, PROT_READ, MAP_SHARED, $r);
}, qr/\Ammap: mmap call failed: errno: 19 errmsg: No such device $at/, POSIX::ENODEV());
dies_in_child('a directory', sub {
  open(my $dir, '<', '/') or die;
  mmap(my $v, 0, PROT_READ, MAP_SHARED, $dir);
}, qr/\Ammap: mmap call failed: errno: 19/, POSIX::ENODEV());
dies_in_child('length that is not a number', sub { mmap(my $v, 'ten', PROT_READ, MAP_SHARED, with_file()) },
  qr/\Ammap: length is not a number \(ten\) $at/);
dies_in_child('length NaN', sub { mmap(my $v, 'nan', PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) },
  qr/\Ammap: length is not a number \(nan\) $at/);
dies_in_child('offset that is not a number', sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file(), 'abc') },
  qr/\Ammap: offset is not a number \(abc\) $at/);
dies_in_child('negative length', sub { mmap(my $v, -5, PROT_READ, MAP_SHARED, with_file()) },
  qr/\Ammap: Cannot operate on a negative length \(-5\) $at/);
dies_in_child('a constant as the variable', sub { mmap(undef, 10, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) },
  qr/\AModification of a read-only value attempted$at/);
dies_in_child('a read-only mapping written', sub {
  mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file());
  $v = 'x';
}, qr/\AModification of a read-only value attempted$at/);

# ---- munmap ----
dies_in_child('munmap(undef)', sub { munmap(undef) }, qr/\Aundef variable not unmappable$at/);
dies_in_child('munmap of an undefined variable', sub { my $v; munmap($v) },
  qr/\Aundef variable not unmappable$at/);
dies_in_child('munmap of a number', sub { my $v = 42; munmap($v) },
  qr/\Avariable is not a string, type is: 1$at/);
dies_in_child('munmap of a float', sub { my $v = 4.2; munmap($v) },
  qr/\Avariable is not a string, type is: 2$at/);
dies_in_child('munmap of a reference', sub { my $v = [1]; munmap($v) },
  qr/\Avariable is not a string, type is: \d+$at/);
dies_in_child('munmap of a string that is no mapping', sub { my $v = 'abc'; munmap($v) },
  qr/\Amunmap failed! errno 22 Invalid argument$at/, $EINVAL);
dies_in_child('munmap of a page-sized string', sub { my $v = 'x' x 8192; munmap($v) },
  qr/\Amunmap failed! errno 22 Invalid argument/, $EINVAL);
dies_in_child('munmap of a copy of a mapped variable', sub {
  mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file());
  my $copy = $v;
  munmap($copy);
}, qr/\Amunmap failed! errno 22 Invalid argument/, $EINVAL);
dies_in_child('unmapping twice', sub {
  mmap(my $v, 0, PROT_READ, MAP_SHARED, with_file());
  munmap($v);
  munmap($v);
}, qr/\Aundef variable not unmappable$at/);

# A mapped variable reassigned (Perl gave it new storage) and then unmapped: the original
# passed Perl's heap pointer to munmap(); ours unmaps the mapping the variable still owns.
for my $case (['a string', sub { $_[0] = 'a new, longer value' x 100 }],
              ['a number', sub { $_[0] = 42 }], ['undef', sub { undef $_[0] }],
              ['a reference', sub { $_[0] = [1, 2] }], ['appended to', sub { $_[0] .= 'tail' }]) {
  my ($what, $change) = @$case;
  my ($status, $output) = run_in_child(sub {
    mmap(my $v, 100, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
    $change->($v);
    my $result = munmap($v);
    return $result . (defined $v ? ' defined' : ' undef');
  });
  is($status, 0, "reassigned to $what, then unmapped: no crash");
  is($output, 'ok:1 undef', '... munmap returned 1 and the variable is undef');
}

# ---- msync ----
dies_in_child('msync of an unmapped variable', sub { my $v = 'abc'; msync($v) },
  qr/\Amsync: variable does not appear to be mmap'd$at/, $EINVAL);
dies_in_child('msync of undef', sub { msync(my $v) }, qr/\Amsync: variable is not defined$at/, $EINVAL);
dies_in_child('msync of a number', sub { my $v = 42; msync($v) },
  qr/\Amsync: variable is not a string, type is: 1$at/, $EINVAL);
dies_in_child('msync after munmap', sub {
  mmap(my $v, 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  munmap($v);
  msync($v);
}, qr/\Amsync: variable is not defined/, $EINVAL);
dies_in_child('msync with MS_SYNC|MS_ASYNC', sub {
  mmap(my $v, 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  msync($v, MS_SYNC | MS_ASYNC);
}, qr/\Amsync failed! errno 22 Invalid argument$at/, $EINVAL);

# ---- hardwire ----
dies_in_child('hardwire into nothing', sub { Sys::Mmap::hardwire(my $v, 12345678, 10) },
  qr/\Ahardwire: address 0xbc614e length 10 is not inside a live mapping made by Sys::Mmap$at/, $EINVAL);
dies_in_child('hardwire of undef', sub { Sys::Mmap::hardwire(my $v, undef, 10) },
  qr/\Ahardwire: address is not a number$at/, $EINVAL);
dies_in_child('reading a hardwired variable after munmap', sub {
  my $address = mmap(my $v, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $h, $address, 4096);
  munmap($v);
  die "still defined\n" if defined $h;
  die "read: " . length($h // '') . "\n";
}, qr/\Aread: 0\n/);

done_testing;
