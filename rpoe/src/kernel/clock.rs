//! The kernel's clock.
//!
//! All due times are [`Time`] values on one monotonic clock the kernel owns.
//! Tests swap in a [`ManualClock`], which moves only when told, so timer
//! behaviour is checked without sleeping.

use std::cell::Cell;
use std::ops::{Add, Sub};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A point on the kernel's clock: nanoseconds since the kernel was created.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(pub(crate) u64);

impl Time {
    /// Time since the kernel's clock started.
    pub fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    /// The time `d` after the clock started.
    pub fn from_start(d: Duration) -> Time {
        Time(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
    /// Seconds since the clock started, as POE's float times.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

/// A clock that advances only when told. Clone it to keep a handle after
/// giving it to [`crate::Kernel::with_manual_clock`].
#[derive(Clone, Default, Debug)]
pub struct ManualClock(Rc<Cell<u64>>);

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// Move the clock forward.
    pub fn advance(&self, d: Duration) {
        self.0.set((Time(self.0.get()) + d).0);
    }
    /// The current reading.
    pub fn now(&self) -> Time {
        Time(self.0.get())
    }
}

pub(crate) enum Clock {
    System(Instant),
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn now(&self) -> Time {
        match self {
            Clock::System(origin) => Time::from_start(origin.elapsed()),
            Clock::Manual(m) => m.now(),
        }
    }
    pub(crate) fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }
}
