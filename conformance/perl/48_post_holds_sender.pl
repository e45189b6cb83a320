#!/usr/bin/perl
# Scenario 48: an event in the queue holds its *sender* as well as its
# receiver.  S and S2 each handle one event ('go') and then have nothing
# to do; S posted a message to T in 'go', S2 did not.  S2 is collected at
# the end of that round; S lives on until T has been handed the message
# (T can still resolve S by ID while handling it) and is collected at the
# end of the next round.
use strict;
use warnings;
use POE;
$| = 1;

my ($s_id, $t_id);
POE::Session->create(
  inline_states => {
    _start => sub { $t_id = $_[SESSION]->ID; $_[KERNEL]->delay(bye => 0.2); },
    msg    => sub {
      my $s = $_[KERNEL]->ID_id_to_session($s_id);
      print "T msg from sender ", $_[SENDER]->ID == $s_id ? 'S' : '?', ", S exists=", (defined $s ? 1 : 0), "\n";
    },
    bye    => sub { print "T bye\n"; },
    _stop  => sub { print "T _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $s_id = $_[SESSION]->ID; $_[KERNEL]->yield('go'); },
    go     => sub { print "S go: posting to T\n"; $_[KERNEL]->post($t_id, 'msg'); },
    _stop  => sub { print "S _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->yield('go'); },
    go     => sub { print "S2 go: posting nothing\n"; },
    _stop  => sub { print "S2 _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
