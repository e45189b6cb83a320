#!/usr/bin/perl
# Scenario 42: timer ids and adjustments.  alarm_set/delay_set return ids
# that increase with each timer set; alarm_adjust accepts a negative delta
# (moving a timer earlier, past another one) and returns the new due time;
# once a timer has fired its id is gone: delay_adjust, alarm_adjust and
# alarm_remove on it fail with ESRCH.
use strict;
use warnings;
use POE;
use Time::HiRes qw(time);
use Errno qw(ESRCH);
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub {
      my ($k, $h) = @_[KERNEL, HEAP];
      my $now = time();
      my $id1 = $k->alarm_set(late  => $now + 0.6);
      my $id2 = $k->delay_set(mid   => 0.4);
      my $id3 = $k->delay_set(early => 0.1);
      print "ids increase: ", ($id1 < $id2 && $id2 < $id3 ? 1 : 0), "\n";
      my $due = $k->alarm_adjust($id1, -0.4);
      my $moved = $due - ($now + 0.6);
      print "alarm_adjust(late, -0.4) moved it by ", sprintf('%.1f', $moved), " s\n";
      $h->{early} = $id3;
    },
    early => sub { print "fired early\n"; },
    late  => sub {
      my ($k, $h) = @_[KERNEL, HEAP];
      print "fired late (moved before mid)\n";
      $! = 0;
      my $r = $k->delay_adjust($h->{early}, 1);
      print "delay_adjust(fired early) -> ", (defined $r ? $r : 'undef'), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
      $! = 0;
      $r = $k->alarm_adjust($h->{early}, 1);
      print "alarm_adjust(fired early) -> ", (defined $r ? $r : 'undef'), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
      $! = 0;
      my @r = $k->alarm_remove($h->{early});
      print "alarm_remove(fired early) -> n=", scalar(@r), " esrch=", ($! == ESRCH ? 1 : 0), "\n";
    },
    mid   => sub { print "fired mid\n"; },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
