#!/usr/bin/perl
# Scenario 54: IDLE, ZOMBIE and public refcounts.  A is kept only by an
# alias and watches IDLE and ZOMBIE; R is kept only by a public refcount.
# While R's refcount is held the kernel is not idle, so A gets no IDLE
# (nothing at all happens for 0.3 s).  The process's own SIGALRM (set
# with ualarm before run) wakes R, which releases its refcount and is
# collected; now only an alias holds A, so A gets IDLE (terminal; A
# handles it) and, still idle one round later, ZOMBIE (non-maskable:
# handling it does not help), and is stopped.
use strict;
use warnings;
use POE;
use Time::HiRes qw(ualarm);
$| = 1;

POE::Session->create(
  inline_states => {
    _start => sub {
      print "A _start: alias only\n";
      $_[KERNEL]->alias_set('a');
      $_[KERNEL]->sig(IDLE   => 'on_idle');
      $_[KERNEL]->sig(ZOMBIE => 'on_zombie');
    },
    on_idle   => sub { print "A got $_[ARG0] (handling it)\n"; $_[KERNEL]->sig_handled(); },
    on_zombie => sub { print "A got $_[ARG0] (handling it anyway)\n"; $_[KERNEL]->sig_handled(); },
    _stop     => sub { print "A _stop\n"; },
  },
);

POE::Session->create(
  inline_states => {
    _start => sub {
      my $id = $_[SESSION]->ID;
      print "R _start: refcount_increment -> ", $_[KERNEL]->refcount_increment($id, 'hold'), "\n";
      $_[KERNEL]->sig(ALRM => 'on_alrm');
    },
    on_alrm => sub {
      my $id = $_[SESSION]->ID;
      print "R got $_[ARG0]: refcount_decrement -> ", $_[KERNEL]->refcount_decrement($id, 'hold'), "\n";
      $_[KERNEL]->sig('ALRM');
    },
    _stop => sub { print "R _stop\n"; },
  },
);

ualarm(300_000);
POE::Kernel->run();
print "main: after run\n";
