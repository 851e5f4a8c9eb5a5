# Security of Sys::Mmap: it keeps no descriptor of its own (a mapping needs none once made),
# so a program it runs inherits nothing from it; new() creates its file with the permissions
# open() gives (0666 less the umask) and opens only the path it was given. (Tainting of file
# data: t/07-taint.t.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use File::Temp ();

# What a child process holds open: "fd target" lines, read by the child itself.
sub child_fds {
  my ($stdin) = @_;
  my $lister = 'opendir(my $d, "/proc/self/fd") or die; '
    . 'for (grep { /^\d+$/ } readdir $d) { my $t = readlink("/proc/self/fd/$_"); print "$_ $t\n" if defined $t }';
  my $command = join ' ', map { quotemeta } $^X, '-e', $lister;
  $command .= ' < ' . quotemeta($stdin) if defined $stdin;
  return [split /\n/, `$command`];
}

my $dir = File::Temp::tempdir("sys-mmap-security-$$-XXXXXX", TMPDIR => 1, CLEANUP => 1);
my $file = "$dir/data";
{
  open my $fh, '>', $file or die "$file: $!";
  print {$fh} 'x' x 4096;
}

my $before = fd_count();
open my $fh, '+<', $file or die "$file: $!";
mmap(my $shared, 0, PROT_READ | PROT_WRITE, MAP_SHARED, $fh);
mmap(my $private, 100, PROT_READ, MAP_PRIVATE, $fh, 1);
close $fh;
Sys::Mmap->new(my $made, 4096, "$dir/made") or die;
mmap(my $anon, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
is(fd_count(), $before, 'mappings hold no descriptor once made (new() closes its file too)');

my @ours = grep { m{\Q$dir\E} } @{ child_fds() };
is_deeply(\@ours, [], 'a child process inherits nothing of the mappings');
my ($control) = grep { /^0 / } @{ child_fds($file) };
is($control, "0 $file", '(the listing does show what a child inherits: its stdin here)');

# new() creates a missing file as open() does: 0666 less the umask.
my $old = umask 027;
Sys::Mmap->new(my $fresh, 16, "$dir/fresh") or die;
umask $old;
is(sprintf('%04o', (stat "$dir/fresh")[2] & 07777), '0640', 'new() creates its file 0666 less the umask');

# new() opens the path it was given, as open() does: a symbolic link there is the user's
# own name for the file, and is followed (documented); nothing else is opened.
symlink("$dir/data", "$dir/link") or die "symlink: $!";
Sys::Mmap->new(my $via_link, 0, "$dir/link") or die;
is(length($via_link), 4096, 'new() on a symbolic link the user named maps its target');

done_testing;
