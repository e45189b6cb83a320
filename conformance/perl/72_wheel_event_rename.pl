#!/usr/bin/perl
# Scenario 72: renaming a wheel's events at run time.  $wheel->event(
# InputEvent => 'other') sends the following records to 'other';
# ErrorEvent renamed the same way gets the end of file.  Each rename is
# made before the next chunk is written, so no chunk is split across it.
use strict;
use warnings;
use POE qw(Wheel::ReadWrite);
use Socket;
use IO::Handle;
$| = 1;

socketpair(my $left, my $right, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
$left->autoflush(1);

POE::Session->create(
  inline_states => {
    _start => sub {
      $_[HEAP]{w} = POE::Wheel::ReadWrite->new(
        Handle => $right, InputEvent => 'got_one', ErrorEvent => 'err_one');
      syswrite($left, "one\n");
    },
    got_one => sub {
      print "got_one [$_[ARG0]]\n";
      $_[HEAP]{w}->event(InputEvent => 'got_two');
      syswrite($left, "two\nthree\n");
    },
    got_two => sub {
      print "got_two [$_[ARG0]]\n";
      if ($_[ARG0] eq 'three') {
        $_[HEAP]{w}->event(ErrorEvent => 'err_two');
        shutdown($left, 1);
      }
    },
    err_one => sub { print "err_one op=$_[ARG0] errnum=$_[ARG1]\n"; delete $_[HEAP]{w}; },
    err_two => sub { print "err_two op=$_[ARG0] errnum=$_[ARG1]\n"; delete $_[HEAP]{w}; },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
