#!/usr/bin/perl
# Scenario 60: handlers are looked up when an event is dispatched, not
# when it is posted.  Three 'ev' events are queued at once.  The first,
# handled by the original (create-time) handler, replaces 'ev' with v2 via
# state() -- a call() right after already reaches v2 -- so the second
# queued event runs v2; v2 removes the handler with state('ev'), so the
# third queued event (and a call) fall through to _default.  A handler
# may also install a brand-new event and call it at once.
use strict;
use warnings;
use POE;
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->yield(ev => $_) for 1 .. 3; },
    ev     => sub {
      my $k = $_[KERNEL];
      print "ev original arg=$_[ARG0]: installing v2\n";
      $k->state(ev => sub {
        my $k = $_[KERNEL];
        print "ev v2 arg=$_[ARG0] state=$_[STATE]\n";
        return "v2-ret" if $_[ARG0] eq 'direct';
        print "ev v2: removing ev\n";
        $k->state('ev');
        my $r = $k->call($_[SESSION], ev => 'after-remove');
        print "call after removal returned ", (defined $r ? $r : 'undef'), "\n";
        $k->state(fresh => sub { return "fresh:$_[ARG0]"; });
        print "call to a handler installed just now returned ", $k->call($_[SESSION], fresh => 'x'), "\n";
        return;
      });
      my $r = $k->call($_[SESSION], ev => 'direct');
      print "call right after replacing returned $r\n";
    },
    _default => sub {
      print "_default got $_[ARG0] args=[", join(',', @{$_[ARG1]}), "]\n";
      return "dflt";
    },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
