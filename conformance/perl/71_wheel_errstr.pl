#!/usr/bin/perl
# Scenario 71: a wheel's error event carries the operation, the errno and
# its text as $! gives it ("Connection refused"), with nothing appended.
# A SocketFactory connecting to a closed port fails with op "connect".
use strict;
use warnings;
use POE qw(Wheel::SocketFactory);
use IO::Socket::INET;
use Errno qw(ECONNREFUSED);
$| = 1;

my $closed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, Reuse => 1) or die $!;
my $dead_port = $closed->sockport;
close $closed;

POE::Session->create(
  inline_states => {
    _start => sub {
      $_[HEAP]{sf} = POE::Wheel::SocketFactory->new(
        RemoteAddress => '127.0.0.1', RemotePort => $dead_port,
        SuccessEvent => 'connected', FailureEvent => 'failed');
    },
    connected => sub { print "connected?!\n"; delete $_[HEAP]{sf}; },
    failed => sub {
      my ($op, $errnum, $errstr) = @_[ARG0 .. ARG2];
      print "failed: op=$op errnum_is_ECONNREFUSED=", ($errnum == ECONNREFUSED ? 1 : 0), " errstr=[$errstr]\n";
      delete $_[HEAP]{sf};
    },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
