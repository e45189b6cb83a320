#!/usr/bin/perl
# Scenario 47: events posted from _stop are never delivered -- neither a
# yield to the dying session itself nor a post to another, live session
# (post still returns 1).  call() from _stop still works: the other
# session's handler runs synchronously and its value comes back.
use strict;
use warnings;
use POE;
$| = 1;

my $b_id;
POE::Session->create(
  inline_states => {
    _start => sub { $b_id = $_[SESSION]->ID; $_[KERNEL]->alias_set('B'); $_[KERNEL]->delay(bye => 0.3); },
    note   => sub { print "B note from A (unexpected)\n"; },
    ask    => sub { print "B ask: called with $_[ARG0]\n"; return "answer"; },
    bye    => sub { print "B bye; removing alias\n"; $_[KERNEL]->alias_remove('B'); },
    _stop  => sub { print "B _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { print "A _start (nothing to do)\n"; },
    late   => sub { print "A late (unexpected)\n"; },
    _stop  => sub {
      my $k = $_[KERNEL];
      print "A _stop begin\n";
      $k->yield('late');
      my $ok = $k->post(B => note => 'from-stop');
      print "A post from _stop returned ", ($ok ? 1 : 0), "\n";
      my $r = $k->call(B => ask => 'q');
      print "A call from _stop returned $r\n";
      print "A _stop end\n";
    },
  },
);

POE::Kernel->run();
print "main: after run\n";
