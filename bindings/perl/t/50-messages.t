# Guards against a reworded message:
#  1. every user-visible message of Sys::Mmap that the contract (shared/spec/sys-mmap.md)
#     quotes is produced verbatim here, by running the call that gives it;
#  2. every message the module can die or warn with (the strings in Mmap.xs and
#     lib/Sys/Mmap.pm) is listed under DIAGNOSTICS in the POD, and every entry there is one
#     the module (or Perl, for the few listed below) produces.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MmapTest;
use Sys::Mmap;
use File::Spec;
use POSIX ();

# ---- 1. the contract's messages --------------------------------------------------------

# The spec lives in shared/spec beside the repository (or, in a worktree, two levels up).
sub find_spec {
  my @roots = grep { defined } $ENV{MMIPC_SOURCE_DIR}, '.';
  for my $root (@roots) {
    my $dir = File::Spec->rel2abs($root);
    for (1 .. 4) {
      my $spec = "$dir/shared/spec/sys-mmap.md";
      return $spec if -f $spec;
      $dir = File::Spec->catdir($dir, File::Spec->updir);
    }
  }
  return undef;
}

my $file = temp_file('0123456789');
sub read_only { open my $fh, '<', $file or die; return $fh }

# The call that produces each message the spec quotes, keyed by the spec's exact words:
# [code that dies or warns, the text with the spec's placeholders filled in].
my %produce = (
  'mmap: Cannot operate on a negative offset (-100) ' =>
    [sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, read_only(), -100) }],
  'mmap: MAP_ANON specified, but no length specified. cannot infer length from file' =>
    [sub { mmap(my $v, 0, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT) }],
  'mmap: file not open or does not have associated fileno' =>
    [sub { my $fh = read_only(); close $fh; mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh) }],
  'mmap: no len provided, fstat failed, unable to infer length' =>
    [sub { my $fh = read_only(); POSIX::close(fileno $fh); mmap(my $v, 0, PROT_READ, MAP_SHARED, $fh) }],
  '/offset.*beyond end of file/' =>
    [sub { mmap(my $v, 0, PROT_READ, MAP_SHARED, read_only(), 10) }, qr/offset.*beyond end of file/],
  'mmap: mmap call failed: errno: 13 errmsg: Permission denied ' =>
    [sub { mmap(my $v, 0, PROT_READ | PROT_WRITE, MAP_SHARED, read_only()) }],
  'undef variable not unmappable' => [sub { munmap(my $v) }],
  'variable is not a string, type is: N' => [sub { munmap(my $v = 42) }, 'variable is not a string, type is: 1'],
  'munmap failed! errno 22 Invalid argument' => [sub { munmap(my $v = 'abc') }],
  'msync: variable is not defined' => [sub { msync(my $v) }],
  'msync: variable is not a string, type is: N' => [sub { msync(my $v = 42) }, 'msync: variable is not a string, type is: 1'],
  "msync: variable does not appear to be mmap'd" => [sub { msync(my $v = 'abc') }],
  'msync failed! errno N <strerror>' => [sub {
      mmap(my $v, 10, PROT_READ, MAP_SHARED | MAP_ANON, STDOUT);
      msync($v, MS_SYNC | MS_ASYNC);
    }, 'msync failed! errno 22 Invalid argument'],
  'Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );' => [sub { Sys::Mmap->new(my $v) }],
  q{mmap: could not open file '$file' for append r/w} =>
    [sub { Sys::Mmap->new(my $v, 10, '/nonexistent/dir/file') }, q{mmap: could not open file '/nonexistent/dir/file' for append r/w}],
);

SKIP: {
  my $spec = find_spec();
  skip 'shared/spec/sys-mmap.md is not beside this source tree', 1 unless $spec;
  open my $fh, '<', $spec or die "$spec: $!";
  my $text = do { local $/; <$fh> };
  # The quoted messages: code spans that start like one of the module's messages.
  my @messages = grep { m{^(?:mmap: |msync: |msync failed|munmap failed|undef variable|variable is not|Usage: |/)} }
    $text =~ /`([^`\n]+)`/g;
  my %seen;
  @messages = grep { !$seen{$_}++ } @messages;
  cmp_ok(scalar @messages, '>=', 15, scalar(@messages) . " messages quoted in $spec");
  for my $message (@messages) {
    my $how = $produce{$message};
    ok($how, "the spec's message has a call that produces it: $message") or next;
    my ($code, $expected) = @$how;
    $expected //= $message;
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    my $died = eval { $code->(); 1 } ? '' : $@;
    my $got = $died ne '' ? $died : ($warnings[0] // '(nothing)');
    if (ref $expected) {
      like($got, $expected, "produced: $message");
    } else {
      is(substr($got, 0, length $expected), $expected, "produced verbatim: $message");
    }
  }
}

# ---- 2. DIAGNOSTICS lists every message --------------------------------------------------

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; local $/; return scalar <$fh> }

# A message with its placeholders (printf conversions, interpolated variables) as a pattern.
sub pattern_of {
  my ($message) = @_;
  $message =~ s/\s+\z//;
  my @parts = split /(%[-#0-9.]*(?:ll|l|z)?[dsux]|\$\w+|\$!)/, $message;
  my $i = 0;
  return join '', map { $i++ % 2 ? '.+?' : quotemeta } @parts;    # odd: the placeholders
}

my $xs = slurp_file('Mmap.xs');
my $pm = slurp_file('lib/Sys/Mmap.pm');
my ($code_part, $pod) = split /^__END__\n/m, $pm, 2;
my @source;
# fail(aTHX_ ERR, "..." "...") and describe(f, ERR, "..."): adjacent literals join.
while ($xs =~ /\b(?:fail\(aTHX_|describe\(f,)\s*[^,";\n]+,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g) {
  my $literals = $1;
  my $message = join '', $literals =~ /"((?:[^"\\]|\\.)*)"/g;
  push @source, $message unless $message eq '%s';
}
push @source, "$1: $1 call failed: errno: %d errmsg: %s" while $xs =~ /syscall_failed\(f, "(\w+)"/g;
# usage(aTHX_ cv, "params") in the XSUB named just above it.
while ($xs =~ /^(\w+)\(\.\.\.\)\n(?:.*\n){0,3}?.*usage\(aTHX_ cv, "([^"]+)"\)/mg) {
  push @source, "Usage: Sys::Mmap::$1($2)";
}
# Carp::carp/croak in the module: single-quoted strings are literal, double-quoted interpolate.
while ($code_part =~ /Carp::(?:carp|croak)\((?:'([^']*)'|"((?:[^"\\]|\\.)*)")/g) {
  push @source, defined $1 ? quotemeta($1) =~ s/\\(.)/$1/gr : $2;
}
# The XSUBs xsubpp writes a usage message for.
# (The _map_* helpers are private: only new() and TIESCALAR call them.)
push @source, 'Usage: Sys::Mmap::STORE(self, value)';
# Perl's own words, for read-only variables.
push @source, 'Modification of a read-only value attempted';

my ($diagnostics) = $pod =~ /^=head1 DIAGNOSTICS\n(.*?)^=head1 /ms;
ok($diagnostics, 'the POD has DIAGNOSTICS');
my @items = $diagnostics =~ /^=item (.+)$/mg;
s/E<gt>/>/g for @items;
cmp_ok(scalar @items, '>=', 30, scalar(@items) . ' messages under DIAGNOSTICS');
cmp_ok(scalar @source, '>=', 30, scalar(@source) . ' messages in the source');

for my $message (@source) {
  my $pattern = pattern_of($message);
  ok((grep { my $i = $_; $i =~ /\A$pattern\s*\z/ || pattern_of($i) eq $pattern } @items),
     "listed under DIAGNOSTICS: $message");
}
for my $item (@items) {
  ok((grep { my $p = pattern_of($_); $item =~ /\A$p\s*\z/ || pattern_of($item) eq $p } @source),
     "a message the module gives: $item");
}

done_testing;
