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

sub new {
  if (@_ < 3) {
    Carp::carp('Usage: Sys::Mmap->new( $var, $desiredSize, $optFile );');
    return undef;
  }
  my ($class, undef, $length, $file) = @_;
  my $address;
  if ($file) {
    my $fh;
    unless (open $fh, '+>>', $file) {
      Carp::carp("mmap: could not open file '$file' for append r/w");
      return undef;
    }
    binmode $fh;
    # Grow the file with zero bytes (a hole) so that every mapped byte is backed by the file.
    my $size = -s $fh;
    if (defined $length && $length > $size) {
      truncate($fh, $length) or Carp::croak("mmap: could not grow '$file' to $length bytes: $!");
    }
    $address = _map_shared($_[1], $length, $fh);
    close $fh;
  }
  else {
    $address = _map_shared($_[1], $length, undef);
  }
  return bless \$address, ref($class) || $class;
}

# The original's tie() interface, for scripts that tie directly.
sub TIESCALAR {
  my ($class, $length, $file) = @_;
  my $me;
  $class->new($me, $length, $file) or return undef;
  return bless \$me, $class;
}

sub FETCH { ${ $_[0] } }

sub STORE {
  my ($me, $value) = @_;
  $$me = $value;    # the variable's magic writes it over the start of the region
  return $$me;
}

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

1;
__END__

=head1 NAME

Sys::Mmap - map a file or shared memory into a Perl variable

=cut
