#!/usr/bin/perl
# Scenario 68: what DIE says about a failure.  ARG1 of the DIE signal
# names the event that failed, the state that sent it (from_state) and
# the file and line it was sent from (the event's CALLER_FILE and
# CALLER_LINE), and its error_str ends with the file and line of the die
# itself.  A timer's failure names the state that set the timer; an
# event the kernel sent (_start) has no from_state and POE's own file.
# Files print as "here"/"kernel", lines as "sent" or "died" when they
# equal the marker taken before the sending call or the die.
use strict;
use warnings;
use POE;
$| = 1;

my %at;
sub where {
  my ($file, $line) = @_;
  my $f = $file eq __FILE__ ? 'here' : 'kernel';
  my $l = $f eq 'kernel' ? '-' : (grep { $at{$_} == $line } sort keys %at)[0] // 'other';
  return "$f:$l";
}

POE::Session->create(
  inline_states => {
    _start => sub {
      $_[KERNEL]->sig(DIE => 'on_die');
      $at{sent_boom} = __LINE__ + 1;
      $_[KERNEL]->yield(boom => 1);
    },
    boom => sub {
      $at{sent_tick} = __LINE__ + 1;
      $_[KERNEL]->delay(tick => 0.1);
      $at{died_boom} = __LINE__ + 1;
      die "boom failed\n" if $_[ARG0];
    },
    tick => sub {
      $at{died_tick} = __LINE__ + 1;
      die "tick failed";
    },
    on_die => sub {
      my $d = $_[ARG1];
      my $err = $d->{error_str};
      my $died = 'none';
      if ($err =~ s/ at (\S+) line (\d+)\.\n\z//) {
        $died = where($1, $2);
      }
      chomp $err;
      printf "DIE in %s: from_state=%s sent_from=%s error=%s died_at=%s\n",
        $d->{event}, $d->{from_state} // 'undef',
        where($d->{file}, $d->{line}), $err, $died;
      $_[KERNEL]->sig_handled;
    },
    _stop => sub { print "S _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
