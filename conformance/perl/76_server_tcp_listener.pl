#!/usr/bin/perl
# Scenario 76: POE::Component::Server::TCP's listener session runs user
# code: Started gets ListenerArgs as ARG0.. in the listener session; each
# connection's session is a child of the listener (its parent's ID is
# the listener's; POE 1.37's only way to ask is the kernel's internal
# _data_ses_get_parent). 'shutdown' posted to the alias
# ends the listener so run() returns.
use strict;
use warnings;
use POE qw(Component::Server::TCP);
use Socket qw(sockaddr_in);
use IO::Socket::INET;
$| = 1;

my ($port, $listener_id);
POE::Component::Server::TCP->new(
  Alias        => 'srv',
  Address      => '127.0.0.1',
  Port         => 0,
  ListenerArgs => ['alpha', 'beta'],
  Started      => sub {
    $port = (sockaddr_in($_[HEAP]{listener}->getsockname))[0];
    $listener_id = $_[SESSION]->ID;
    print "started: args [@_[ARG0..$#_]]\n";
  },
  ClientConnected => sub {
    # POE 1.37 has no public get_parent; the kernel's session table has.
    my $parent = $_[KERNEL]->_data_ses_get_parent($_[SESSION]->ID)->ID;
    print "connected: parent is listener ", ($parent == $listener_id ? 1 : 0), "\n";
  },
  ClientInput => sub {
    print "input [$_[ARG0]]\n";
    $_[KERNEL]->yield('shutdown');
  },
  ClientDisconnected => sub { print "disconnected\n"; $_[KERNEL]->post(srv => 'shutdown'); },
);

POE::Session->create(inline_states => {
  _start => sub {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
    print $s "hi\n";
    $_[HEAP]{s} = $s;
  },
});

POE::Kernel->run();
print "main: after run\n";
