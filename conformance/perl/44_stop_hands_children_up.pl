#!/usr/bin/perl
# Scenario 44: a session force-stopped while it still has children hands
# them to its own parent: for each child, the grandparent gets
# _child('gain', child) and then the child gets _parent(old, new); only
# then does the stopping session get _stop, and its parent _child('lose').
# Getting there: a terminal signal touches the target *and* all its
# descendants (computed before any handler runs) and stops the deepest
# first, so a child that existed when TERM was dispatched is stopped
# before its parent.  P's TERM handler (which does not handle it) creates
# a new child C2 that the signal never touched; P is stopped while C2
# still exists, so C2 is handed up to GP and lives on.
use strict;
use warnings;
use POE;
$| = 1;

my %name;
sub nm { my $s = shift; return 'kernel' if ref($s) eq 'POE::Kernel'; return $name{$s->ID} || $s->ID }

sub kid {
  my ($n, $secs) = @_;
  POE::Session->create(
    inline_states => {
      _start  => sub { $name{$_[SESSION]->ID} = $n; $_[KERNEL]->delay(done => $secs); },
      done    => sub { print "$n done\n"; },
      _parent => sub {
        print "$n _parent old=", nm($_[ARG0]), " new=", nm($_[ARG1]), "\n";
      },
      _stop   => sub { print "$n _stop\n"; },
    },
  );
}

my $p_id;
POE::Session->create(
  inline_states => {
    _start => sub {
      $name{$_[SESSION]->ID} = 'GP';
      $_[KERNEL]->delay(linger => 0.4);
      POE::Session->create(
        inline_states => {
          _start => sub {
            $p_id = $_[SESSION]->ID;
            $name{$p_id} = 'P';
            $_[KERNEL]->sig(TERM => 'on_term');
            $_[KERNEL]->delay(never => 5);
            kid('C1', 5);
          },
          on_term => sub {
            print "P on_term (not handled), creating C2\n";
            kid('C2', 0.2);
            print "P on_term ends\n";
          },
          never  => sub { print "P never (unexpected)\n"; },
          _child => sub { print "P _child $_[ARG0] ", nm($_[ARG1]), "\n"; },
          _stop  => sub { print "P _stop\n"; },
        },
      );
      $_[KERNEL]->yield('kill_p');
    },
    kill_p => sub { print "GP signals P TERM\n"; $_[KERNEL]->signal($p_id, 'TERM'); },
    linger => sub { print "GP linger\n"; },
    _child => sub { print "GP _child $_[ARG0] ", nm($_[ARG1]), "\n"; },
    _stop  => sub { print "GP _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
