#!/usr/bin/perl
# Scenario 62: two sessions each running a yield loop interleave one for
# one, and each round dispatches only the events that were queued before
# it began: a yield made during a round waits for the next one.  The
# kernel is driven with run_one_timeslice() so the rounds are visible;
# the loop ends when both sessions have stopped (counted in _stop), then
# run() finishes the kernel.
use strict;
use warnings;
use POE;
$| = 1;

POE::Kernel->run();    # empty run: silences the "run() never called" warning

my $live = 0;
for my $n (qw(A B)) {
  POE::Session->create(
    inline_states => {
      _start => sub { $live++; $_[KERNEL]->yield(tick => 1); },
      tick   => sub {
        print "  $n tick $_[ARG0]\n";
        $_[KERNEL]->yield(tick => $_[ARG0] + 1) if $_[ARG0] < 3;
      },
      _stop => sub { $live--; print "  $n _stop\n"; },
    },
  );
}

my $round = 0;
while ($live) {
  $round++;
  print "round $round\n";
  POE::Kernel->run_one_timeslice();
}
POE::Kernel->run();
print "main: after run\n";
