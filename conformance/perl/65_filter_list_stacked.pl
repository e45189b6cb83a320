#!/usr/bin/perl
# Scenario 65: POE's list-based filter interface on the record-level
# filters RecordBlock, Map and Grep, and on Stackable, each stacked on a
# byte-level filter the way rpoe wraps one (rpoe's RecordBlock::new(Line,
# 2) is POE's Stackable of Line then RecordBlock; likewise Map and Grep).
# get() over several chunks, put() of several records and of none,
# get_one_start()/get_one(), and get_pending() where nothing is left below
# the top filter.  Records and chunks are shown in brackets, a block of
# records in braces, (none) for an empty list.
use strict;
use warnings;
use POE::Filter::Line;
use POE::Filter::Stream;
use POE::Filter::Block;
use POE::Filter::RecordBlock;
use POE::Filter::Map;
use POE::Filter::Grep;
use POE::Filter::Stackable;
$| = 1;

sub esc { my $x = shift; $x =~ s/\r/\\r/g; $x =~ s/\n/\\n/g; $x =~ s/\0/\\0/g; return "[$x]" }
sub item { my $x = shift; return ref $x ? '{' . join(' ', map { esc($_) } @$x) . '}' : esc($x) }
sub list { my $l = shift; return @$l ? join(' ', map { item($_) } @$l) : '(none)' }
sub pending { my $p = shift->get_pending; my $s = esc($p ? join('', @$p) : ''); return "pending=$s" }
sub stack { POE::Filter::Stackable->new(Filters => [@_]) }
sub lf { POE::Filter::Line->new(Literal => "\n") }

sub get_many {
  my ($label, $filter, @chunks) = @_;
  print "$label: get ", list($filter->get(\@chunks)), "\n";
}
sub put_many {
  my ($label, $filter, @records) = @_;
  print "$label: put ", list($filter->put(\@records)), "\n";
}
sub one_at_a_time {
  my ($label, $filter, $chunks, $calls) = @_;
  $filter->get_one_start($chunks);
  print "$label: get_one ", join(' | ', map { list($filter->get_one) } 1 .. $calls), "\n";
}

# RecordBlock: records grouped in blocks of 2; put() flattens every block
# into one chunk per record.
sub pairs { stack(lf(), POE::Filter::RecordBlock->new(BlockSize => 2)) }
get_many('RecordBlock several chunks', pairs(), "a\nb", "\nc\n", "d\ne");
put_many('RecordBlock put two blocks', pairs(), ['x', 'y'], ['z']);
put_many('RecordBlock put none', pairs());
put_many('RecordBlock put empty block', pairs(), []);
one_at_a_time('RecordBlock one at a time', pairs(), ["1\n2\n3\n4\n5\n"], 3);
{
  my $f = pairs();
  $f->get(["p\nq\n"]);
  print "RecordBlock nothing left: ", pending($f), "\n";
}

# Map: each record converted on the way in and on the way out.
sub upper { stack(lf(), POE::Filter::Map->new(Get => sub { uc $_[0] }, Put => sub { lc $_[0] })) }
get_many('Map several chunks', upper(), "ab\nc", "d\n");
put_many('Map put two', upper(), 'Xy', 'Z');
put_many('Map put none', upper());
one_at_a_time('Map one at a time', upper(), ["a\nb\n"], 3);

# Grep: records failing the test are dropped, in and out.
sub wanted {
  stack(lf(), POE::Filter::Grep->new(
    Get => sub { length $_[0] && $_[0] !~ /^#/ },
    Put => sub { $_[0] ne 'skip' },
  ));
}
get_many('Grep several chunks', wanted(), "a\n\n#c\n", "b\n");
put_many('Grep put three', wanted(), 'x', 'skip', 'y');
put_many('Grep put all refused', wanted(), 'skip');
one_at_a_time('Grep one at a time', wanted(), ["#1\n#2\nok\n#3\n"], 2);

# Stackable: length-prefixed frames holding LF-terminated lines.
sub framed { stack(POE::Filter::Block->new, lf()) }
get_many('Stackable several chunks', framed(), "8\0one\ntw", "o\n6\0thr");
put_many('Stackable put two', framed(), 'a', 'b');
put_many('Stackable put none', framed());
one_at_a_time('Stackable one at a time', framed(), ["2\0a\n2\0b\n"], 3);
# An empty record from the top filter is still passed down.
put_many('Stackable Line+Stream put empty', stack(lf(), POE::Filter::Stream->new), '', 'x');
# A fixed-size Block on top joins the records before the layer below.
put_many('Stackable Line+Block 2 put two', stack(lf(), POE::Filter::Block->new(BlockSize => 2)), 'ab', 'cd');
{
  my $f = framed();
  $f->get(["2\0a\n"]);
  print "Stackable nothing left: ", pending($f), "\n";
}
