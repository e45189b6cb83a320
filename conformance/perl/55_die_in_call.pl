#!/usr/bin/perl
# Scenario 55: an exception inside a call() into another session.  The
# die is trapped at the call boundary: call() returns undef at once and
# the caller carries on; a DIE signal is queued to the *callee* (not the
# caller).  DIE travels up the tree: the callee C has no DIE watcher, its
# parent P handles it (ARG1 names the event, the callee as dest_session
# and the caller as source_session), so C survives.  The caller K also
# watches DIE but is not touched.
use strict;
use warnings;
use POE;
$| = 1;

my %name;
sub nm { my $s = shift; return 'kernel' if ref($s) eq 'POE::Kernel'; return $name{$s->ID} || $s->ID }

my $c_id;
POE::Session->create(
  inline_states => {
    _start => sub {
      $name{$_[SESSION]->ID} = 'P';
      $_[KERNEL]->sig(DIE => 'on_die');
      POE::Session->create(
        inline_states => {
          _start => sub { $c_id = $_[SESSION]->ID; $name{$c_id} = 'C'; $_[KERNEL]->delay(later => 0.2); },
          boom   => sub { print "C boom: dying\n"; die "callee failure\n"; },
          later  => sub { print "C later (survived)\n"; },
          _stop  => sub { print "C _stop\n"; },
        },
      );
    },
    on_die => sub {
      my $ex = $_[ARG1];
      chomp(my $err = $ex->{error_str});
      print "P on_die sig=$_[ARG0] event=$ex->{event} err=$err dest=", nm($ex->{dest_session}),
        " source=", nm($ex->{source_session}), " (handling)\n";
      $_[KERNEL]->sig_handled();
    },
    _child => sub { },
    _stop  => sub { print "P _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub {
      $name{$_[SESSION]->ID} = 'K';
      $_[KERNEL]->sig(DIE => 'on_die');
      $_[KERNEL]->yield('go');
    },
    go => sub {
      print "K calling C boom\n";
      my $r = $_[KERNEL]->call($c_id, 'boom');
      print "K call returned ", (defined $r ? $r : 'undef'), "\n";
      $_[KERNEL]->yield('next');
    },
    next   => sub { print "K next\n"; },
    on_die => sub { print "K on_die (unexpected)\n"; },
    _stop  => sub { print "K _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
