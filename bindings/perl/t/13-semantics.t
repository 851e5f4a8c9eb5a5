# The bugs found by trying Sys::Mmap as a new user would, beside 0.20 (issue "every Perl
# operation, return value and message matches the original"), each with the case that showed
# it. The full list of idioms is t/30-differential.t; this file keeps the reported cases.
use strict;
use warnings;
use Config;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use POSIX ();

my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE());

sub new_file {
  my ($content) = @_;
  my $file = temp_file($content);
  Sys::Mmap->new(my $var, 0, $file) or die "new: $!";
  return ($file, \$var);    # the variable stays mapped while the reference lives
}

# ---- edits that Perl makes in place ----

for my $case (['s///', sub { ${ $_[0] } =~ s/234/Z/ }],
              ['4-arg substr', sub { substr(${ $_[0] }, 2, 3, 'Z') }],
              ['lvalue substr', sub { substr(${ $_[0] }, 2, 3) = 'Z' }]) {
  my ($what, $edit) = @$case;
  my ($file, $v) = new_file('x' x 16);
  $$v = '0123456789abcdef';
  $edit->($v);
  is($$v, '01Z56789abcdefef', "$what: the replacement is kept, the tail stays (as 0.20)");
  is(slurp($file), '01Z56789abcdefef', "$what: ... in the file too");
}

for my $case (['chomp', sub { chomp ${ $_[0] } }], ['chop', sub { chop ${ $_[0] } }],
              ['tr///d', sub { ${ $_[0] } =~ tr/\n//d }],
              ['a shorter substr at the end', sub { substr(${ $_[0] }, 6) = 'g' }]) {
  my ($what, $edit) = @$case;
  my ($file, $v) = new_file('x' x 8);
  $$v = "abcdefg\n";
  $edit->($v);
  is(slurp($file), "abcdefg\n", "$what: no NUL written into the file, the tail byte kept");
  is($$v, "abcdefg\n", "$what: the variable reads the whole region again");
}

# ---- untie ----

{
  my ($file, $v) = new_file('0123456789abcdef');
  untie $$v;
  ok(!tied($$v), 'untie: no longer tied');
  is($$v, '0123456789abcdef', '... a plain variable holding the current value');
  $$v = 'scratch';
  is($$v, 'scratch', '... which takes any value');
  is(slurp($file), '0123456789abcdef', '... and the file is untouched');
  my $object = Sys::Mmap->new(my $kept, 16, temp_file('')) or die;
  my $address = unpack('J', pack('p', $$object));
  ok(is_mapped($address), 'while the object lives, its region stays mapped');
  { no warnings 'untie'; untie $kept; }
  ok(is_mapped($address), '... also after untie (the object still uses it)');
  undef $object;
  ok(!is_mapped($address), '... and goes with the object');
  Sys::Mmap->new(my $gone, 16, temp_file(''));
  my $at = unpack('J', pack('p', $gone));
  untie $gone;
  ok(!is_mapped($at), 'untie without a kept object unmaps at once');
}

# ---- the whole region is never copied for an assignment ----

sub rss_kib {
  open my $status, '<', '/proc/self/status' or die;
  while (<$status>) { return $1 if /^VmRSS:\s+(\d+)/ }
  return 0;
}

SKIP: {
  skip 'RSS under AddressSanitizer', 2 if ($ENV{LD_PRELOAD} // '') =~ /asan/;
  my $size = 128 << 20;
  Sys::Mmap->new(my $big, $size) or die;
  substr($big, 0, 1) = 'a';    # in place
  my $before = rss_kib();
  $big = "value $_" for 1 .. 10;
  $big = 42;
  my $grown = rss_kib() - $before;
  cmp_ok($grown, '<', 16 * 1024, "10 assignments to a 128 MiB region grew RSS by $grown KiB (no copy of it)");
  is(substr($big, 0, 8), '42lue 10', 'and wrote over its start');
}

# ---- a file truncated under a new() variable: assignments croak, the process lives ----

sub truncated {
  my ($size, $pages) = @_;
  my $file = temp_file('a' x ($pages * $page));
  my $object = Sys::Mmap->new(my $n, $pages * $page, $file) or die;
  my $pid = fork // die;
  if ($pid == 0) { truncate($file, $size); POSIX::_exit(0) }
  waitpid($pid, 0);
  return ($file, $object, \$n);
}

{
  # Every page lost: every assignment, whatever its kind, meets them.
  my ($file, $object, $n) = truncated(0, 2);
  my $long = 'z' x (2 * $page);
  my @assignments = (
    ['$n = 42', sub { $$n = 42 }], ['$n = 3.5', sub { $$n = 3.5 }],
    ['$n = "z" x 10', sub { $$n = 'z' x 10 }], ['$n = "z" . $long', sub { $$n = 'z' . $long }],
    ['sprintf', sub { $$n = sprintf('%s', $long) }], ['join', sub { $$n = join('', $long, 'y') }],
    ['"$long"', sub { $$n = "$long" }], ['substr', sub { substr($$n, 0, 1) = 'xy' }],
  );
  for my $case (@assignments) {
    my ($what, $code) = @$case;
    my ($status, $output) = run_in_child(sub { $code->(); 'assigned' });
    is($status & 127, 0, "file truncated to 0, $what: not killed by a signal");
    like($output, qr/^died:14:Sys::Mmap: cannot (?:write to|read) the mapped region: the mapped file shrank/,
         "file truncated to 0, $what: croaks with \$! EFAULT");
  }
}

{
  # One page of two left: what reaches the lost page croaks, what stays before it is written.
  my ($file, $object, $n) = truncated($page, 2);
  for my $case (['$n = "z" x 8000', sub { $$n = 'z' x 8000 }], ['$n = "z" . $long', sub { $$n = 'z' . ('y' x $page) }]) {
    my ($what, $code) = @$case;
    my ($status, $output) = run_in_child(sub { $code->(); 'assigned' });
    is($status & 127, 0, "file cut to one page, $what: not killed by a signal");
    like($output, qr/^died:14:Sys::Mmap: cannot write to the mapped region: the mapped file shrank/, "... croaks");
  }
  ok(eval { $$n = 42; 1 }, 'a number written into the page that exists') or diag($@);
  is(substr(slurp($file), 0, 2), '42', '... reaches the file');
}

# ---- globs and threads ----

SKIP: {
  skip 'no ithreads', 2 unless $Config{useithreads};
  my $script = <<'PERL';
use threads;
use Sys::Mmap;
my $t = threads->create(sub {
  Sys::Mmap->new(my $n, 64) or die;
  $n = *STDOUT;
  substr($n, 0, 13);
});
print $t->join, "\n";
PERL
  local $ENV{PERL_DESTRUCT_LEVEL} = 2;
  my $out = `$^X -Mblib -e '$script' 2>&1`;
  is($?, 0, 'a glob assigned inside a thread: clean exit, also with PERL_DESTRUCT_LEVEL=2') or diag($out);
  is($out, "*main::STDOUT\n", '... the glob was written as its name');
}

# ---- local ----

{
  our $ro;
  open my $fh, '<', temp_file('read-only data') or die;
  mmap($ro, 0, PROT_READ, MAP_SHARED, $fh);
  {
    local $ro = 'temp';
    is($ro, 'temp', 'local on a PROT_READ variable works, as on any read-only scalar');
  }
  is($ro, 'read-only data', '... and the mapped variable is back');
  eval { $ro = 'x' };
  like($@, qr/^Modification of a read-only value attempted/, '... still read-only');
  our $view;
  my $address = mmap(my $region, 100, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire($view, $address, 10);
  { local $view = 'view'; is($view, 'view', 'local on a read-only hardwired variable') }
  is(length($view), 10, '... restored');
}

# ---- deferred elements ----

{
  my $file = temp_file('0123456789');
  open my $fh, '+<', $file or die;
  sub attach_element { mmap($_[0], 0, PROT_READ | PROT_WRITE, MAP_SHARED, $_[1]); substr($_[0], 0, 1) = 'A' }
  my %h;
  attach_element($h{buf}, $fh);
  is(substr(slurp($file), 0, 1), 'A', 'a write through $_[0] of a new element reaches the file');
  substr($h{buf}, 1, 1) = 'B';
  is(substr(slurp($file), 0, 2), 'AB', '... and later writes through the element too');
  munmap($h{buf});

  my $new_file = temp_file('x' x 8);
  sub new_element { Sys::Mmap->new($_[0], 8, $_[1]) or die; $_[0] = 'via @_' }
  my @a;
  new_element($a[3], $new_file);
  is(slurp($new_file), 'via @_xx', 'new() into $_[0] of a new array element: the write reaches the file');
  $a[3] = 'elem';
  is(slurp($new_file), 'elem@_xx', '... and so does one through the element');
}

# ---- hardwire and threads: the same in every thread ----

{
  my $address = mmap(my $owner, 100, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $view, $address, 10);
  munmap($owner);
  is(join(' ', defined($view) ? 'defined' : 'undef', Internals::SvREADONLY($view) ? 'ro' : 'rw'),
     'undef rw', 'a read-only view in the owning thread: undef and writable once unmapped');
}

SKIP: {
  skip 'no ithreads', 1 unless $Config{useithreads};
  require threads;
  # The view is cloned into a thread; the thread lets go of its clone of the owner, then the
  # parent unmaps the last one while the thread waits, then the thread reads its view.
  pipe(my $let_go, my $done) or die;
  pipe(my $unmapped, my $tell) or die;
  $done->autoflush(1);
  $tell->autoflush(1);
  my $address = mmap(my $owner, 100, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
  Sys::Mmap::hardwire(my $view, $address, 10);
  my $thread = threads->create(sub {
    munmap($owner);
    print {$done} "let go\n";
    my $line = <$unmapped>;
    return join ' ', defined($view) ? 'defined' : 'undef', Internals::SvREADONLY($view) ? 'ro' : 'rw';
  });
  my $line = <$let_go>;
  munmap($owner);
  print {$tell} "unmapped\n";
  is($thread->join, 'undef rw', 'in another thread: undef and writable too');
}

# ---- the byte after a mapping that ends at a page boundary ----

{
  # The kernel places a new mapping just below the previous one: map a guard page, then the
  # file (below it), then unmap the guard, so that nothing but our own zero page can follow
  # the file's page. (Without it, reading past the end faulted here every time.)
  my $file = temp_file('1' x $page);
  open my $fh, '<', $file or die;
  my %status;
  for (1 .. 10) {
    mmap(my $guard, $page, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
    mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh);
    munmap($guard);
    my ($status, $output) = run_in_child(sub {
      no warnings;
      my $number = $v + 0;
      my $s = sprintf('%s', $v);
      my $packed = pack('A*', $v);
      my $match = 'aaa' =~ $v ? 1 : 0;
      return length($s) . ' ' . length($packed) . " $match";
    });
    $status{"$status $output"}++;
  }
  is_deeply([keys %status], ["0 ok:$page $page 0"],
            'a region ending at a page boundary: numeric value, sprintf, pack, as a pattern read no further');
}

done_testing;
