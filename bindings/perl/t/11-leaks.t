# Leaks: 100,000 mappings made and dropped in one process (mmap and munmap, scope exit, new,
# hardwire, failing calls) leave as many descriptors (/proc/self/fd) and mappings
# (/proc/self/maps) as before, none of ours among them, and memory (RSS) about where it was.
#
#   MMIPC_LEAK_COUNT  cycles per case (default 100000; new() with a file 10000 unless
#                     MMIPC_STRESS is set: it opens, grows and closes the file each time)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;

my $stress = ($ENV{MMIPC_STRESS} // '') !~ /\A0?\z/;
my $count = $ENV{MMIPC_LEAK_COUNT} || 100000;
my $file_count = $ENV{MMIPC_LEAK_COUNT} || ($stress ? 100000 : 10000);
# Under AddressSanitizer freed memory waits in a quarantine, so RSS says nothing there.
my $asan = ($ENV{LD_PRELOAD} // '') =~ /asan/;

sub maps {
  my ($pattern) = @_;
  open my $maps, '<', '/proc/self/maps' or die "/proc/self/maps: $!";
  my @lines = <$maps>;
  return scalar(defined $pattern ? grep { /$pattern/ } @lines : @lines);
}

sub rss_kib {
  open my $status, '<', '/proc/self/status' or die "/proc/self/status: $!";
  while (<$status>) { return $1 if /^VmRSS:\s+(\d+)/ }
  return 0;
}

# Runs $body $n times; compares the end with the state after the first tenth (where the
# allocators warm up). A leak of one descriptor or mapping per cycle would show as thousands.
sub cycle {
  my ($name, $n, $ours, $body) = @_;
  my $warm = int($n / 10) || 1;
  $body->() for 1 .. $warm;
  my ($fds, $maps, $rss) = (fd_count(), maps(), rss_kib());
  $body->() for $warm + 1 .. $n;
  my %change = (fds => fd_count() - $fds, maps => maps() - $maps, ours => maps($ours),
    rss_kib => rss_kib() - $rss);
  diag("$name x $n: " . join(' ', map {"$_ $change{$_}"} sort keys %change));
  subtest "$name x $n: nothing left" => sub {
    is($change{fds}, 0, 'descriptors as before');
    cmp_ok(abs($change{maps}), '<=', 8, 'mappings as before (the allocators may move a few)');
    is($change{ours}, 0, 'none of ours left');
    SKIP: {
      skip 'RSS under AddressSanitizer', 1 if $asan;
      cmp_ok($change{rss_kib}, '<', 16384, 'RSS grew by less than 16 MiB');
    }
  };
}

my $file = temp_file('x' x 10000);
open my $fh, '+<', $file or die "$file: $!";
my $ours = qr{\Q$file\E|/dev/zero};
my $new_file = temp_file('');

# While mapped, the check sees the mapping (so "none left" means something).
{
  mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh);
  is(maps($ours), 1, 'a mapping of the file shows in /proc/self/maps');
}

cycle('mmap and munmap of a file', $count, $ours, sub {
  mmap(my $v, 100, PROT_READ | PROT_WRITE, MAP_SHARED, $fh, 4097);
  substr($v, 0, 1) = 'y';
  munmap($v);
});
cycle('mmap of a file, dropped at scope exit', $count, $ours, sub {
  mmap(my $v, 0, PROT_READ, MAP_PRIVATE, $fh, 1);
});
cycle('anonymous shared memory and a hardwired view', $count, $ours, sub {
  my $address = mmap(my $v, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $view, $address + 10, 20);
  munmap($v);
  die 'the view outlived its mapping' if defined $view;
});
cycle('new() with anonymous memory', $count, $ours, sub {
  Sys::Mmap->new(my $v, 4096) or die;
  $v = 'hello';
});
cycle('new() with a file', $file_count, qr{\Q$new_file\E}, sub {
  Sys::Mmap->new(my $v, 4096, $new_file) or die;
});
cycle('failing calls', $count / 10, $ours, sub {
  eval { mmap(my $v, 20000, PROT_READ, MAP_SHARED, $fh) };
  eval { mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh, 10000) };
  eval { munmap(my $v = 'not mapped') };
  eval { Sys::Mmap::hardwire(my $v, 4096, 10) };
  eval { msync(my $v) };
});

close $fh;
done_testing;
