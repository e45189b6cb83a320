#!/usr/bin/perl
# Scenario 66: who sent an event, and from where.  Every handler gets
# CALLER_STATE (the event whose handler posted, yielded, called or set the
# timer), CALLER_FILE and CALLER_LINE (where that call was written).
# Events the kernel sends itself (_start, _stop) name no state and
# POE's own file.  A call into the same session keeps the outer event as
# the caller state; a post made from a handler reached through _default
# names the event as it was sent, not _default.
# Lines are printed relative to a marker line just before the call, the
# file as "here" (this script) or "kernel" (anywhere else).
use strict;
use warnings;
use POE;
$| = 1;

my %at;    # label => line of the sending call

sub origin {
  my ($label, $state, $file, $line) = @_;
  my $f = $file eq __FILE__ ? 'here' : 'kernel';
  my $l = (defined $label && exists $at{$label}) ? ($line == $at{$label} ? 'line=marked' : "line=other") : 'line=-';
  $l = 'line=-' if $f eq 'kernel';
  return sprintf("caller_state=%s file=%s %s",
    defined $state ? $state : 'undef', $f, $l);
}

POE::Session->create(
  inline_states => {
    _start => sub {
      print "A _start: ", origin(undef, @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $_[KERNEL]->alias_set('a');
      $at{y} = __LINE__ + 1;
      $_[KERNEL]->yield(first => 'y');
    },
    first => sub {
      print "A first: ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $at{p} = __LINE__ + 1;
      $_[KERNEL]->post(b => hello => 'p');
      $at{d} = __LINE__ + 1;
      $_[KERNEL]->delay(tick => 0.1, 'd');
      $at{c} = __LINE__ + 1;
      $_[KERNEL]->call($_[SESSION], inner => 'c');
    },
    inner => sub {
      print "A inner (call): ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $at{c2} = __LINE__ + 1;
      $_[KERNEL]->call(b => called => 'c2');
    },
    tick => sub {
      print "A tick (timer): ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $at{u} = __LINE__ + 1;
      $_[KERNEL]->post(b => unknown_ev => 'u');
    },
    back => sub {
      print "A back: ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $_[KERNEL]->alias_remove('a');
    },
    _stop => sub {
      print "A _stop: ", origin(undef, @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
    },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->alias_set('b'); },
    hello => sub {
      print "B hello (post): ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
    },
    called => sub {
      print "B called (call from a call): ", origin($_[ARG0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
    },
    _default => sub {
      print "B _default($_[ARG0]): ", origin($_[ARG1][0], @_[CALLER_STATE, CALLER_FILE, CALLER_LINE]), "\n";
      $at{b} = __LINE__ + 1;
      $_[KERNEL]->post(a => back => 'b');
      $_[KERNEL]->alias_remove('b');
    },
    _stop => sub { print "B _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
