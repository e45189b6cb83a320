#!/usr/bin/perl
# Scenario 74: where ReadWrite's FlushedEvent lands.  put() only buffers
# and resumes the write watcher; the wheel writes on the next writable
# event and calls FlushedEvent from there, in that round's I/O phase.  So
# events yielded by an input handler (dispatched in the same round) come
# before 'flushed', while events yielded by a queued handler (dispatched in
# the next round, after its I/O) come after it.  The peer reads the data
# only in the round after the write.
use strict;
use warnings;
use POE;
use POE::Wheel::ReadWrite;
use Socket;
$| = 1;

socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;
POE::Session->create(inline_states => {
  _start => sub {
    $_[HEAP]{w} = POE::Wheel::ReadWrite->new(Handle => $a, InputEvent => 'in', FlushedEvent => 'flushed');
    $_[HEAP]{peer} = POE::Wheel::ReadWrite->new(Handle => $b, InputEvent => 'peer_in');
    $_[HEAP]{peer}->put("ping");
    print "_start: peer put ping\n";
  },
  in => sub {
    print "in: $_[ARG0]\n";
    $_[KERNEL]->yield('before');
    $_[HEAP]{w}->put("pong");
    $_[KERNEL]->yield('after');
  },
  peer_in => sub { print "peer_in: $_[ARG0]\n"; $_[KERNEL]->yield('go'); },
  go => sub {
    $_[KERNEL]->yield('before');
    $_[HEAP]{w}->put("bye");
    $_[KERNEL]->yield('after');
    print "go: put bye\n";
  },
  before => sub { print "before\n"; },
  after => sub { print "after\n"; },
  flushed => sub { print "flushed n=", ++$_[HEAP]{f}, "\n"; if ($_[HEAP]{f} == 2) { delete $_[HEAP]{w}; delete $_[HEAP]{peer}; } },
  _stop => sub { print "_stop\n" },
});
POE::Kernel->run;
print "main: after run\n";
