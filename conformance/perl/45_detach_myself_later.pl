#!/usr/bin/perl
# Scenario 45: detach_myself() outside _start.  The old parent first gets
# _child('lose', child, undef), then the child gets _parent(old, kernel);
# both are dispatched synchronously inside the detach_myself() call,
# which then returns 1.  The parent, left with no children and nothing
# else to do, is collected at the end of that round; the detached child
# carries on as a top-level session.
use strict;
use warnings;
use POE;
$| = 1;

my %name;
sub nm { my $s = shift; return 'kernel' if ref($s) eq 'POE::Kernel'; return $name{$s->ID} || $s->ID }

POE::Session->create(
  inline_states => {
    _start => sub {
      $name{$_[SESSION]->ID} = 'P';
      POE::Session->create(
        inline_states => {
          _start => sub {
            $name{$_[SESSION]->ID} = 'C';
            $_[KERNEL]->delay(leave => 0.1);
            return;
          },
          leave => sub {
            print "C leave: calling detach_myself\n";
            my $ok = $_[KERNEL]->detach_myself();
            print "C detach_myself returned ", ($ok ? 1 : 0), "\n";
            $_[KERNEL]->delay(after => 0.1);
          },
          after   => sub { print "C after (still running, top-level)\n"; },
          _parent => sub { print "C _parent old=", nm($_[ARG0]), " new=", nm($_[ARG1]), "\n"; },
          _stop   => sub { print "C _stop\n"; },
        },
      );
    },
    _child => sub {
      print "P _child $_[ARG0] ", nm($_[ARG1]), " ret=", (defined $_[ARG2] ? $_[ARG2] : 'undef'), "\n";
    },
    _stop => sub { print "P _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
