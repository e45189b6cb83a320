#!/usr/bin/perl
# Scenario 69: heaps are freed after every _stop.  When an unhandled
# terminal signal (TERM, sent to the kernel) stops every session, POE runs
# each session's _stop first and only then frees the sessions, so objects
# in the heaps are destroyed (DESTROY) after the last _stop, in the order
# the sessions stopped.  P creates child C (a tree, so the stop order is
# fixed: child first); P sends the signal.
use strict;
use warnings;
use POE;
$| = 1;

package Tracker;
sub new { my ($class, $name) = @_; return bless { name => $name }, $class }
sub DESTROY { print "DESTROY $_[0]{name}\n" }

package main;

POE::Session->create(
  heap => { t => Tracker->new('P') },
  inline_states => {
    _start => sub {
      POE::Session->create(
        heap => { t => Tracker->new('C') },
        inline_states => {
          _start => sub { $_[KERNEL]->delay(never => 10) },
          _stop => sub { print "C _stop\n"; },
        },
      );
      $_[KERNEL]->delay(tick => 0.1);
    },
    tick => sub {
      print "P signals TERM\n";
      $_[KERNEL]->signal($_[KERNEL], 'TERM');
    },
    _child => sub { print "P _child $_[ARG0]\n" },
    _stop => sub { print "P _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
