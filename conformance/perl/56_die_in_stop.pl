#!/usr/bin/perl
# Scenario 56: a die inside _stop is not turned into a DIE signal (the
# session is going away anyway, and no DIE watcher hears it); the error
# is recorded and run() rethrows it.  S is collected by the end-of-round
# GC sweep and its _stop dies.  1.37 checks for a recorded error only
# after dispatching a queued event, so T's next timer (tick, 0.2 s) still
# fires; right after it the kernel stops everything (T gets _stop, its
# second timer never fires) and run() dies with S's message, which the
# script prints (first line only).
use strict;
use warnings;
use POE;
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->sig(DIE => 'on_die'); $_[KERNEL]->yield('work'); },
    work   => sub { print "S work\n"; },
    on_die => sub { print "S on_die (unexpected)\n"; },
    _stop  => sub { print "S _stop: dying\n"; die "failure in _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->sig(DIE => 'on_die'); $_[KERNEL]->delay(tick => 0.2); $_[KERNEL]->delay(tock => 0.4); },
    tick   => sub { print "T tick\n"; },
    tock   => sub { print "T tock (unexpected)\n"; },
    on_die => sub { print "T on_die (unexpected)\n"; },
    _stop  => sub { print "T _stop\n"; },
  },
);

my $ok = eval { POE::Kernel->run(); 1 };
my ($first) = split /\n/, ($@ || '');
print "main: run ", ($ok ? "returned normally" : "died with: $first"), "\n";
