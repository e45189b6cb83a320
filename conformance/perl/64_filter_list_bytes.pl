#!/usr/bin/perl
# Scenario 64: POE's list-based filter interface on the byte-level filters
# Line, Stream and Block (no kernel needed): get() over several chunks at
# once, put() of several records and of none, get_one_start()/get_one()
# one record at a time, and get_pending() between them.  Each record or
# chunk is shown in brackets, (none) for an empty list, and a pending
# list is shown joined (undef and an empty list both print pending=[]).
use strict;
use warnings;
use POE::Filter::Line;
use POE::Filter::Stream;
use POE::Filter::Block;
$| = 1;

sub esc { my $x = shift; $x =~ s/\r/\\r/g; $x =~ s/\n/\\n/g; $x =~ s/\0/\\0/g; return "[$x]" }
sub list { my $l = shift; return @$l ? join(' ', map { esc($_) } @$l) : '(none)' }
sub pending { my $p = shift->get_pending; my $s = esc($p ? join('', @$p) : ''); return "pending=$s" }

sub get_many {
  my ($label, $filter, @chunks) = @_;
  my $records = $filter->get(\@chunks);
  print "$label: get ", list($records), " ", pending($filter), "\n";
}
sub put_many {
  my ($label, $filter, @records) = @_;
  print "$label: put ", list($filter->put(\@records)), "\n";
}
sub one_at_a_time {
  my ($label, $filter, $starts, $calls) = @_;
  $filter->get_one_start($_) for @$starts;
  my @seen;
  for (1 .. $calls) {
    push @seen, list($filter->get_one) . ' ' . pending($filter);
  }
  print "$label: get_one ", join(' | ', @seen), "\n";
}

# Line: the chunks of one get() are joined before lines are cut, so a CRLF
# split between two chunks of the same call is one newline.
get_many('Line CRLF split inside one get', POE::Filter::Line->new, "a\r", "\nb\n", "c");
get_many('Line empty chunks',              POE::Filter::Line->new, "", "x\n", "");
get_many('Line no chunks',                 POE::Filter::Line->new);
get_many('Line Literal split terminator',  POE::Filter::Line->new(Literal => "||"), "a|", "|b||");
get_many('Line autodetect over chunks',    POE::Filter::Line->new(InputLiteral => undef), "a\r", "\nb\r\n");
put_many('Line put two',  POE::Filter::Line->new, 'x', 'y');
put_many('Line put none', POE::Filter::Line->new);
put_many('Line put empty line', POE::Filter::Line->new, '');
put_many('Line put OutputLiteral', POE::Filter::Line->new(OutputLiteral => "\n"), 'x', 'y');
# get_one cuts lazily: what it has not cut yet is still pending.
one_at_a_time('Line one at a time', POE::Filter::Line->new, [["1\n2\n", "3"]], 3);
one_at_a_time('Line two starts, no get_one between',
  POE::Filter::Line->new, [["a\r"], ["\nb\n"]], 3);
{
  my $f = POE::Filter::Line->new(MaxLength => 3);
  $f->get_one_start(["ab\nabcd\nx\n"]);
  my $first = list($f->get_one);
  my $second = eval { list($f->get_one) };
  (my $err = $@) =~ s/ at .*//s;
  print "Line MaxLength 3 get_one: $first then ", (defined $second ? $second : "died [$err]"), "\n";
}

# Stream: a get() of several chunks is one record, their concatenation.
get_many('Stream several chunks', POE::Filter::Stream->new, "ab", "", "cd");
get_many('Stream no chunks',      POE::Filter::Stream->new);
get_many('Stream one empty chunk', POE::Filter::Stream->new, "");
put_many('Stream put three',      POE::Filter::Stream->new, 'x', '', 'y');
put_many('Stream put none',       POE::Filter::Stream->new);
one_at_a_time('Stream one at a time', POE::Filter::Stream->new, [["a", "b"], ["c"]], 2);
{
  my $f = POE::Filter::Stream->new;
  $f->get_one_start(["held"]);
  print "Stream after get_one_start: ", pending($f), "\n";
}

# Block, fixed size: put() concatenates every record into one chunk,
# whatever their lengths, and even for no records at all.
get_many('Block 4 several chunks', POE::Filter::Block->new(BlockSize => 4), "ab", "cdef", "gh", "i");
put_many('Block 4 put three', POE::Filter::Block->new(BlockSize => 4), 'ab', 'cd', 'efgh');
put_many('Block 4 put short', POE::Filter::Block->new(BlockSize => 4), 'abc');
put_many('Block 4 put none',  POE::Filter::Block->new(BlockSize => 4));
one_at_a_time('Block 4 one at a time', POE::Filter::Block->new(BlockSize => 4),
  [["abcdefgh", "ij"]], 3);

# Block, length-prefixed (LEN\0payload): one chunk per record.
get_many('Block prefixed several chunks', POE::Filter::Block->new, "3\0a", "bc2\0", "de1");
get_many('Block prefixed empty record',   POE::Filter::Block->new, "0\0", "1\0z");
put_many('Block prefixed put three', POE::Filter::Block->new, 'abc', '', 'hi');
put_many('Block prefixed put none',  POE::Filter::Block->new);
one_at_a_time('Block prefixed one at a time', POE::Filter::Block->new, [["2\0ab2\0cd"]], 3);
