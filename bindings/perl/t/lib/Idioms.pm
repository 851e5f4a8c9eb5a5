package Idioms;
# The Perl idioms the differential tests (t/30-differential.t, t/31-raw-differential.t) run
# on a mapped variable, and the child process that runs them under one module.
#
# Each idiom is [name, code, options]. The code runs in a string eval with the mapped variable
# in $v (a lexical, or with `scope => 'our'` a package variable, as `local` needs) over a file
# holding $Idioms::INIT cut or padded to `size` bytes (default 16); it may set $result. After
# it, the child reports: whether it died, $result, defined($v), length($v), $v and the file's
# bytes. Addresses (0x...) are written as 0xADDR, so that references compare.
use strict;
use warnings;
use MmapTest ();    # original_module()

our $INIT = join '', '0123456789abcdef', map { chr(65 + $_ % 26) } 0 .. 99;

# In-memory and real files some idioms read from.
our $READ_FILE;

our @LIST = (
  # assignment of every length
  ['assign empty', '$v = ""'],
  ['assign one byte', '$v = "a"'],
  ['assign three bytes', '$v = "abc"'],
  ['assign region-1 bytes', '$v = "x" x 15'],
  ['assign region bytes', '$v = "x" x 16'],
  ['assign region+1 bytes', '$v = "x" x 17'],
  ['assign 100 bytes', '$v = "y" x 100'],
  ['assign undef', '$v = undef'],
  ['undef function', 'undef $v'],
  ['assign to a global', '$v = "glob"', {scope => 'our'}],
  ['assign the variable to itself', '$v = $v'],
  ['assign a copy-on-write string', 'my $s = "shared"; my $t = $s; $v = $t; $result = $s'],
  # numbers
  ['assign an integer', '$v = 42'],
  ['assign a float', '$v = 3.5'],
  ['assign a negative number', '$v = -1'],
  ['increment a string', '$v = "Az"; $v++'],
  ['increment a number string', '$v = "9"; $v++'],
  ['add in place', '$v = 7; $v += 5'],
  ['add to the region', '$v = $v + 1'],
  ['numeric value of the region', '$result = $v + 0'],
  ['decrement', '$v = 10; $v--'],
  # appending and repeating
  ['append', '$v .= "zz"'],
  ['append nothing', '$v .= ""'],
  ['append to a short value', '$v = "ab"; $v .= "cd"'],
  ['repeat twice in place', '$v x= 2'],
  ['repeat once in place', '$v x= 1'],
  ['repeat zero times in place', '$v x= 0'],
  ['assign a repetition', '$v = "ab" x 3'],
  ['concatenate into it', 'my ($a, $b) = ("con", "cat"); $v = $a . $b'],
  ['concatenate with itself', '$v = $v . "x"'],
  ['prepend to itself', '$v = "x" . $v'],
  ['interpolate', 'my $w = "in"; $v = "[$w]"'],
  ['interpolate itself', '$v = "[$v]"'],
  ['join into it', '$v = join "-", "a", "b", "c"'],
  # chop and chomp
  ['chop', '$result = chop $v'],
  ['chomp without a newline', '$result = chomp $v'],
  ['chomp a short line', '$v = "abc\n"; $result = chomp $v'],
  ['chomp a full line', '$v = "abcdefghijklmno\n"; $result = chomp $v'],
  ['chop a list', 'my $w = "xyz"; $result = chop($v, $w) . $w'],
  ['chomp via $_', 'for ($v) { $_ = "line\n"; chomp }'],
  # s///
  ['s/// shorter', '$v =~ s/234/Z/'],
  ['s/// same length', '$v =~ s/234/XYZ/'],
  ['s/// longer', '$v =~ s/234/ZZZZZ/'],
  ['s///g removing', '$result = $v =~ s/\d//g'],
  ['s///g growing', '$v =~ s/[a-f]/XX/g'],
  ['s/// at the start', '$v =~ s/^0//'],
  ['s/// at the end', '$v =~ s/f$//'],
  ['s/// with a capture', '$v =~ s/(\d)/$1$1/'],
  ['s/// without a match', '$result = $v =~ s/nomatch/x/'],
  ['s///e', '$v =~ s/(.)/uc $1/ge'],
  ['s///e shorter', '$v =~ s/\d+/length($&)/e'],
  ['s///r leaves it', '$result = $v =~ s/1/X/r'],
  ['s/// on a copy', '(my $c = $v) =~ s/1/X/; $result = $c'],
  ['s/// after assignment', '$v = "hello world"; $v =~ s/o/0/g'],
  # tr
  ['tr same length', '$result = $v =~ tr/a-f/A-F/'],
  ['tr/d', '$result = $v =~ tr/0-9//d'],
  ['tr counting', '$result = $v =~ tr/a-z//'],
  ['tr/s squeezing', '$v = "aaabbbccc"; $v =~ tr/a-c//s'],
  ['y///', '$v =~ y/0/9/'],
  ['tr///r leaves it', '$result = $v =~ tr/0-9/X/r'],
  # substr
  ['lvalue substr shorter', 'substr($v, 2, 3) = "Z"'],
  ['lvalue substr same length', 'substr($v, 2, 3) = "XYZ"'],
  ['lvalue substr longer', 'substr($v, 2, 3) = "WXYZ12"'],
  ['4-arg substr shorter', '$result = substr($v, 2, 3, "Z")'],
  ['4-arg substr same length', 'substr($v, 2, 3, "ABC")'],
  ['4-arg substr longer', 'substr($v, 2, 3, "ABCDEFG")'],
  ['4-arg substr negative', 'substr($v, -3, 3, "!")'],
  ['lvalue substr delete the first byte', 'substr($v, 0, 1) = ""'],
  ['lvalue substr at the end', 'substr($v, 14) = "TAIL"'],
  ['lvalue substr outside', 'substr($v, 20, 1) = "x"'],
  ['substr through a variable', 'my $r = \ substr($v, 1, 2); $$r = "QQ"'],
  ['substr lvalue in a loop', 'for (substr($v, 0, 4)) { $_ = uc "ab" }'],
  ['s/// on a substr', 'substr($v, 0, 8) =~ s/\d/X/g'],
  ['read a substr', '$result = substr($v, 3, 4)'],
  # vec
  ['vec in place', 'vec($v, 0, 8) = 65'],
  ['vec growing', 'vec($v, 20, 8) = 65'],
  ['vec 16 bits', 'vec($v, 3, 16) = 0x4142'],
  # sprintf and friends
  ['sprintf into it', '$v = sprintf("%05d", 42)'],
  ['sprintf of it', '$result = sprintf("<%s>", $v)'],
  ['sprintf into it from it', '$v = sprintf("%.4s!", $v)'],
  ['lc into it', '$v = lc "ABC"'],
  ['uc of itself', '$v = uc $v'],
  ['ucfirst of itself', '$v = ucfirst "hello"'],
  ['uc in place via $_', 'for ($v) { $_ = uc }'],
  ['lcfirst', '$v = lcfirst "ABC"'],
  ['reverse of itself', '$v = reverse $v'],
  ['reverse of a string', '$v = scalar reverse "abc"'],
  # read and sysread
  ['read', 'open my $fh, "<", \"HELLOWORLD"; $result = read($fh, $v, 5)'],
  ['read at an offset', 'open my $fh, "<", \"HELLOWORLD"; read($fh, $v, 5, 3)'],
  ['read past the end', 'open my $fh, "<", \"HELLOWORLD"; read($fh, $v, 5, 20)'],
  ['sysread', 'open my $fh, "<", $Idioms::READ_FILE or die; $result = sysread($fh, $v, 4)'],
  ['sysread at an offset', 'open my $fh, "<", $Idioms::READ_FILE or die; sysread($fh, $v, 4, 6)'],
  # utf8
  ['utf8::upgrade', '$result = utf8::upgrade($v)'],
  ['utf8::downgrade', '$result = utf8::downgrade($v)'],
  ['utf8::encode', 'utf8::encode($v)'],
  ['utf8::encode of Latin-1', '$v = "caf\x{e9}"; utf8::encode($v)'],
  ['utf8::decode', '$v = "caf\xc3\xa9"; $result = utf8::decode($v)'],
  ['assign a wide character', '$v = "\x{263a}"'],
  ['assign Latin-1', '$v = "\x{e9}t\x{e9}"'],
  # local
  ['local with a value', '{ local $v = "temp"; $result = $v }', {scope => 'our'}],
  ['local without a value', '{ local $v; $result = defined $v ? length $v : "undef" }', {scope => 'our'}],
  ['local and substr', '{ local $v = "tmp"; substr($v, 0, 1) = "T"; $result = $v }', {scope => 'our'}],
  # aliases
  ['alias through @_', 'sub set_it { $_[0] = "alias" } set_it($v)'],
  ['s/// through @_', 'sub subst_it { $_[0] =~ s/0/Z/ } subst_it($v)'],
  ['chop through @_', 'sub chop_it { chop $_[0] } chop_it($v)'],
  ['foreach alias assign', 'for my $x ($v) { $x = "loop" }'],
  ['foreach alias tr', 'for my $x ($v) { $x =~ tr/0-9//d }'],
  ['map alias', 'map { s/1/!/ } $v'],
  ['reference in a hash', 'my %h = (k => \$v); ${ $h{k} } = "viaref"'],
  ['reference append', 'my $r = \$v; $$r .= "x"; $result = length $$r'],
  ['reference s///', 'my @a = (\$v); ${ $a[0] } =~ s/a/A/'],
  ['reference s/// shorter', 'my $r = \$v; $$r =~ s/234/Z/'],
  ['reference tr/d', 'my $r = \$v; $$r =~ tr/a-c//d'],
  ['reference chop', 'my $r = \$v; chop $$r'],
  ['global s/// shorter', '$v =~ s/234/Z/', {scope => 'our'}],
  ['global chomp', '$v = "line\n"; chomp $v', {scope => 'our'}],
  ['global substr shorter', 'substr($v, 1, 4) = "-"', {scope => 'our'}],
  ['global concatenation', 'my $w = "w"; $v = "a" . $w . "b"', {scope => 'our'}],
  ['global concatenation with itself', '$v = "<" . $v . ">"', {scope => 'our'}],
  ['global append', '$v .= "tail"', {scope => 'our'}],
  ['global sprintf', '$v = sprintf("%s!", "sp")', {scope => 'our'}],
  # copies
  ['copy is a snapshot', 'my $c = $v; $v = "new"; $result = $c'],
  ['copy in a list', 'my @a = ($v); $v = "zz"; $result = $a[0]'],
  ['capture', '$v =~ /(\d+)/; $result = $1'],
  ['capture then assign', '$v =~ /(\d+)/; $v = "zz"; $result = $1'],
  ['split and join', '$result = join ",", split //, $v'],
  ['length', '$result = length $v'],
  ['eq', '$result = $v eq substr($Idioms::INIT, 0, 16) ? "eq" : "ne"'],
  ['index', '$result = index($v, "a")'],
  ['pos and \G', 'pos($v) = 3; $v =~ /\G(.)/g; $result = $1'],
  ['match in list context', '$result = join "|", $v =~ /(\d)(\d)/'],
  # list assignment
  ['list assignment', '($v) = ("list")'],
  ['list assignment of two', '($v, my $x) = ("a", "b")'],
  ['swap', 'my $x = "q"; ($v, $x) = ($x, $v); $result = $x'],
  ['list assignment from itself', '($v) = ($v)'],
  # globs, code, regexes, objects
  ['assign a glob', '$v = *STDOUT', {size => 64}],
  ['assign a glob reference', '$v = \*STDOUT', {size => 64}],
  ['assign a code reference', '$v = sub { 1 }', {size => 64}],
  ['assign a regex', '$v = qr/ab+c/', {size => 64}],
  ['assign an object', '$v = bless {}, "Foo"', {size => 64}],
  ['assign an array reference', '$v = [1, 2]', {size => 64}],
  ['assign a scalar reference', '$v = \"str"', {size => 64}],
  ['assign a glob then a string', '$v = *STDERR; $v = "after"', {size => 64}],
  ['assign an overloaded object', 'package Ov { use overload q("") => sub { "OVER" } } $v = bless {}, "Ov"', {size => 64}],
);

# ---- the parent ----------------------------------------------------------------------------

# Runs every idiom under each mode, each mode in a child perl; returns {name => {mode => line}}.
# Our module is found through the directories of the one the test loaded; 0.20's children get
# none of them in @INC.
sub run_modes {
  my ($modes, $dir) = @_;
  my $list = "$dir/idioms";
  open my $out, '>', $list or die "$list: $!";
  for (@LIST) {
    my ($name, $code, $o) = @$_;
    $o ||= {};
    print {$out} join("\t", map { unpack 'H*', $_ } $name, $o->{scope} // 'my', $o->{size} // 16, $code), "\n";
  }
  close $out;
  (my $ours = $INC{'Sys/Mmap.pm'}) =~ s{/lib/Sys/Mmap\.pm\z}{};
  (my $here = $INC{'Idioms.pm'}) =~ s{/Idioms\.pm\z}{};
  my %results;
  for my $mode (@$modes) {
    my @inc = $mode =~ /ours/ ? ("-I$ours/lib", "-I$ours/arch") : ();
    mkdir "$dir/$mode";
    local $ENV{PERL5LIB};    # 0.20's child must not see our build
    # Only our module is built with the sanitizers of a sanitizer build.
    local $ENV{LD_PRELOAD} = $mode =~ /ours/ ? $ENV{LD_PRELOAD} : undef;
    delete $ENV{LD_PRELOAD} unless defined $ENV{LD_PRELOAD};
    open my $child, '-|', $^X, @inc, "-I$here", '-MIdioms', '-e', 'Idioms::child()', $mode,
      MmapTest::original_module() // '', $list, "$dir/$mode"
      or die "cannot run $^X: $!";
    while (my $line = <$child>) {
      chomp $line;
      my ($name, $result) = split /\t/, $line, 2;
      $results{ pack 'H*', $name }{$mode} = $result;
    }
    close $child;
  }
  return \%results;
}

# A result line as a hash (status, result, defined, length, value, file), for messages.
sub parse {
  my ($line) = @_;
  return { status => $line // 'missing' } if !defined $line || $line =~ /^(?:signal|setup)/;
  my %r;
  @r{qw(status result defined length value file)} = split /\t/, $line;
  for (qw(result value file)) { $r{$_} = $r{$_} eq 'undef' ? undef : pack 'H*', $r{$_} }
  return \%r;
}

sub describe_result {
  my $r = parse(shift);
  return $r->{status} unless exists $r->{file};
  my $show = sub { my $s = shift; return 'undef' unless defined $s; $s =~ s/([^ -~])/sprintf '\\x%02x', ord $1/ge; "[$s]" };
  return "$r->{status} result=" . $show->($r->{result}) . " defined=$r->{defined} length=$r->{length} value="
    . $show->($r->{value}) . ' file=' . $show->($r->{file});
}

# ---- the child process -------------------------------------------------------------------

sub hexed { my $s = shift; return 'undef' unless defined $s; return unpack('H*', $s) }

sub normalize {
  my $s = shift;
  return $s unless defined $s;
  $s =~ s/0x[0-9a-f]{4,}/0xADDR/g;
  return $s;
}

sub slurp {
  open my $fh, '<:raw', $_[0] or return "no file: $!";
  local $/;
  return scalar <$fh>;
}

# Runs every idiom of the list file under `mode`, each in a forked process, and prints one
# line per idiom: name, then a result or "signal N".
#   ours, orig:  Sys::Mmap->new($v, SIZE, FILE)      (orig: 0.20 loaded from PATH)
#   model:       a tie() that behaves as the contract says (0.20, values cut to the region)
#   raw-ours, raw-orig: mmap($v, SIZE, PROT_READ|PROT_WRITE, MAP_SHARED, FILE)
#   raw-filemap: File::Map::map_file($v, FILE, '+<')
#   raw-plain:   $v a plain scalar holding the file's bytes
sub child {
  my ($mode, $path, $list, $dir) = @ARGV;
  if ($mode =~ /^(?:orig|raw-orig)\z/) {
    die "the module under test is in \@INC\n" if grep { m{blib} } @INC;
    die "a Sys::Mmap is already loaded\n" if exists $INC{'Sys/Mmap.pm'};
    require $path;    # by its path, so no other Sys/Mmap.pm in @INC can stand in for it
    die "loaded version $Sys::Mmap::VERSION from $path, not 0.20\n" unless $Sys::Mmap::VERSION eq '0.20';
    $INC{'Sys/Mmap.pm'} = $path;
    Sys::Mmap->import;
  } elsif ($mode =~ /^(?:ours|raw-ours)\z/) {
    require Sys::Mmap;
    die "loaded $INC{'Sys/Mmap.pm'}, not ours\n" unless $INC{'Sys/Mmap.pm'} =~ m{blib/lib/Sys/Mmap\.pm\z};
    Sys::Mmap->import;
  } elsif ($mode eq 'raw-filemap') {
    require File::Map;
  }
  $READ_FILE = "$dir/read";
  open my $r, '>', $READ_FILE or die;
  print {$r} 'SYSREADING';
  close $r;
  open my $in, '<', $list or die "$list: $!";
  $| = 1;
  while (my $line = <$in>) {
    chomp $line;
    my ($name, $scope, $size, $code) = map { pack 'H*', $_ } split /\t/, $line;
    pipe(my $reader, my $writer) or die;
    my $pid = fork // die;
    if ($pid == 0) {
      close $reader;
      print {$writer} run_one($mode, "$dir/data", $scope, $size, $code);
      close $writer;
      require POSIX;
      POSIX::_exit(0);
    }
    close $writer;
    my $out = do { local $/; <$reader> };
    waitpid $pid, 0;
    $out = 'signal ' . ($? & 127) if $? & 127;
    print hexed($name), "\t", $out, "\n";
  }
}

sub run_one {
  my ($mode, $file, $scope, $size, $code) = @_;
  $SIG{__WARN__} = sub { };
  {
    open my $fh, '>:raw', $file or die;
    print {$fh} substr($INIT, 0, $size);
  }
  our $v;
  my $setup = {
    ours => 'Sys::Mmap->new($v, $size, $file) or die "new: $!"',
    orig => 'Sys::Mmap->new($v, $size, $file) or die "new: $!"',
    model => 'tie $v, "Idioms::Model", $file',
    'raw-ours' => 'open my $fh, "+<", $file or die; mmap($v, $size, PROT_READ() | PROT_WRITE(), MAP_SHARED(), $fh)',
    'raw-orig' => 'open my $fh, "+<", $file or die; mmap($v, $size, PROT_READ() | PROT_WRITE(), MAP_SHARED(), $fh)',
    'raw-filemap' => 'File::Map::map_file($v, $file, "+<")',
    'raw-plain' => '$v = Idioms::slurp($file)',
  }->{$mode};
  my $decl = $scope eq 'our' ? 'our $v;' : 'my $v;';
  our $result = undef;
  my $report = 'Idioms::report($v, $file)';
  my $program = "no strict; no warnings; $decl $setup; my \$ok = eval { $code; 1 }; my \$error = \$@; "
    . "(\$ok ? 'ok' : 'died') . \"\\t\" . $report";
  my $out = eval $program;
  return defined $out ? $out : 'setup failed: ' . hexed($@);
}

sub report {
  my ($v, $file) = @_;
  our $result;
  my @fields = (hexed(normalize($result)), defined $v ? 1 : 0, defined $v ? length $v : 'undef',
    hexed(normalize(defined $v ? "$v" : undef)), hexed(normalize(slurp($file))));
  return join "\t", @fields;
}

# The contract as a plain tie: reading gives the whole file (the region); storing writes the
# value's bytes over its start, cut to its length (0.20 detached the variable from the file
# instead when the value was longer); undef writes nothing.
package Idioms::Model;

sub TIESCALAR { my ($class, $file) = @_; return bless { file => $file, size => -s $file }, $class }
sub FETCH { Idioms::slurp($_[0]{file}) }

sub STORE {
  my ($self, $value) = @_;
  return unless defined $value;
  my $bytes = "$value";
  utf8::downgrade($bytes, 1) or utf8::encode($bytes);
  $bytes = substr($bytes, 0, $self->{size});
  open my $fh, '+<:raw', $self->{file} or die;
  print {$fh} $bytes;
  close $fh;
}

1;
