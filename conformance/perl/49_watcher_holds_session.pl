#!/usr/bin/perl
# Scenario 49: a watched filehandle keeps its session alive, whether the
# watcher is active (nothing to read) or paused (data waiting); nothing
# else holds S.  When S stops watching the handle (select_read($fh)), it
# is collected at the end of that round.
use strict;
use warnings;
use POE;
use Socket;
$| = 1;

socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
socketpair(my $c, my $d, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";

my $s_id;
POE::Session->create(
  inline_states => {
    _start => sub {
      $s_id = $_[SESSION]->ID;
      $_[KERNEL]->select_read($a, 'readable');
      $_[KERNEL]->select_read($c, 'readable');
      $_[KERNEL]->select_pause_read($c);
      syswrite($d, "waiting\n");
      print "S watching two handles (one paused with data waiting)\n";
    },
    readable => sub { print "S readable (unexpected)\n"; },
    unwatch  => sub {
      print "S unwatch $_[ARG0]\n";
      $_[KERNEL]->select_read($_[ARG0] eq 'idle' ? $a : $c);
    },
    _stop => sub { print "S _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->delay(check => 0.1, 1); },
    check  => sub {
      my ($k, $n) = @_[KERNEL, ARG0];
      print "T check $n: S exists=", (defined $k->ID_id_to_session($s_id) ? 1 : 0), "\n";
      if ($n == 1) {
        $k->call($s_id, unwatch => 'idle');
      }
      elsif ($n == 2) {
        $k->call($s_id, unwatch => 'paused');
        print "T after removing the last watcher\n";
      }
      $k->delay(check => 0.1, $n + 1) if $n < 3;
    },
    _stop => sub { print "T _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
