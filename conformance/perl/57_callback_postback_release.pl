#!/usr/bin/perl
# Scenario 57: callbacks and postbacks.  A callback runs its handler
# synchronously and returns the handler's value to whoever calls it.  A
# postback with no context, called with no arguments, delivers ARG0 = []
# and ARG1 = [] (two empty lists) in a later round.  A postback that is
# handed to another session and dropped without ever being called still
# held its session: S2, with nothing else to do, is collected in the
# round in which T drops it.
use strict;
use warnings;
use POE;
$| = 1;

my $t_id;
POE::Session->create(
  inline_states => {
    _start => sub { $t_id = $_[SESSION]->ID; $_[KERNEL]->delay(bye => 0.4); },
    take   => sub {
      $_[HEAP]{pb} = $_[ARG0];
      print "T holding S2's postback\n";
      $_[KERNEL]->delay(drop => 0.2);
    },
    drop  => sub {
      print "T drops the postback without calling it\n";
      delete $_[HEAP]{pb};
      print "T drop handler ends\n";
    },
    bye   => sub { print "T bye\n"; },
    _stop => sub { print "T _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub {
      my $cb = $_[SESSION]->callback(sum => 'base10');
      my $r = $cb->(3, 4);
      print "S callback returned $r (synchronously)\n";
      my $pb = $_[SESSION]->postback('bare');
      my $rv = $pb->();
      print "S postback() returned $rv; handler not run yet\n";
    },
    sum => sub {
      my ($ctx, $args) = @_[ARG0, ARG1];
      print "S sum ctx=[", join(',', @$ctx), "] args=[", join(',', @$args), "]\n";
      return 10 + $args->[0] + $args->[1];
    },
    bare => sub {
      my @args = @_[ARG0 .. $#_];
      print "S bare argc=", scalar(@args), " ctx=[", join(',', @{$_[ARG0]}), "] args=[", join(',', @{$_[ARG1]}), "]\n";
    },
    _stop => sub { print "S _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub {
      my $pb = $_[SESSION]->postback('never');
      $_[KERNEL]->post($t_id, take => $pb);
    },
    never => sub { print "S2 never (unexpected)\n"; },
    _stop => sub { print "S2 _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
