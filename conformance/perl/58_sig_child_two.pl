#!/usr/bin/perl
# Scenario 58: sig_child() on two child processes at once.  Each watcher
# is one-shot and delivers its own pid and exit status with its own extra
# argument; the session lives until both children are reaped.  (Reaping
# order depends on the OS, so the results are collected and printed
# sorted at _stop.)
use strict;
use warnings;
use POE;
use POSIX ();
$| = 1;

sub spawn_child {
  my ($code, $secs) = @_;
  my $pid = fork();
  die "fork: $!" unless defined $pid;
  if ($pid == 0) {
    select(undef, undef, undef, $secs);
    POSIX::_exit($code);
  }
  return $pid;
}

my %tag;
POE::Session->create(
  inline_states => {
    _start => sub {
      my $k = $_[KERNEL];
      for my $c ([first => 2, 0.1], [second => 5, 0.2]) {
        my ($name, $code, $secs) = @$c;
        my $pid = spawn_child($code, $secs);
        $tag{$pid} = $name;
        $k->sig_child($pid, 'reaped', $name);
      }
      print "S forked two children\n";
    },
    reaped => sub {
      my ($sig, $pid, $status, $name) = @_[ARG0 .. $#_];
      push @{ $_[HEAP]{got} }, "$name: sig=$sig pid_matches=" . ($tag{$pid} eq $name ? 1 : 0) . " exit=" . ($status >> 8);
    },
    _stop => sub {
      print "S _stop, reaped ", scalar(@{ $_[HEAP]{got} || [] }), " (sorted):\n";
      print "  $_\n" for sort @{ $_[HEAP]{got} || [] };
    },
  },
);

POE::Kernel->run();
print "main: after run\n";
