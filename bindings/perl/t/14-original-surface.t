# The rest of the original's surface, word for word: each row of the issue's table (0.20 and
# 0.21 agree, or 0.21 fixed 0.20; 0.21 is the contract then). Where Debian's 0.20 agrees, the
# same program runs under it too and must print the same. 0.21 is not packaged: its texts are
# the expected strings here. Then the improvements the POD lists under "Differences from
# Sys::Mmap 0.21", each with 0.20's behaviour beside it.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use POSIX ();

my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE());
my $have_original = defined original_module();
diag('Sys::Mmap 0.20 is not installed: the rows are checked against their texts only') unless $have_original;

my $content = join '', map { sprintf '%07d|', $_ } 0 .. 2047;    # 16 KiB
my $file = temp_file($content);

# Runs $program under ours (and 0.20 when `both`), checks ours against $expected (a regex),
# and 0.20's output against ours.
sub row {
  my ($name, $program, $expected, %options) = @_;
  $program = "my \$file = '$file'; my \$page = $page;\n$program";
  my ($ours, $status) = run_with_module('ours', $program);
  like($ours, $expected, "$name: ours") or diag("status $status");
  if ($options{both} && $have_original) {
    my ($original) = run_with_module('orig', $program);
    # Only as many lines as ours printed: 0.20 may go on to crash at exit (unaligned offsets).
    my $lines = () = $ours =~ /\n/g;
    $original = join '', (split /^/, $original)[0 .. $lines - 1];
    s/ at \S+ line \d+\.?//g for my ($a, $b) = ($ours, $original);
    is($a, $b, "$name: as 0.20");
  }
}

row('mmap returns the page-aligned base', <<'PERL', qr/\Aaligned=1 data_at=256 offset0=0000000\|\|\n\z/, both => 1);
open my $f, '<', $file or die;
my $addr = mmap(my $x, 100, PROT_READ, MAP_SHARED, $f, 256);
my $data = unpack('J', pack('p', $x));
Sys::Mmap::hardwire(my $w, $addr, 8);
printf "aligned=%d data_at=%d offset0=%s|\n", $addr % $page == 0 ? 1 : 0, $data - $addr, $w;
PERL

row('the object of new()', <<'PERL', qr/\Aref=Sys::Mmap inner=4096 same=1 STORE=WORLD FETCH=1 tied=1\n\z/, both => 1);
my $obj = Sys::Mmap->new(my $v, 4096);
print 'ref=', ref(\$$obj), ' inner=', length($$obj), ' same=', ($$obj eq $v ? 1 : 0);
$obj->STORE("WORLD");
print ' STORE=', substr($v, 0, 5), ' FETCH=', ($obj->FETCH eq $v ? 1 : 0), ' tied=', (tied($v) == $obj ? 1 : 0), "\n";
PERL

row('tie with no size', <<'PERL', qr/\AUsage: tie \$var, "Sys::Mmap", \$desiredSize, \$optionalFile; at \S+ line \d+\.\nresult=undef tied=0\n\z/);
my $r = tie my $v, 'Sys::Mmap';
print 'result=', defined $r ? $r : 'undef', ' tied=', (tied($v) ? 1 : 0), "\n";
PERL

row('wrong-arity XS calls', <<'PERL', qr/\A(?:Usage: Sys::Mmap::mmap\(var, len, prot, flags, fh = 0, off_string\) at \S+ line \d+\.\n){2}Usage: Sys::Mmap::hardwire\(var, addr, len\) at \S+ line \d+\.\n\z/, both => 1);
eval { &Sys::Mmap::mmap(my $x, 10, 1) }; print $@;
eval { &Sys::Mmap::mmap(my $x, 10, 1, 1) }; print $@;
eval { &Sys::Mmap::hardwire(my $x, 1) }; print $@;
PERL

row('offset at the end of a file, length 0 (0.21)', <<'PERL', qr/\Ammap: offset \(8192\) is at or beyond end of file \(size 8192\) at /);
open my $f, '>', "$file.8k" or die; print {$f} 'x' x 8192; close $f; open $f, '<', "$file.8k" or die;
unlink "$file.8k";
eval { mmap(my $x, 0, PROT_READ, MAP_SHARED, $f, 8192) }; print $@;
PERL

row('a pipe or /dev/zero, length 0 (0.21)', <<'PERL', qr/\A(?:mmap: offset \(0\) is at or beyond end of file \(size 0\)[^\n]*\n){2}\z/);
pipe(my $r, my $w) or die;
eval { mmap(my $x, 0, PROT_READ, MAP_SHARED, $r) }; print $@;
open my $z, '<', '/dev/zero' or die;
eval { mmap(my $x, 0, PROT_READ, MAP_SHARED, $z) }; print $@;
PERL

row('munmap of a substr() or a reference', <<'PERL', qr/\Aundef variable not unmappable at \S+ line \d+\.\nmunmap failed! errno 22 Invalid argument(?: at \S+ line \d+\.)?\nvariable is not a string, type is: 1 at /, both => 1);
my $s = 'abcdef';
eval { munmap(substr($s, 0, 2)) }; print $@;
my $r = 'was a string'; $r = [1];
eval { munmap($r) }; print $@;
my $fresh = [1];
eval { munmap($fresh) }; print $@;
PERL

row('a name the module lacks', <<'PERL', qr/\AYour vendor has not defined Sys::Mmap macro MAP_FIXED at \S+ line \d+\.?\n\z/, both => 1);
eval { Sys::Mmap::MAP_FIXED() }; print $@;
PERL

# ---- msync, with the upstream module's words ----

row('msync messages', <<'PERL', qr/\Amsync: variable is not defined at [^\n]+\nmsync: variable is not a string, type is: 1 at [^\n]+\nmsync: variable does not appear to be mmap'd at [^\n]+\nmsync failed! errno 22 Invalid argument at [^\n]+\n\z/);
eval { msync(my $u) }; print $@;
eval { msync(my $n = 42) }; print $@;
eval { msync(my $s = 'string') }; print $@;
mmap(my $m, 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
eval { msync($m, MS_SYNC | MS_ASYNC) }; print $@;
PERL

# ---- improvements (POD: Differences from Sys::Mmap 0.21) ----

{
  my $program = 'print PROT_READ + PROT_WRITE, "\n"';
  like((run_with_module('ours', $program))[0], qr/\A3\n\z/, 'PROT_READ + PROT_WRITE is 3 (prototyped constants)');
  if ($have_original) {
    like((run_with_module('orig', $program))[0], qr/\A1\z/, '... 0.20 parses PROT_READ(+PROT_WRITE, "\n"): 1');
  }
  my $offset = 'open my $f, "<", $file or die; mmap(my $x, 8, PROT_READ, MAP_SHARED, $f, "1e3"); print "$x\n"';
  row("an offset of '1e3' is 1000", $offset, qr/\A\Q@{[substr($content, 1000, 8)]}\E\n\z/);
  if ($have_original) {
    # (Only the first line: 0.20 then frees a bad pointer at exit, its unaligned-offset bug.)
    like((run_with_module('orig', "my \$file = '$file'; $offset"))[0], qr/\A\Q@{[substr($content, 1, 8)]}\E\n/,
         "... 0.20's atoll read it as 1");
  }
}

{
  my @warnings;
  local $SIG{__WARN__} = sub { push @warnings, @_ };
  my $line = __LINE__ + 1;
  my $result = Sys::Mmap->new(my $v);
  like($warnings[0] // '', qr/\AUsage: Sys::Mmap->new\( \$var, \$desiredSize, \$optFile \); at \Q$0\E line $line\.\n\z/,
       "new()'s usage warning names the caller's line");
  if ($have_original) {
    my ($out) = run_with_module('orig', 'Sys::Mmap->new(my $v);');
    like($out, qr{\AUsage: Sys::Mmap->new\( \$var, \$desiredSize, \$optFile \); at \S+/Sys/Mmap\.pm line \d+\.\n\z},
         "... 0.20's named its own");
  }
  @warnings = ();
  eval { mmap(my $x, undef, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) };
  like($@, qr/\Ammap: MAP_ANON specified, but no length specified\. cannot infer length from file at /,
       'an undef length is refused');
  is_deeply(\@warnings, [], '... without an "uninitialized" warning');
  if ($have_original) {
    my ($out) = run_with_module('orig', 'use warnings; eval { mmap(my $x, undef, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) }; print $@');
    like($out, qr/uninitialized/, '... 0.20 warned');
  }
}

done_testing;
