#!/usr/bin/perl
# Scenario 59: driving the kernel with run_one_timeslice().  Each call
# runs one round and returns true while sessions exist; the call made
# after the last session has gone returns false (and finalises the
# kernel).  A 2-step yield chain plus the end-of-life GC check: the
# session's last event runs in round 3 and it is collected at the end
# of that round -- yet that call and the next still return true: the
# kernel is itself a session, which the following round stops (it gets
# IDLE with nobody left); only the call after that returns false.
use strict;
use warnings;
use POE;
$| = 1;

POE::Kernel->run();    # empty run: silences the "run() never called" warning

POE::Session->create(
  inline_states => {
    _start => sub { print "S _start\n"; $_[KERNEL]->yield(step => 1); },
    step   => sub {
      print "S step $_[ARG0]\n";
      $_[KERNEL]->yield(step => $_[ARG0] + 1) if $_[ARG0] < 3;
    },
    _stop => sub { print "S _stop\n"; },
  },
);

my $n = 0;
while (1) {
  $n++;
  my $r = POE::Kernel->run_one_timeslice();
  print "main: timeslice $n returned ", ($r ? 'true' : 'false'), "\n";
  last unless $r;
  die "runaway" if $n > 20;
}
print "main: done after $n timeslices\n";
