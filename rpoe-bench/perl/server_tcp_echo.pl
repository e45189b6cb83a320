#!/usr/bin/perl
# BENCHMARK-ONLY: a line-echo server on POE::Component::Server::TCP with
# POE::Filter::Line in literal "\n" mode, for `rpoe-bench compare`.
#
# Every complete "\n"-terminated line is echoed byte for byte (Filter::Line
# strips the literal "\n" on input and puts it back on output; "\r" and any
# other byte pass through). Prints "listening on ADDR:PORT" once listening,
# as rpoe-echo does. Port: $ENV{PORT} (0 or unset: a free one); address:
# $ENV{BIND} (default 127.0.0.1).
use strict;
use warnings;

use POE qw(Component::Server::TCP Filter::Line);
use Socket qw(unpack_sockaddr_in inet_ntoa);

my $port = $ENV{PORT} // 0;
my $bind = $ENV{BIND} // '127.0.0.1';
$| = 1;

POE::Component::Server::TCP->new(
    Address      => $bind,
    Port         => $port,
    ClientFilter => [ 'POE::Filter::Line', Literal => "\n" ],
    ClientInput  => sub { $_[HEAP]{client}->put( $_[ARG0] ) },
    Started      => sub {
        my ( $p, $a ) = unpack_sockaddr_in( $_[HEAP]{listener}->getsockname );
        print "listening on ", inet_ntoa($a), ":$p\n";
    },
);

POE::Kernel->run;
exit 0;
