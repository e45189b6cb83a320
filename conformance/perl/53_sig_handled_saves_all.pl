#!/usr/bin/perl
# Scenario 53: sig_handled() is per signal, not per session.  Chain
# P -> M -> G (no siblings).  G and P watch INT, M does not.  INT sent to
# P reaches G first (deepest first), which does not handle it, then P,
# which does: that one sig_handled saves every touched session -- G, the
# watcher-less M, and P.  A later INT sent to M touches only M and G;
# nobody handles it, so both are stopped (deepest first) while P, not
# touched, lives on.
use strict;
use warnings;
use POE;
$| = 1;

my %id;
my %name;
sub nm { my $s = shift; return 'kernel' if ref($s) eq 'POE::Kernel'; return $name{$s->ID} || $s->ID }

sub make {
  my ($n, $watch, $child) = @_;
  POE::Session->create(
    inline_states => {
      _start => sub {
        $id{$n} = $_[SESSION]->ID; $name{$_[SESSION]->ID} = $n;
        $_[KERNEL]->sig(INT => 'on_int') if $watch;
        $_[KERNEL]->delay(alive => 0.1);
        $_[KERNEL]->delay(bye => 0.4);
        make(@$child) if $child;
      },
      on_int => sub {
        my $handle = ($n eq 'P');
        print "$n on_int", ($handle ? " (handled)" : " (not handled)"), "\n";
        $_[KERNEL]->sig_handled() if $handle;
      },
      alive  => sub { print "$n alive\n"; },
      bye    => sub { print "$n bye\n"; },
      _child => sub { print "$n _child $_[ARG0] ", nm($_[ARG1]), "\n" if $_[ARG0] ne 'create'; },
      _stop  => sub { print "$n _stop\n"; },
    },
  );
}

make('P', 1, ['M', 0, ['G', 1]]);

POE::Session->create(
  inline_states => {
    _start => sub { $_[KERNEL]->yield('first'); $_[KERNEL]->delay(second => 0.2); },
    first  => sub { print "driver: signal P INT\n"; $_[KERNEL]->signal($id{P}, 'INT'); },
    second => sub { print "driver: signal M INT\n"; $_[KERNEL]->signal($id{M}, 'INT'); },
    _stop  => sub { print "driver _stop\n"; },
  },
);

POE::Kernel->run();
print "main: after run\n";
