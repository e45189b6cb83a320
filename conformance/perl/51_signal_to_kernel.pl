#!/usr/bin/perl
# Scenario 51: a signal sent to the kernel (signal($poe_kernel, ...))
# reaches every session's watcher, top-level sessions and their children
# alike.  (The kernel's children are siblings, visited in Perl hash
# order, so the receivers are collected and printed sorted.)  A benign
# signal that nobody watches does nothing: every session is still there.
# signal() returns 1; to an unknown session it returns false with ESRCH.
use strict;
use warnings;
use POE;
use Errno qw(ESRCH);
$| = 1;

my (@got, %id);

sub watcher {
  my ($n, $child) = @_;
  POE::Session->create(
    inline_states => {
      _start => sub {
        $id{$n} = $_[SESSION]->ID;
        $_[KERNEL]->sig(PING => 'ping', "w-$n");
        $_[KERNEL]->delay(done => 0.3);
        watcher($child) if $child;
      },
      ping  => sub { push @got, "$n got " . join(',', @_[ARG0 .. $#_]); },
      done  => sub { },
      _stop => sub { print "$n _stop\n"; },
    },
  );
}

watcher('A', 'A1');
watcher('B');

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->yield('step1'); },
    step1  => sub {
      my $r = $_[KERNEL]->signal($poe_kernel, PING => 'x');
      print "D signal(kernel, PING) returned $r\n";
      $_[KERNEL]->yield('step2');
    },
    step2 => sub {
      print "D PING receivers (sorted):\n";
      print "  $_\n" for sort @got;
      $_[KERNEL]->signal($poe_kernel, 'QUIET');
      $! = 0;
      my $r = $_[KERNEL]->signal(9999, 'PING');
      print "D signal(9999, PING) returned ", ($r ? 1 : 0), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
      $_[KERNEL]->yield('step3');
    },
    step3 => sub {
      my @alive = grep { defined $_[KERNEL]->ID_id_to_session($id{$_}) } sort keys %id;
      print "D after unwatched QUIET, alive: @alive\n";
    },
    _stop => sub { print "D _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
