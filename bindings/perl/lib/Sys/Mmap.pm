package Sys::Mmap;

use strict;
use warnings;
use Carp ();

our $VERSION = '1.00';

require Exporter;
our @ISA = qw(Exporter);

our @EXPORT = qw(mmap munmap msync
  MAP_ANON MAP_ANONYMOUS MAP_FILE MAP_LOCKED MAP_PRIVATE MAP_SHARED MAP_NORESERVE
  MAP_POPULATE MAP_HUGETLB MAP_HUGE_2MB MAP_HUGE_1GB
  PROT_EXEC PROT_NONE PROT_READ PROT_WRITE
  MS_ASYNC MS_SYNC MS_INVALIDATE);
our @EXPORT_OK = qw(hardwire);

require XSLoader;
XSLoader::load('Sys::Mmap', $VERSION);

my %constant = map { $_ => 1 } grep { /^(?:MAP|PROT|MS)_/ } @EXPORT;

# Opens (creating) and grows the file of new() and tie, as 0.20 did; warns and returns undef
# when it cannot be opened. Without a file name: undef, for anonymous memory.
sub _open_grown {
  my ($file, $length) = @_;
  return (1, undef) unless $file;
  my $fh;
  unless (open $fh, '+>>', $file) {
    Carp::carp("mmap: could not open file '$file' for append r/w");
    return (0, undef);
  }
  binmode $fh;
  # Grow the file with zero bytes (a hole) so that every mapped byte is backed by the file.
  my $size = -s $fh;
  no warnings 'numeric';
  if (defined $length && $length > $size) {
    truncate($fh, $length) or Carp::croak("mmap: could not grow '$file' to $length bytes: $!");
  }
  return (1, $fh);
}

sub new {
  if (@_ < 3) {
    Carp::carp('Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );');
    return undef;
  }
  my ($class, undef, $length, $file) = @_;
  my ($ok, $fh) = _open_grown($file, $length);
  return undef unless $ok;
  # 0.20 returned tie's object: a reference to an inner scalar mapped over the same region.
  return _map_new(ref($class) || $class, $_[1], $length, $fh);
}

# The original's tie() interface, for scripts that tie directly (FETCH copies, as it did).
sub TIESCALAR {
  if (@_ < 2) {
    Carp::carp('Usage: tie $var, "Sys::Mmap", $desiredSize, $optionalFile;');
    return undef;
  }
  my ($class, $length, $file) = @_;
  my ($ok, $fh) = _open_grown($file, $length);
  return undef unless $ok;
  return _map_object(ref($class) || $class, $length, $fh);
}

sub FETCH { ${ $_[0] } }

# STORE is in the XS: the value over the start of the region, cut to its length.

# The original's constant lookup: the value, or 0 with $! set to EINVAL for an unknown name.
sub constant {
  my ($name) = @_;
  if (defined $name && $constant{$name}) {
    no strict 'refs';
    return &{"Sys::Mmap::$name"}();
  }
  require POSIX;
  $! = POSIX::EINVAL();
  return 0;
}

# The original's AUTOLOAD for constants: a name the module lacks dies with its words.
our $AUTOLOAD;
sub AUTOLOAD {
  my $name = $AUTOLOAD;
  $name =~ s/.*:://;
  return if $name eq 'DESTROY';
  if ($name =~ /^_?[a-z]/) {
    Carp::croak("Undefined subroutine &Sys::Mmap::$name called");
  }
  Carp::croak("Your vendor has not defined Sys::Mmap macro $name");
}

1;
__END__

=encoding UTF-8

=head1 NAME

Sys::Mmap - map a file or shared memory into a Perl variable

=head1 SYNOPSIS

=for example expect="header"

    use Sys::Mmap;

    # The preferred interface: the variable is the file (created and grown as needed).
    my $map = Sys::Mmap->new(my $str, 8192, 'data.bin') or die $!;
    $str = 'header';                    # writes over the start of the file
    substr($str, 1024, 11) = 'Hello world';
    print substr($str, 0, 6), "\n";     # header

    # Anonymous memory shared with forked children.
    Sys::Mmap->new(my $shared, 8192) or die $!;

    # The raw interface.
    open my $fh, '<', 'data.bin' or die $!;
    mmap(my $foo, 0, PROT_READ, MAP_SHARED, $fh) or die "mmap: $!";
    my @words = $foo =~ /(\w+)/g;
    munmap($foo) or die "munmap: $!";

    my $addr = mmap(my $baz, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, STDOUT);
    Sys::Mmap::hardwire(my $qux, $addr + 1024, 11);
    msync($baz, MS_SYNC);

=head1 DESCRIPTION

Sys::Mmap maps a file, or anonymous memory, into your address space and makes a Perl
scalar B<be> that memory: its string buffer is the mapped pages, so reading the variable,
matching a regular expression against it or taking a C<substr> of it reads the pages
directly, without copying the file. Several processes may share one copy of a file or of
anonymous memory and change portions of it concurrently; without a file it is an
alternative to SysV shared memory with no arbitrary size limits.

This is a drop-in replacement for Sys::Mmap 0.20 and 0.21 from CPAN, written in C++ on the
mmipc library: scripts written for them run unchanged, with the same results, return values
and messages, only faster; the weaknesses the original lists in its own BUGS section are
gone. See L</Differences from Sys::Mmap 0.21>.

Perl's own C<:mmap> PerlIO layer presents a mapped file as a file handle instead, if that
is what you need.

=head1 FUNCTIONS

C<mmap>, C<munmap>, C<msync> and the constants are exported by default; C<hardwire> is not,
but is in C<@EXPORT_OK>: call it as C<Sys::Mmap::hardwire>, or import it by name
(C<use Sys::Mmap qw(:DEFAULT hardwire)> keeps the default exports too; 0.20 could not export
it at all). Every function dies (C<croak>) on
error, with the messages listed under L</DIAGNOSTICS>, and sets C<$!>: to the system's error
where a system call failed, to C<EINVAL> (C<EBADF> for a handle, C<EFAULT> or C<EIO> for lost
pages) otherwise.

=head2 Sys::Mmap->new(VARIABLE, LENGTH, OPTIONALFILENAME)

Maps LENGTH bytes of the file OPTIONALFILENAME read-write and shared (C<MAP_SHARED>), or,
without a file name (or with a false one), LENGTH bytes of anonymous shared memory that
every child C<fork()>ed afterwards shares. A missing file is created; a file shorter than
LENGTH is grown to LENGTH with zero bytes; a LENGTH of 0 maps the whole file.

It returns the object 0.20 returned (its C<tie> object): a reference, blessed into
C<Sys::Mmap>, to an inner scalar mapped over the same region. C<$$object> reads the region,
C<< $object->FETCH >> returns a copy of it and C<< $object->STORE($value) >> writes
C<$value> over its start. C<tied(VARIABLE)> returns that object.

VARIABLE then behaves exactly as 0.20's tied variable did, for every Perl operation, in the
variable and in the file, but reads cost what reading any string costs (0.20 copied the whole
region on every access):

=over 4

=item *

Reading it gives the whole region, directly from the mapped memory.

=item *

Any operation that changes it (assignment, C<.=>, C<x=>, C<chop>, C<chomp>, C<s///>,
C<tr///>, C<substr> with four arguments or as an lvalue, C<vec>, C<sprintf> into it, C<read>
or C<sysread> into it, C<utf8::encode>/C<decode>, C<++>, C<+=> and the like, through an alias
such as C<$_[0]> or C<for>, or a reference) computes the new value as Perl does for any
string, writes it over the start of the region and leaves the rest of the region as it was.
The variable then reads the whole region again. So after C<$v = "abc">, C<$v> is C<abc>
followed by the rest of the region; after C<chop $v> nothing changed (the shorter value is
the region's own start); after C<$v =~ s/234/Z/> on C<0123456789abcdef>, C<$v> is
C<01Z56789abcdefef>.

=item *

A value longer than the region is cut to the region's length (0.20 lost it: see
L</Differences from Sys::Mmap 0.21>). An undefined value writes nothing. Numbers are written
as their string form, character strings as bytes (Latin-1 where possible, else UTF-8).
Globs, references, code references, regexes and objects are written as the string Perl gives
them (C<*main::STDOUT>, C<CODE(0x...)>, C<(?^:...)>, an object's overloaded string), as 0.20
wrote them.

=item *

Same-length changes (C<substr> replacing bytes by as many bytes, C<vec>, C<tr> without C</d>
or C</s>) are made in the mapped memory directly. Other changes are made on a copy of what
the operation edits, never of the region for a small change: an assignment neither reads nor
copies the region, whatever its size.

=item *

C<local VARIABLE> works as with 0.20: the local value is written into the region, and the
region's old contents are written back when the scope ends.

=item *

C<untie VARIABLE> makes it a plain variable holding the region's current bytes and lets go
of the region, which is unmapped at once unless the object returned by C<new> is still held
(then when it goes; C<use warnings> then warns C<untie attempted while 1 inner references
still exist>, as Perl does for any tie).

=item *

The region is unmapped when VARIABLE goes out of scope (or is freed) and no object holds
it, silently.

=back

These semantics hold for code compiled after C<use Sys::Mmap> (the module watches the
operations that edit strings in place as they are compiled). Code compiled before it was
loaded (a module loaded earlier that edits the variable it is given) edits the region in
place, as it would a raw C<mmap> variable.

With fewer than two arguments C<new> warns C<Usage: Sys::Mmap-E<gt>new( $var, $desiredSize,
$optFile );> and returns undef; when the file cannot be opened it warns C<mmap: could not
open file 'FILE' for append r/w> and returns undef. Other errors die as C<mmap> does.

The file is opened with Perl's C<open>, like any path a program names: a missing file is
created with mode 0666 less the umask, and a symbolic link at that path is followed (it is
the caller's own name for the file). No other path is ever opened, and no descriptor is
kept once the region is mapped.

The 0.20 interface C<tie $var, 'Sys::Mmap', LENGTH, OPTIONALFILENAME> still works, for
scripts that used it directly: Perl then calls C<FETCH> (a copy of the region) on every read,
as it did.

=head2 mmap(VARIABLE, LENGTH, PROTECTION, FLAGS, FILEHANDLE, OFFSET)

Maps LENGTH bytes of the file open on FILEHANDLE, from OFFSET (default 0), and makes
VARIABLE's string buffer be that memory. Returns, as 0.20 and 0.21 do, the address of the
mapping's first page: the variable's data starts OFFSET modulo the page size bytes after it,
so C<hardwire($w, $address, $n)> sees the file from the start of OFFSET's page.

=over 4

=item LENGTH

The number of bytes; 0 means "to the end of the file" (its size minus OFFSET). The region
must lie inside the file: pages past the end of a file cannot be touched without a
C<SIGBUS>, so they are refused. Undef is 0.

=item PROTECTION

C<PROT_READ>, C<PROT_WRITE> and C<PROT_EXEC> or'ed together, or C<PROT_NONE>. Without
C<PROT_WRITE> the variable is read-only: assigning to it dies with
C<Modification of a read-only value attempted>. C<PROT_WRITE> always includes read access.
With C<PROT_NONE> the pages cannot be read at all, so the variable holds the empty string
(the region is still mapped and owned by the variable).

=item FLAGS

Exactly one of C<MAP_SHARED> (writes reach the file and every other mapping of it, and
anonymous memory is shared with forked children) or C<MAP_PRIVATE> (copy-on-write: writes
stay in this process), optionally or'ed with C<MAP_ANON>/C<MAP_ANONYMOUS> (no file: FILEHANDLE
is ignored, any handle such as C<STDOUT> may be passed, and LENGTH is required),
C<MAP_FILE> (0 on Linux), C<MAP_LOCKED>, C<MAP_NORESERVE>, C<MAP_POPULATE>, and
C<MAP_HUGETLB> with C<MAP_HUGE_2MB> or C<MAP_HUGE_1GB> (C<MAP_HUGETLB> alone means 2 MiB
pages). Other flags (C<MAP_FIXED> among them) are refused with C<EINVAL>.

=item FILEHANDLE

A bareword handle, a glob, a glob reference, an C<IO::Handle> or a handle's name. It must
be open on a file descriptor (not closed, not an in-memory handle). It may be closed once
C<mmap> returns: the mapping stays.

=item OFFSET

Any non-negative byte offset; it need not be a multiple of the page size.

=back

VARIABLE keeps the mapping until C<munmap>, until the next C<mmap> into it, or until Perl
frees it (when it goes out of scope), whichever comes first. It is raw memory, as in 0.20,
and acts like a plain scalar holding the file's bytes for every Perl operation: its value
after any operation is the value a plain scalar would have. Operations that keep its length
(C<substr> replacing bytes by as many bytes, C<vec>, C<tr> without C</d>, a C<s///> that
keeps the length) are made in the mapped memory, so they reach the file; every other change
(an assignment, a shorter or longer C<s///> or C<substr>, C<chop>, C<.=>) gives the
variable storage of its own, as the original's documentation says, and the file keeps its
bytes (0.20 wrote a NUL and moved bytes in the file for the shortening ones, and Perl lost
the replacement of a shortening C<s///> or C<substr> near the start; File::Map writes
assigned values into the map instead). The variable still owns the mapping then, so
C<munmap> still works. Like any Perl string it is copied by constructs that copy strings.

Each mapping is followed by a readable page of zero bytes, so Perl code that reads the byte
after a string (numeric conversion, C<sprintf>, C<pack>, a pattern made of the variable)
never faults there, even when the region ends at a page boundary (0.20 and File::Map crash
there). That byte is a NUL when the region ends at a page boundary or at the end of the
file; in the middle of a file it is the file's next byte.

=head2 munmap(VARIABLE)

Unmaps the region VARIABLE was mapped to by C<mmap> or C<new> and makes VARIABLE undef.
Returns 1. Variables hardwired into the region become undef too. On a hardwired variable
it only lets go of the region (which stays mapped for its owner) and makes it undef.

It never unmaps memory it did not map: a variable that holds no mapping of this module
dies with one of the messages under L</DIAGNOSTICS>, checked in the original's order
(undef, then not a plain string, then C<munmap failed!>).

If the variable was cloned into other threads, the region is unmapped when the last clone
lets go of it; each C<munmap> lets go of one.

=head2 msync(VARIABLE, FLAGS)

Writes changes in the region (for a hardwired variable: in its part of the region) back to
the file. FLAGS is C<MS_SYNC> (the default: wait for the write), or C<MS_ASYNC> (schedule
it), optionally or'ed with C<MS_INVALIDATE>. Returns 1. Mapping and unmapping never
synchronise implicitly, but the kernel writes shared mappings back eventually anyway.

=head2 Sys::Mmap::hardwire(VARIABLE, ADDRESS, LENGTH)

Makes VARIABLE's buffer be LENGTH bytes at ADDRESS, which must lie inside a live mapping
made by this module (typically an address returned by C<mmap> plus an offset; the pages
before an unaligned region's data count as the mapping's). Returns true. The variable is
read-only when the mapping is. When the mapping goes away (C<munmap> of its last owner, or
its owner being freed), the hardwired variable becomes undef and writable, in every thread,
instead of pointing at unmapped memory. Any other ADDRESS range dies.

A hardwired variable is raw memory: Perl edits it in place. The byte after it is the
mapping's next byte, not a NUL (for a view ending where its mapping ends, the zero page
described under C<mmap>): code that reads past a string's end, such as a numeric conversion
of a view of C<"12"> followed by C<"345"> in the file, may see the bytes after it.

=head2 Deferred elements and C<local>

C<mmap($hash{key}, ...)>, C<Sys::Mmap-E<gt>new($array[9], ...)> and C<hardwire> for an
element that does not exist yet create the element and map it. Called through a sub
(C<sub attach { mmap($_[0], ...) } attach($h{buf})>), C<$_[0]> is Perl's temporary proxy for
the element: it is mapped too, so writes through either name reach the memory.

C<local> works on every mapped variable as on a plain one, read-only or not: on an C<mmap>
or hardwired variable it gives an ordinary value for the scope and restores the mapped
variable afterwards; on a C<new()> variable it writes through, as 0.20's tie did (see above).

=head1 CONSTANTS

Integer constants with the platform's values (Linux x86-64 values shown), exported by
default. They are constant subroutines with an empty prototype, so
C<PROT_READ + PROT_WRITE> is 3.

    MAP_SHARED      1       share writes (with the file, other mappings, children)
    MAP_PRIVATE     2       copy-on-write
    MAP_ANON        32      anonymous memory, no file
    MAP_ANONYMOUS   32      the same
    MAP_FILE        0       (historical; zero on Linux)
    MAP_LOCKED      8192    lock the pages in memory
    MAP_NORESERVE   16384   reserve no swap space
    MAP_POPULATE    32768   fault the pages in now
    MAP_HUGETLB     262144  use huge pages
    MAP_HUGE_2MB    21<<26  2 MiB huge pages (with MAP_HUGETLB)
    MAP_HUGE_1GB    30<<26  1 GiB huge pages (with MAP_HUGETLB)
    PROT_NONE       0       no access
    PROT_READ       1       readable
    PROT_WRITE      2       writable
    PROT_EXEC       4       executable
    MS_ASYNC        1       msync: schedule the write-back
    MS_INVALIDATE   2       msync: invalidate other mappings' caches
    MS_SYNC         4       msync: wait for the write-back

C<Sys::Mmap::constant(NAME)> returns a constant's value by name, or 0 with C<$!> set to
C<EINVAL> for an unknown name, as in 0.20. Calling a constant the module lacks
(C<Sys::Mmap::MAP_FIXED()>) dies with the original's words.

=head1 THREADS, FORK AND TAINT

A mapped variable cloned into a new thread (C<use threads>) refers to the same memory and
stays valid in both threads; the region is unmapped once, when the last variable that
holds it (in any thread) is unmapped or freed.

C<MAP_SHARED> memory, with or without a file, is shared with children C<fork()>ed after
the mapping; C<MAP_PRIVATE> memory is copied on write.

Under taint mode (C<-T>), data mapped from a file is tainted (also after an assignment to
a C<new()> variable, since the rest of the region is still file data); anonymous memory is
not.

=head1 DIAGNOSTICS

Every message the module dies or warns with. Each is followed by Perl's usual
C< at FILE line N.> (or, for the original's messages that end in a newline, by nothing).
Where a message is the original's, it comes first, word for word; an explanation may follow
it after a colon.

=over 4

=item mmap: Cannot operate on a negative offset (%s)

OFFSET was negative.

=item mmap: Cannot operate on a negative length (%s)

LENGTH was negative.

=item mmap: length is not a number (%s)

=item mmap: offset is not a number (%s)

=item mmap: protection is not a number (%s)

=item mmap: flags is not a number (%s)

An argument that must be a number was a string that does not look like one.

=item mmap: MAP_ANON specified, but no length specified. cannot infer length from file

Anonymous memory needs a LENGTH (undef and 0 are none).

=item mmap: file not open or does not have associated fileno

FILEHANDLE is undef, closed, not a handle at all, or a handle without a file descriptor
(an in-memory or tied handle). C<$!> is C<EBADF>.

=item mmap: no len provided, fstat failed, unable to infer length

LENGTH was 0 and the file's size could not be read.

=item mmap: offset (%d) is at or beyond end of file (size %d)

0.21's words: OFFSET is past the end of the file, or LENGTH was 0 and nothing lies after
OFFSET (including any mapping of an empty file with LENGTH 0). C<$!> is C<EINVAL>.

=item mmap: offset (%d) is at or beyond end of file (size 0): %s

The same words, for a pipe, a socket or a character device such as F</dev/zero> mapped with
LENGTH 0 (their size is 0), with why: C<a device has no size; give a length> or C<a pipe or a
socket cannot be mapped>. C<$!> is C<EINVAL>.

=item mmap: offset %d plus length %d runs beyond end of file (%d bytes)

The region would extend past the end of the file. C<$!> is C<EINVAL>.

=item mmap: offset %d or length %d is too large

The region does not fit the address space. C<$!> is C<EINVAL>.

=item mmap: mmap call failed: errno: %d errmsg: %s

The system refused (C<$!> holds the error): for example C<errno: 13 errmsg: Permission
denied> for C<PROT_WRITE> with C<MAP_SHARED> on a handle opened read-only, C<errno: 19
errmsg: No such device> for a pipe, socket or directory with a LENGTH, C<errno: 22 errmsg:
Invalid argument> for flags other than exactly one of C<MAP_SHARED> and C<MAP_PRIVATE> plus
the supported ones, or for unknown PROTECTION bits.

=item mmap: %s

Any other refusal of the library, with its explanation (for example a huge page size that is
not a power of two). C<$!> is C<EINVAL>.

=item mmap: variable is not a plain scalar

=item hardwire: variable is not a plain scalar

VARIABLE cannot hold a mapping (a glob, an array, an lvalue proxy).

=item mmap: variable is tied

=item hardwire: variable is tied

VARIABLE is tied to another class.

=item Modification of a read-only value attempted

Perl's own message: assigning to a variable mapped without C<PROT_WRITE>, or mapping into a
constant.

=item Usage: Sys::Mmap::mmap(var, len, prot, flags, fh = 0, off_string)

=item Usage: Sys::Mmap::hardwire(var, addr, len)

=item Usage: Sys::Mmap::munmap(var)

=item Usage: Sys::Mmap::msync(var, flags = MS_SYNC)

=item Usage: Sys::Mmap::STORE(self, value)

A function called with C<&> (bypassing its prototype) and the wrong number of arguments;
the first two are the original's words. C<$!> is C<EINVAL>.

=item undef variable not unmappable

C<munmap> of undef, including a variable already unmapped, and of a C<substr()> lvalue.

=item variable is not a string, type is: %d

C<munmap> of a number or a fresh reference (the number is Perl's internal SV type).

=item munmap failed! errno 22 Invalid argument

C<munmap> of a string that is not a mapping of this module, or of a variable that held a
string and now holds a reference (C<$!> is C<EINVAL>). Nothing is unmapped.

=item msync: variable is not defined

=item msync: variable is not a string, type is: %d

=item msync: variable does not appear to be mmap'd

C<msync> of a variable that holds no mapping (the upstream module's words). C<$!> is
C<EINVAL>.

=item msync failed! errno %d %s

The system refused, or FLAGS held both C<MS_SYNC> and C<MS_ASYNC> or unknown bits.

=item hardwire: address %#x length %d is not inside a live mapping made by Sys::Mmap

The range is not inside a mapping of this module that is still mapped. C<$!> is C<EINVAL>.

=item hardwire: address is not inside a live mapping made by Sys::Mmap

ADDRESS was negative, or too large for an address.

=item hardwire: address is not a number

=item hardwire: length is not a non-negative number

=item hardwire: variable holds a mapping of its own; munmap it first

=item Sys::Mmap: cannot write to the mapped region: the mapped file shrank under the mapping (Bad address)

Writing a value into a C<new()> variable's region met pages lost because the file was
truncated (C<$!> is C<EFAULT>). The variable stays the region.

=item Sys::Mmap: cannot write to the mapped region: no space left on the device for a page of this sparse file (No space left on device)

The page written to lies inside the file, but it is a hole (a sparse file, made for
instance with C<truncate>) and its filesystem has no block left to back it (C<$!> is
C<ENOSPC>). Nothing shrank: free some space, or reserve the file's blocks beforehand
(write it whole, or C<fallocate> it) so that writes through the mapping never need new
ones. The variable stays the region.

=item Sys::Mmap: cannot write to the mapped region: I/O error on the mapped file's storage (Input/output error)

The device holding the file failed (C<$!> is C<EIO>). The variable stays the region.

=item Sys::Mmap: cannot read the mapped region: %s (%s)

The same, when copying the region for an operation that edits it (C<s///>, C<chop>, ...),
for C<untie> or for C<local>.

=item Sys::Mmap: cannot install the SIGBUS guard: %s

Loading the module failed to install its handler (see L</WHAT CANNOT BE GUARDED>).

=item Sys::Mmap::STORE: the object holds no mapping

C<STORE> called on something that is not an object made by C<new> or C<tie>.

=item Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );

(warning) C<new> was called with fewer than two arguments; it returns undef.

=item Usage: tie $var, "Sys::Mmap", $desiredSize, $optionalFile;

(warning) C<tie> was called without a size; it returns undef.

=item mmap: could not open file '%s' for append r/w

(warning) C<new> or C<tie> could not open or create the file; it returns undef.

=item mmap: could not grow '%s' to %d bytes: %s

C<new> could not extend the file to LENGTH.

=item Your vendor has not defined Sys::Mmap macro %s

A constant the module does not have was called (the original's words).

=item Undefined subroutine &Sys::Mmap::%s called

A function the module does not have was called.

=back

=head1 Differences from Sys::Mmap 0.21

Scripts written for 0.20 or 0.21 run unchanged. What differs, and why:

=over 4

=item Reads of a C<new()> variable do not copy the region

0.20 and 0.21 tied the variable, and every read copied the whole region (their BUGS section
warns that this is much slower than C<mmap>). Now the variable is the mapped memory with
variable magic; only operations that change it do any work. C<tied> still returns the
object, with no C<FETCH> behind reads. In the benchmarks of the sources
(F<bench/results/latest.md>, run of 2 December 2026), a random 64-byte C<substr> of a
C<new()> variable of 1 MiB took 24.96 µs with 0.20 and 62.3 ns with this module: 400.46
times faster.

=item A value longer than the region is cut to it

0.20 wrote it with a 4-argument C<substr> on its inner variable, which grew out of the
mapping: the file kept its old bytes, the variable showed the whole value and was never
the file again (and unmapping it then freed the wrong memory). Now the value is written
cut to the region's length and the variable stays the region. The same holds for every
operation whose result is longer than the region (C<.=>, C<x=>, a longer C<s///> or
C<substr>, C<vec> past the end, a wide character). C<t/30-differential.t> lists each.

=item mmap() variables: length-changing edits leave the file alone

0.20 let Perl edit the mapped memory in place whatever the length: a shorter value left a
NUL and moved bytes in the file, and a shortening C<s///> or C<substr> near the start lost
its replacement (Perl copies such a string half-way through the edit). Now the variable gets
storage of its own for those, with a plain scalar's value; same-length edits are still made
in the file. C<t/31-raw-differential.t> compares every idiom with a plain scalar, File::Map
and 0.20.

=item PROT_READ + PROT_WRITE is 3

The constants are prototyped, so C<+> adds them; the originals' autoloaded constants parsed
C<PROT_READ + PROT_WRITE> as C<PROT_READ(+PROT_WRITE)>, which is 1.

=item Offsets are numbers

An OFFSET given as the string C<'1e3'> means 1000; the originals read it with C<atoll> as 1.

=item Usage warnings name the caller's line

C<new()>'s and C<tie>'s usage warnings say C< at FILE line N.> of the call, not of the
module.

=item An undef length without a warning

An undef LENGTH is 0 (refused for anonymous memory with the original's message) without
the "uninitialized value" warning the originals gave.

=item No spurious warning at scope exit

0.20's C<DESTROY> printed C<munmap failed!> every time a C<new()> variable went out of
scope.

=item Unaligned offsets are safe

0.20 stored the alignment slack in the variable's C<SvLEN>, so Perl later C<free()>d an
address inside the mapping and corrupted the heap. Now the variable never owns its buffer.

=item Mappings are owned and unmapped

Each mapping belongs to the variable it was made for and is unmapped when the variable is
freed (0.20 leaked it). C<munmap> works on that variable even after Perl reallocated it (0.20
passed Perl's heap pointer to C<munmap()> and could crash), and refuses every other string
instead of unmapping whatever pages it pointed into.

=item C<hardwire()> is checked

It refuses ranges outside this module's live mappings, and hardwired variables become undef
when their mapping is unmapped (0.20 segfaulted when they were used afterwards, as its BUGS
section says).

=item Bad handles die cleanly

A closed or fake handle dies with C<mmap: file not open or does not have associated
fileno>; 0.20 crashed (a closed handle) or died with Perl's C<Bad filehandle> (a name).

=item The region never leaves the file

An OFFSET past the end of the file, or a LENGTH reaching past it, dies (0.20 mapped the
pages and the process died with C<SIGBUS> when they were touched). With LENGTH 0 the
region ends at the end of the file, not at OFFSET plus the file's size.

=item The byte after a mapping is readable

Each mapping is followed by a page of zero bytes (see C<mmap>); 0.20 and File::Map crash
when Perl reads the byte after a region that ends at a page boundary.

=item Elements, proxies and C<local>

C<mmap($hash{key}, ...)> for a key (or array index) that does not exist yet creates the
element and maps into it, and a proxy C<$_[0]> for it is mapped too; 0.20 mapped into
Perl's temporary proxy for the element, and the mapping was lost. C<local> works on
read-only mapped variables (0.20 too; our earlier versions did not).

=item C<untie> of a C<new()> variable

It leaves a plain variable holding the region's bytes and unmaps the region at once
unless the object is held, as 0.20 did (our earlier versions kept the variable mapped).

=item New: C<msync>, C<MS_*>, working C<MAP_HUGE_2MB> and C<MAP_HUGE_1GB>

0.20 exported the huge page constants but did not define them on Linux. C<msync> dies with
0.21's messages.

=item Threads

A mapped variable cloned into a thread stays valid and the mapping is unmapped once, when
the last clone lets go (0.20 kept no count of the variables sharing a mapping).

=item Taint

Data mapped from a file is tainted under C<-T>.

=item Return values and messages

C<mmap> returns the address as an integer (0.20: a floating-point number with the same
value). C<munmap>, C<msync> and C<hardwire> return 1. Error messages other than those of the
original carry Perl's C< at FILE line N.> (0.20's C<munmap failed!> ended in a newline). For
a pipe or F</dev/zero> with LENGTH 0, 0.21's message gets an explanation after it.

=back

=head1 WHAT CANNOT BE GUARDED

=over 4

=item *

If another process truncates a mapped file, the pages past its new end are gone, and
touching them raises C<SIGBUS>. The module guards its own copies: every assignment to a
C<< Sys::Mmap->new >> variable (of a string, a number, C<sprintf>, C<join>, a concatenation,
...) copies the value into the region without Perl reading the region first, and when that
copy meets lost pages it dies with C<Sys::Mmap: cannot write to the mapped region: the
mapped file shrank under the mapping (Bad address)> and C<$!> set to C<EFAULT> (C<ENOSPC>,
with C<no space left on the device for a page of this sparse file>, when the page is a hole
of a sparse file that a full filesystem cannot back; C<EIO> when the file's storage
failed), instead of killing the process; the variable stays the region,
and the pages that still exist remain usable (a short value written before the lost pages
succeeds). Copies made for an edit (C<s///>, C<chop>, C<untie>, C<local>) die the same way
with C<cannot read the mapped region>.

What cannot be guarded is Perl reading or writing the variable directly: C<substr>,
regular expressions, C<print>, comparisons, numeric conversion (C<$v + 0>, C<$v++>) and
same-length edits of a mapped variable are Perl's own ops working on the mapped memory, with
no copy made by this module, so touching lost pages through them still kills the process
with C<SIGBUS>. That is how C<mmap> works; keep mapped files from shrinking. A C<$SIG{BUS}>
handler replaces the module's guard for the copies above too.

=item *

Code compiled before C<use Sys::Mmap> (an earlier module) does not get the C<new()>
semantics above for the operations it runs: Perl edits the region in place there.

=item *

XS code that writes through C<SvPVX> or frees buffers behind Perl's back bypasses the magic.

=item *

Constructs that append to a variable (C<.=>, a longer C<s///>) make Perl copy it first; on a
multi-gigabyte mapping that costs as much memory.

=item *

C<PROT_EXEC> is passed on as asked.

=back

=head1 SEE ALSO

L<mmap(2)>, L<msync(2)>, L<File::Map> (a different interface to the same idea),
L<PerlIO/:mmap>.

=head1 AUTHORS

This implementation: the mmipc authors. The interface is that of Sys::Mmap 0.20 by Malcolm
Beattie (1996), Scott Walters, Todd Rinaldo and CowboyTim.

=head1 LICENSE

Copyright (c) 2026, the mmipc authors. This module is free software under the BSD 2-Clause
License: the file F<LICENSE> of the distribution (of the mmipc sources; installed by mmipc's
C<make install> as F<share/doc/mmipc/LICENSE> under its prefix) has its text.

The test files of Sys::Mmap 0.20 that the distribution carries unchanged in F<t/upstream/>,
to run the original's own tests against this module, remain under their authors' terms, the
same as Perl's (the Artistic License or the GNU General Public License).

=cut
