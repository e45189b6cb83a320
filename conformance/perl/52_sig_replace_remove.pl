#!/usr/bin/perl
# Scenario 52: one watcher per (session, signal).  A second sig() for the
# same signal replaces the first (new event, new extra args); sig($name)
# removes it, after which the signal is simply not delivered.  Removing a
# TERM watcher leaves the session defenceless: the next TERM, handled by
# nobody, stops it.
use strict;
use warnings;
use POE;
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub {
      my $k = $_[KERNEL];
      $k->sig(PING => 'first', 'a1');
      $k->sig(PING => 'second', 'b1', 'b2');
      $k->sig(TERM => 'on_term');
      $k->delay(never => 5);
      $k->signal($_[SESSION], PING => 'p1');
      $k->yield('step2');
    },
    first  => sub { print "first ", join(',', @_[ARG0 .. $#_]), " (unexpected)\n"; },
    second => sub { print "second ", join(',', @_[ARG0 .. $#_]), "\n"; },
    step2  => sub {
      my $k = $_[KERNEL];
      print "step2: sig(PING) removes the watcher, signalling PING again\n";
      $k->sig('PING');
      $k->signal($_[SESSION], PING => 'p2');
      $k->yield('step3');
    },
    step3 => sub {
      my $k = $_[KERNEL];
      print "step3: still alive; sig(TERM) removed, signalling TERM\n";
      $k->sig('TERM');
      $k->signal($_[SESSION], 'TERM');
      $k->yield('step4');
    },
    step4   => sub { print "step4 (unexpected)\n"; },
    on_term => sub { print "on_term (unexpected)\n"; },
    never   => sub { print "never (unexpected)\n"; },
    _stop   => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
