#!/usr/bin/perl
# Scenario 41: one queue ordered by due time.  FIFO events (post/yield)
# get priority "now" (forced strictly above the previous FIFO event);
# timers get their due time.  So:
#  1. a timer whose due time is already past (alarm at now-5 s) jumps
#     ahead of FIFO events queued before it;
#  2. delay(x => 0) lands between the yields made before and after it;
#  3. timers due at the same instant fire in the order they were set
#     (not in name order).
use strict;
use warnings;
use POE;
use Time::HiRes qw(time);
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub {
      my $k = $_[KERNEL];
      $k->yield(ev => 'y1');
      $k->yield(ev => 'y2');
      $k->alarm(past => time() - 5);
      $k->yield(ev => 'y3');
      $k->delay(zero => 0);
      $k->yield(ev => 'y4');
      my $at = time() + 0.2;
      $k->alarm_add(same => $at, 'first-set');
      $k->alarm_add(same => $at, 'second-set');
      $k->alarm_add(also => $at, 'third-set');
      $k->alarm_add(same => $at, 'fourth-set');
    },
    ev    => sub { print "fifo $_[ARG0]\n"; },
    past  => sub { print "timer past (due 5 s ago)\n"; },
    zero  => sub { print "timer zero (delay 0)\n"; },
    same  => sub { print "timer same $_[ARG0]\n"; },
    also  => sub { print "timer also $_[ARG0]\n"; },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
