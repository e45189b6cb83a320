#!/usr/bin/perl
# Scenario 70: the same as 69 for stop() called in a handler: every
# session's _stop runs first (the caller's too), and only then are the
# heaps destroyed, in the order the sessions stopped.  P creates child C;
# P calls stop().
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
      print "P calls stop\n";
      $_[KERNEL]->stop();
    },
    _child => sub { print "P _child $_[ARG0]\n" },
    _stop => sub { print "P _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
