#!/usr/bin/perl
# Scenario 46: garbage-collection order.  Sessions that become collectable
# in one round are stopped at the end of it in reverse order of becoming
# collectable: three idle sessions created A, B, C stop C, B, A.  A parent
# is held only by its children; when its last child stops, the parent is
# collected in the same sweep, right after its _child('lose').
use strict;
use warnings;
use POE;
$| = 1;

my %name;
sub nm { my $s = shift; return 'kernel' if ref($s) eq 'POE::Kernel'; return $name{$s->ID} || $s->ID }

POE::Session->create(
  inline_states => {
    _start => sub {
      $name{$_[SESSION]->ID} = 'P';
      for my $k ([K1 => 0.1], [K2 => 0.2]) {
        my ($n, $secs) = @$k;
        POE::Session->create(
          inline_states => {
            _start => sub { $name{$_[SESSION]->ID} = $n; $_[KERNEL]->delay(done => $secs); },
            done   => sub { print "$n done\n"; },
            _stop  => sub { print "$n _stop\n"; },
          },
        );
      }
    },
    _child => sub { print "P _child $_[ARG0] ", nm($_[ARG1]), "\n" if $_[ARG0] eq 'lose'; },
    _stop  => sub { print "P _stop\n"; },
  },
);

for my $n (qw(A B C)) {
  POE::Session->create(
    inline_states => {
      _start => sub { print "$n _start\n"; },
      _stop  => sub { print "$n _stop\n"; },
    },
  );
}

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->delay(tick => 0.3); },
    tick   => sub { print "T tick (after P is gone)\n"; },
    _stop  => sub { print "T _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
