#!/usr/bin/perl
# Scenario 50: what keeps a session alive.  A sig() watcher does not: A
# watches USR1 and nothing else, and is collected in the round after its
# creation.  A sig_child() watcher does: B forks a child that exits with
# status 4 after 0.2 s and does nothing else; B lives until the child is
# reaped, gets its event (ARG0 'CHLD', ARG1 pid, ARG2 $?), and is then
# collected.
use strict;
use warnings;
use POE;
use POSIX ();
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->sig(USR1 => 'usr1'); print "A _start: watching USR1 only\n"; },
    usr1   => sub { print "A usr1 (unexpected)\n"; },
    _stop  => sub { print "A _stop\n"; },
  },
);

my $pid;
POE::Session->create(
  inline_states => {
    _start => sub {
      $pid = fork();
      die "fork: $!" unless defined $pid;
      if ($pid == 0) {
        select(undef, undef, undef, 0.2);
        POSIX::_exit(4);
      }
      $_[KERNEL]->sig_child($pid, 'reaped');
      print "B _start: forked a child, sig_child on it\n";
    },
    reaped => sub {
      print "B reaped sig=$_[ARG0] pid_matches=", ($_[ARG1] == $pid ? 1 : 0), " exit=", ($_[ARG2] >> 8), "\n";
    },
    _stop => sub { print "B _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
