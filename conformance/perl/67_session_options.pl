#!/usr/bin/perl
# Scenario 67: session options.  option() set at construction (create's
# options => {...}) and changed at run time returns the previous value.
# With "default" on, an event the session has neither a handler nor
# _default for is reported (a warning naming the event, where it was sent
# from and the session) -- for posts and calls alike -- and is still
# dropped; with it off, nothing is said.  With "trace" on, every event the
# session receives is reported with its origin; with "debug" on,
# redefining an existing handler with state() is reported.
# Warnings are caught with $SIG{__WARN__} and printed to stdout without
# POE's "=== PID ===" prefix, the file as "here" or "kernel", the line as
# "N" (numbers differ between the script and its twin); the debug report
# loses carp's " at FILE line N." suffix, which names POE's own Kernel.pm.
use strict;
use warnings;
use POE;
$| = 1;

$SIG{__WARN__} = sub {
  my $w = shift;
  $w =~ s/^=== \d+ === //;
  $w =~ s/ at \S+ line \d+\.\n\z/\n/ if $w =~ /^redefining/;
  my $here = __FILE__;
  $w =~ s/\Q$here\E/here/g;
  $w =~ s{\S*/POE/\S+\.pm}{kernel}g;
  $w =~ s/\b(at|line) \d+/$1 N/g;
  print "WARN: $w";
};

sub b01 { $_[0] ? 1 : 0 }

POE::Session->create(
  options => { default => 1 },
  inline_states => {
    _start => sub {
      my $s = $_[SESSION];
      print "A default at start=", b01($s->option('default')), "\n";
      print "A trace at start=", b01($s->option('trace')), "\n";
      $_[KERNEL]->yield('nobody_home');
      my $r = $_[KERNEL]->call($s, 'nor_here');
      print "A call to missing: ", (defined $r ? $r : 'undef'), "\n";
      $_[KERNEL]->yield('quiet');
    },
    quiet => sub {
      my $s = $_[SESSION];
      print "A option(default => 0) returned ", b01($s->option(default => 0)), "\n";
      $_[KERNEL]->yield('not_reported');
      print "A option(trace => 1) returned ", b01($s->option(trace => 1)), "\n";
      $_[KERNEL]->yield('traced');
    },
    traced => sub {
      my $s = $_[SESSION];
      print "A traced runs\n";
      print "A option(trace => 0) returned ", b01($s->option(trace => 0)), "\n";
      print "A option(debug => 1) returned ", b01($s->option(debug => 1)), "\n";
      $_[KERNEL]->state(traced => sub { print "A new traced\n" });
      $_[KERNEL]->state(fresh => sub { print "A fresh\n" });
      print "A option(debug => 0) returned ", b01($s->option(debug => 0)), "\n";
      $_[KERNEL]->state(traced => sub { print "A newer traced\n" });
      $_[KERNEL]->yield('traced');
    },
    _stop => sub { print "A _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
