# A full disk: assigning to a Sys::Mmap variable over a hole of a sparse file, on a
# filesystem with no block left to back it, dies saying there was no space (the core's
# words, $! ENOSPC), not that the file shrank, and Perl lives on.
#
# The filesystem is a small tmpfs that this test mounts in a private mount namespace
# (unshare -m), where a second perl runs the checks; nothing outside sees it. Where the
# system does not allow that, the test is skipped with the reason.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);

if (($ENV{MMIPC_FULL_DISK_DIR} // '') ne '') {
  inside($ENV{MMIPC_FULL_DISK_DIR});
  exit 0;
}

my $dir = tempdir("sys-mmap-full-disk-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
my $probe = `unshare -m sh -c 'mount -t tmpfs -o size=65536 mmipc-test "\$0"' '$dir' 2>&1`;
plan skip_all => "unshare -m and mount not permitted here: " . ($probe || "status $?")
  if $? != 0;

# The checks run in a perl of their own, inside the namespace, with this one's @INC (blib).
local $ENV{MMIPC_FULL_DISK_DIR} = $dir;
my @perl = ($^X, (map { "-I$_" } grep { !ref } @INC), $0);
my $status = system('unshare', '-m', 'sh', '-c',
                    'mount -t tmpfs -o size=65536,mode=1777 mmipc-test "$0" && exec "$@"',
                    $dir, @perl);
exit($status == 0 ? 0 : 1);

sub inside {
  my ($dir) = @_;
  require MmapTest;
  MmapTest->import;
  require Sys::Mmap;
  Sys::Mmap->import;
  require Errno;
  require POSIX;
  my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE());

  # A sparse file of 16 pages (no block allocated), then a file that fills the tmpfs.
  my $sparse = "$dir/sparse.log";
  open my $fh, '>', $sparse or die "$sparse: $!";
  truncate($fh, 16 * $page) or die "truncate: $!";
  close $fh;
  open my $filler, '>', "$dir/filler" or die "filler: $!";
  binmode $filler;
  my $block = 'x' x $page;
  1 while syswrite($filler, $block);
  ok($!{ENOSPC}, 'the tmpfs is full');
  close $filler;

  my $object = Sys::Mmap->new(my $var, 16 * $page, $sparse);
  ok(!eval { $var = 'hello'; 1 }, 'assigning over a hole of the sparse file dies');
  like($@, qr/^Sys::Mmap: cannot write to the mapped region: no space left on the device for a page of this sparse file \(No space left on device\)/,
       '... saying there was no space, not that the file shrank');
  is($! + 0, Errno::ENOSPC(), '... with $! ENOSPC');

  unlink "$dir/filler";
  ok(eval { $var = 'hello'; 1 }, 'with space again, the same assignment works') or diag $@;
  is(substr(slurp($sparse), 0, 5), 'hello', '... and reaches the file');
  done_testing;
}
