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

=head1 NAME

Sys::Mmap - map a file or shared memory into a Perl variable

=head1 SYNOPSIS

    use Sys::Mmap;

    # The preferred interface: the variable is the file (created and grown as needed).
    Sys::Mmap->new(my $str, 8192, 'data.bin') or die $!;
    $str = 'header';                    # writes over the start of the file
    substr($str, 1024, 11) = 'Hello world';

    # Anonymous memory shared with forked children.
    Sys::Mmap->new(my $shared, 8192) or die $!;

    # The raw interface.
    open my $fh, '<', 'index.html' or die $!;
    mmap(my $foo, 0, PROT_READ, MAP_SHARED, $fh) or die "mmap: $!";
    my @tags = $foo =~ /<(.*?)>/g;
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

This is a drop-in replacement for Sys::Mmap 0.20 from CPAN, written in C++ on the mmipc
library: scripts written for 0.20 run unchanged, and the weaknesses 0.20 lists in its own
BUGS section are gone (see L</DIFFERENCES FROM SYS::MMAP 0.20>).

Perl's own C<:mmap> PerlIO layer presents a mapped file as a file handle instead, if that
is what you need.

=head1 FUNCTIONS

C<mmap>, C<munmap>, C<msync> and the constants are exported by default; C<hardwire> is not
(call it as C<Sys::Mmap::hardwire>). Every function dies (C<croak>) on error, with the
messages listed under L</DIAGNOSTICS>, and sets C<$!> where a system error is the cause.

=head2 Sys::Mmap->new(VARIABLE, LENGTH, OPTIONALFILENAME)

Maps LENGTH bytes of the file OPTIONALFILENAME read-write and shared (C<MAP_SHARED>), or,
without a file name (or with a false one), LENGTH bytes of anonymous shared memory that
every child C<fork()>ed afterwards shares. A missing file is created; a file shorter than
LENGTH is grown to LENGTH with zero bytes; a LENGTH of 0 maps the whole file. Returns a
true object (a C<Sys::Mmap>).

VARIABLE then is the region:

=over 4

=item *

Reading it gives the whole region, at the cost of reading any string (no C<tie>, no copy).

=item *

Assigning to it writes the value over the start of the region and leaves the rest as it
was; a value longer than the region is cut to the region's length. The variable still reads
as the whole region afterwards. Numbers are written as their string form, character strings
as bytes (Latin-1 where possible, else UTF-8).

=item *

C<substr(VARIABLE, POSITION, LENGTH) = VALUE> writes at an offset; with a VALUE of the same
length it writes in place. A replacement of a different length shifts the rest of the
region like a string edit and is then cut to the region.

=item *

The region is unmapped when VARIABLE goes out of scope (or is freed), silently.

=back

With fewer than two arguments it warns C<Usage: Sys::Mmap-E<gt>new( $var, $desiredSize,
$optFile );> and returns undef; when the file cannot be opened it warns C<mmap: could not
open file 'FILE' for append r/w> and returns undef. Other errors die as C<mmap> does.

The file is opened with Perl's C<open>, like any path a program names: a missing file is
created with mode 0666 less the umask, and a symbolic link at that path is followed (it is
the caller's own name for the file). No other path is ever opened, and no descriptor is
kept once the region is mapped.

The 0.20 interface C<tie $var, 'Sys::Mmap', LENGTH, OPTIONALFILENAME> still works, for
scripts that used it directly; it costs a copy of the region on every read, as it did.

=head2 mmap(VARIABLE, LENGTH, PROTECTION, FLAGS, FILEHANDLE, OFFSET)

Maps LENGTH bytes of the file open on FILEHANDLE, from OFFSET (default 0), and makes
VARIABLE's string buffer be that memory. Returns the address of the mapping as an integer.

=over 4

=item LENGTH

The number of bytes; 0 means "to the end of the file" (its size minus OFFSET). The region
must lie inside the file: pages past the end of a file cannot be touched without a
C<SIGBUS>, so they are refused.

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
frees it (when it goes out of scope), whichever comes first. Like any Perl string it is
copied by constructs that copy strings; assigning to it gives it ordinary storage of its
own ("detaches" it, as in 0.20) but it still owns the mapping, so C<munmap> still works.
To write in place, use C<substr> as an lvalue with a replacement of exactly the same length.

=head2 munmap(VARIABLE)

Unmaps the region VARIABLE was mapped to by C<mmap> or C<new> and makes VARIABLE undef.
Returns 1. Variables hardwired into the region become undef too. On a hardwired variable
it only lets go of the region (which stays mapped for its owner) and makes it undef.

It never unmaps memory it did not map: a variable that holds no mapping of this module
dies with one of the messages under L</DIAGNOSTICS>.

If the variable was cloned into other threads, the region is unmapped when the last clone
lets go of it; each C<munmap> lets go of one.

=head2 msync(VARIABLE, FLAGS)

Writes changes in the region (for a hardwired variable: in its part of the region) back to
the file. FLAGS is C<MS_SYNC> (the default: wait for the write), or C<MS_ASYNC> (schedule
it), optionally or'ed with C<MS_INVALIDATE>. Returns 1. Mapping and unmapping never
synchronise implicitly, but the kernel writes shared mappings back eventually anyway.

=head2 Sys::Mmap::hardwire(VARIABLE, ADDRESS, LENGTH)

Makes VARIABLE's buffer be LENGTH bytes at ADDRESS, which must lie inside a live mapping
made by this module (typically an address returned by C<mmap> plus an offset). Returns
true. The variable is read-only when the mapping is. When the mapping goes away (C<munmap>
of its owner, or its owner being freed), the hardwired variable becomes undef instead of
pointing at unmapped memory. Any other ADDRESS range dies.

=head1 CONSTANTS

Integer constants with the platform's values (Linux x86-64 values shown), exported by
default:

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
C<EINVAL> for an unknown name, as in 0.20.

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

Each message is followed by Perl's usual C< at FILE line N.>

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

Anonymous memory needs a LENGTH.

=item mmap: file not open or does not have associated fileno

FILEHANDLE is undef, closed, not a handle at all, or a handle without a file descriptor
(an in-memory or tied handle).

=item mmap: no len provided, fstat failed, unable to infer length

LENGTH was 0 and the file's size could not be read.

=item mmap: no len provided, a device has no size to infer it from

LENGTH was 0 for a character device such as F</dev/zero>.

=item mmap: offset %d is at or beyond end of file (%d bytes)

OFFSET is past the end of the file, or LENGTH was 0 and nothing lies after OFFSET
(including any mapping of an empty file with LENGTH 0). C<$!> is C<EINVAL>.

=item mmap: offset %d plus length %d runs beyond end of file (%d bytes)

The region would extend past the end of the file. C<$!> is C<EINVAL>.

=item mmap: offset %d or length %d is too large

The region does not fit the address space. C<$!> is C<EINVAL>.

=item mmap: mmap call failed: errno: %d errmsg: %s

The system refused (C<$!> holds the error): for example C<errno: 13 errmsg: Permission
denied> for C<PROT_WRITE> with C<MAP_SHARED> on a handle opened read-only, C<errno: 19
errmsg: No such device> for a pipe, socket or directory, C<errno: 22 errmsg: Invalid
argument> for flags other than exactly one of C<MAP_SHARED> and C<MAP_PRIVATE> plus the
supported ones, or for unknown PROTECTION bits.

=item mmap: variable is not a plain scalar

=item mmap: variable is tied

VARIABLE cannot hold a mapping (a glob, an lvalue proxy, a tied scalar).

=item Modification of a read-only value attempted

Perl's own message: assigning to a variable mapped without C<PROT_WRITE>, or mapping into a
constant.

=item undef variable not unmappable

C<munmap> of undef, including a variable already unmapped.

=item variable is not a string, type is: %d

C<munmap> of a number or a reference (the number is Perl's internal SV type).

=item munmap failed! errno 22 Invalid argument

C<munmap> of a string that is not a mapping of this module (C<$!> is C<EINVAL>). Nothing is
unmapped.

=item msync: variable is not mapped

C<msync> of a variable that holds no mapping. C<$!> is C<EINVAL>.

=item msync: msync call failed: errno: %d errmsg: %s

The system refused, or FLAGS held both C<MS_SYNC> and C<MS_ASYNC> or unknown bits.

=item hardwire: address %#x length %d is not inside a live mapping made by Sys::Mmap

The range is not inside a mapping of this module that is still mapped. C<$!> is C<EINVAL>.

=item hardwire: address is not a number

=item hardwire: length is not a non-negative number

=item hardwire: variable holds a mapping of its own; munmap it first

=item Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );

(warning) C<new> was called with fewer than two arguments; it returns undef.

=item mmap: could not open file '%s' for append r/w

(warning) C<new> could not open or create the file; it returns undef.

=item mmap: could not grow '%s' to %d bytes: %s

C<new> could not extend the file to LENGTH.

=back

=head1 DIFFERENCES FROM SYS::MMAP 0.20

Scripts written for 0.20 run unchanged. What changed, and why:

=over 4

=item C<new()> uses variable magic, not C<tie>

0.20 tied the variable, and every read copied the whole region (its BUGS section reports
programs 10 to 20 times slower than with C<mmap>). Now the variable is the mapped memory
and only assignments run a hook, so reads and C<substr> cost what they cost on a raw
C<mmap> variable. C<tied($var)> is therefore false. The C<tie> interface itself remains for
scripts that call it directly.

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

=item Elements and C<local>

C<mmap($hash{key}, ...)> for a key (or array index) that does not exist yet creates the
element and maps into it; 0.20 mapped into Perl's temporary proxy for the element, and the
mapping was lost. C<local $mapped> gives the variable an ordinary value for the scope and
restores the mapped variable afterwards.

=item New: C<msync>, C<MS_*>, working C<MAP_HUGE_2MB> and C<MAP_HUGE_1GB>

0.20 exported the huge page constants but did not define them on Linux.

=item Threads

A mapped variable cloned into a thread stays valid and the mapping is unmapped once, when
the last clone lets go (0.20 kept no count of the variables sharing a mapping).

=item Taint

Data mapped from a file is tainted under C<-T>.

=item Return values

C<mmap> returns the address as an integer (0.20: a floating-point number with the same
value). C<munmap>, C<msync> and C<hardwire> return 1. Error messages other than those of the
original carry Perl's C< at FILE line N.> (0.20's C<munmap failed!> ended in a newline).

=back

=head1 WHAT CANNOT BE GUARDED

=over 4

=item *

If another process truncates a mapped file, the pages past its new end are gone, and
touching them raises C<SIGBUS>. The module guards its own copies: assigning to a
C<< Sys::Mmap->new >> variable copies the value into the region, and when that copy meets
lost pages it dies with C<Sys::Mmap: cannot write to the mapped region: the mapped file
shrank under the mapping (Bad address)> and C<$!> set to C<EFAULT> (C<EIO> when the file's
storage failed), instead of killing the process; the variable stays the region, and the
pages that still exist remain usable.

What cannot be guarded is Perl reading or writing the variable directly: C<substr>,
regular expressions, C<print>, comparisons and in-place changes of a mapped variable are
Perl's own ops working on the mapped memory, with no copy made by this module, so touching
lost pages through them still kills the process with C<SIGBUS>. That is how C<mmap> works;
keep mapped files from shrinking. A C<$SIG{BUS}> handler replaces the module's guard for the
copies above too.

=item *

The variable's string is not NUL-terminated when the region ends exactly at a page
boundary. Perl itself respects string lengths, but XS code or system calls that take the
variable as a C string (a file name, say) may read past the region.

=item *

XS code that writes through C<SvPVX> or frees buffers behind Perl's back bypasses the magic.

=item *

Constructs that change a string's length (C<.=>, C<s///> with a longer replacement, C<=> on
an C<mmap> variable) make Perl copy the whole region first; on a multi-gigabyte mapping that
costs as much memory.

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

Same terms as Perl itself.

=cut
