#!/usr/bin/perl
# Scenario 75: renaming ListenAccept's and FollowTail's events at run
# time.  ListenAccept: after event(AcceptEvent => 'acc_two') the next
# connection goes to acc_two.  FollowTail: InputEvent renamed sends the
# next line to in_two; ResetEvent renamed gets the next truncation;
# ResetEvent => undef silences the one after, and the following line
# still arrives.  Each rename is made before the next change is written.
use strict;
use warnings;
use POE qw(Wheel::ListenAccept Wheel::FollowTail);
use IO::Socket::INET;
use File::Temp qw(tempdir);
$| = 1;

my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/tail.log";
# Not empty: POE sees a truncation when the size drops below the size it
# saw when it (re)opened the file.
open(my $init, '>', $file) or die "create: $!";
print $init ('x' x 60), "\n";
close($init);

sub append_line {
  open(my $fh, '>>', $file) or die "append: $!";
  print $fh $_[0];
  close($fh);
}

sub truncate_file {
  truncate($file, 0) or die "truncate: $!";
}

my $listener = IO::Socket::INET->new(
  LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, ReuseAddr => 1)
  or die "listen: $!";
my $port = $listener->sockport;
my @clients;

sub connect_one {
  push @clients, IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
    or die "connect: $!";
}

POE::Session->create(
  inline_states => {
    _start => sub {
      $_[HEAP]{la} = POE::Wheel::ListenAccept->new(
        Handle => $listener, AcceptEvent => 'acc_one');
      connect_one();
    },
    acc_one => sub {
      print "acc_one\n";
      $_[HEAP]{la}->event(AcceptEvent => 'acc_two');
      connect_one();
    },
    acc_two => sub {
      print "acc_two\n";
      delete $_[HEAP]{la};
      $_[HEAP]{ft} = POE::Wheel::FollowTail->new(
        Filename => $file, SeekBack => 0, PollInterval => 0.05,
        InputEvent => 'in_one', ResetEvent => 'reset_one');
      append_line("a\n");
    },
    in_one => sub {
      print "in_one [$_[ARG0]]\n";
      $_[HEAP]{ft}->event(InputEvent => 'in_two');
      append_line("b\n");
    },
    in_two => sub {
      my $line = $_[ARG0];
      print "in_two [$line]\n";
      if ($line eq 'b') {
        $_[HEAP]{ft}->event(ResetEvent => 'reset_two');
        truncate_file();
        append_line("c\n");
      }
      elsif ($line eq 'c') {
        $_[HEAP]{ft}->event(ResetEvent => undef);
        truncate_file();
        $_[KERNEL]->delay(more => 0.5);
      }
      else {
        delete $_[HEAP]{ft};
      }
    },
    more => sub { append_line("e\n"); },
    reset_one => sub { print "reset_one\n"; },
    reset_two => sub { print "reset_two\n"; },
    _stop => sub { print "_stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
