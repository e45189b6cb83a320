#!/usr/bin/perl
# Scenario 63: session IDs and lookups.  ID_id_to_session and
# alias_resolve (by numeric ID) find another live session;
# ID_session_to_id maps a session back to its number and the kernel to
# its own ID; unknown IDs give undef with ESRCH (ID_id_to_session) or
# undef (alias_resolve).  Once a session is gone its ID no longer
# resolves, and IDs are never reused: a session created afterwards gets
# the next number.
use strict;
use warnings;
use POE;
use Errno qw(ESRCH);
$| = 1;

my ($a_id, $b_id);
POE::Session->create(
  inline_states => {
    _start => sub { $a_id = $_[SESSION]->ID; $_[KERNEL]->yield('work'); },
    work   => sub { print "A work\n"; },
    _stop  => sub { print "A _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub {
      my $k = $_[KERNEL];
      $b_id = $_[SESSION]->ID;
      print "B id=$b_id, A id=$a_id\n";
      my $s = $k->ID_id_to_session($a_id);
      print "B ID_id_to_session(A) -> ", $s->ID, "\n";
      print "B ID_session_to_id(that) -> ", $k->ID_session_to_id($s), "\n";
      print "B alias_resolve(A's id) -> ", $k->alias_resolve($a_id)->ID, "\n";
      print "B ID_session_to_id(kernel) is kernel ID -> ", ($k->ID_session_to_id($k) eq $k->ID ? 1 : 0), "\n";
      $! = 0;
      my $r = $k->ID_id_to_session(4242);
      print "B ID_id_to_session(4242) -> ", (defined $r ? $r->ID : 'undef'), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
      $r = $k->alias_resolve(4242);
      print "B alias_resolve(4242) -> ", (defined $r ? $r->ID : 'undef'), "\n";
      $k->delay(later => 0.1);
    },
    later => sub {
      my $k = $_[KERNEL];
      $! = 0;
      my $r = $k->ID_id_to_session($a_id);
      print "B later: ID_id_to_session(A, gone) -> ", (defined $r ? $r->ID : 'undef'), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
      $r = $k->alias_resolve($a_id);
      print "B later: alias_resolve(A's id, gone) -> ", (defined $r ? $r->ID : 'undef'), "\n";
      POE::Session->create(
        inline_states => {
          _start => sub { print "N _start id=", $_[SESSION]->ID, " (next after B=$b_id, not A's reused)\n"; },
          _stop  => sub { print "N _stop\n"; },
        },
      );
    },
    _child => sub { },
    _stop  => sub { print "B _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
