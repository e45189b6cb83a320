#!/usr/bin/perl
# Scenario 61: call() and post() of an event the destination has no
# handler for.  Without _default: call() returns undef, and -- because
# call() resets $! to 0 after every dispatch -- $! is 0, not the ENOSYS
# the session layer set (so does a successful call); post() returns 1 and
# the event is later dropped silently.  With _default: call() returns
# _default's value (list context too), and the posted event lands in
# _default.  Calling a missing handler in one's own session behaves the
# same.
use strict;
use warnings;
use POE;
use Errno qw(ENOSYS);
$| = 1;

my ($n_id, $d_id);
POE::Session->create(
  inline_states => {
    _start => sub { $n_id = $_[SESSION]->ID; $_[KERNEL]->delay(bye => 0.2); },
    known  => sub { return "known-ret"; },
    bye    => sub {
      $! = 0;
      my $r = $_[KERNEL]->call($_[SESSION], 'nope_self');
      print "N call(self, nope_self) -> ", (defined $r ? $r : 'undef'), " errno=", ($! + 0), "\n";
    },
    _stop  => sub { print "N _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start   => sub { $d_id = $_[SESSION]->ID; $_[KERNEL]->delay(bye => 0.3); },
    _default => sub { print "D _default $_[ARG0] args=[", join(',', @{$_[ARG1]}), "]\n"; return "dflt:$_[ARG0]"; },
    bye      => sub { },
    _stop    => sub { print "D _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->yield('go'); },
    go     => sub {
      my $k = $_[KERNEL];
      $! = ENOSYS;
      my $r = $k->call($n_id, known => 1);
      print "C call(N, known) -> $r errno=", ($! + 0), "\n";
      $! = 0;
      $r = $k->call($n_id, nope => 1);
      print "C call(N, nope) -> ", (defined $r ? $r : 'undef'), " errno=", ($! + 0), "\n";
      $r = $k->post($n_id, nope => 3);
      print "C post(N, nope) -> $r\n";
      $r = $k->call($d_id, nope => 4);
      print "C call(D, nope) -> $r\n";
      my @l = $k->call($d_id, nope => 5);
      print "C call(D, nope) in list context -> [@l]\n";
      $r = $k->post($d_id, nope => 6);
      print "C post(D, nope) -> $r\n";
    },
    _stop => sub { print "C _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
