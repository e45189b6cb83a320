#!/usr/bin/perl
# Scenario 73: select_expedite watches a handle for urgent (out-of-band)
# TCP data.  The handler gets ARG0=handle, ARG1=mode 2 (MODE_EX),
# ARG2..=the extra args, SENDER = the watching session; it fires every round
# while the urgent byte waits (level-triggered), so the handler reads it
# with MSG_OOB.  Ordinary data sent before it is not an expedite event: a
# read watcher on the same handle sees it.  Removing the watchers lets the
# session stop.
use strict;
use warnings;
use POE;
use Socket;
use IO::Socket::INET;
$| = 1;

my $listen = IO::Socket::INET->new(
  LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, ReuseAddr => 1,
) or die "listen: $!";
my $client = IO::Socket::INET->new(
  PeerAddr => '127.0.0.1', PeerPort => $listen->sockport,
) or die "connect: $!";
my $server = $listen->accept or die "accept: $!";

POE::Session->create(
  inline_states => {
    _start => sub {
      $_[KERNEL]->select_expedite($server, 'urgent', 'X', 'extra');
      print "watching for urgent data\n";
      send($client, "!", MSG_OOB) or die "send: $!";
      print "sent urgent byte\n";
    },
    urgent => sub {
      my ($fh, $mode, @x) = @_[ARG0 .. $#_];
      my $n = ++$_[HEAP]{urgent};
      my $sender_is_me = ($_[SENDER] == $_[SESSION]) ? 1 : 0;
      print "urgent n=$n mode=$mode args=", join(',', @x),
        " same_handle=", ($fh == $server ? 1 : 0), " sender_is_me=$sender_is_me\n";
      # Left unread, the byte raises the event again next round.
      return if $n < 2;
      recv($fh, my $buf = '', 1, MSG_OOB);
      print "recv MSG_OOB got=[$buf]\n";
      $_[KERNEL]->select_expedite($fh);
      $_[KERNEL]->select_read($fh, 'plain');
      syswrite($client, "abc");
    },
    plain => sub {
      my ($fh, $mode) = @_[ARG0, ARG1];
      sysread($fh, my $buf = '', 16);
      print "plain mode=$mode got=[$buf]\n";
      $_[KERNEL]->select_read($fh);
    },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
