#!/usr/bin/perl
# Scenario 43: alarm_remove_all() returns every pending timer of the
# session as [name, due_time, @args], in due order (not the order set),
# and a session whose only reason to live was those timers is stopped at
# the end of that same round -- long before the timers would have fired.
use strict;
use warnings;
use POE;
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub {
      my $k = $_[KERNEL];
      $k->delay(c => 0.9, 'c-arg');
      $k->delay(a => 0.3, 'a-arg', 'a2');
      $k->delay(b => 0.6);
      $k->yield('clear');
    },
    clear => sub {
      my @all = $_[KERNEL]->alarm_remove_all();
      print "S removed ", scalar(@all), " timers\n";
      for my $t (@all) {
        my ($name, $time, @args) = @$t;
        print "S removed $name args=[", join(',', @args), "]\n";
      }
      print "S clear handler ends\n";
    },
    a     => sub { print "S a fired (unexpected)\n"; },
    b     => sub { print "S b fired (unexpected)\n"; },
    c     => sub { print "S c fired (unexpected)\n"; },
    _stop => sub { print "S _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->delay(tick => 0.2); },
    tick   => sub { print "T tick at 0.2 s\n"; },
    _stop  => sub { print "T _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
