//! Event arguments and handler return values: any `'static` value, checked
//! at the point of use.
//!
//! A unit value is stored without boxing, and I/O readiness events carry
//! their handle inline, so the common events allocate nothing.

use std::any::{type_name, Any, TypeId};
use std::fmt;

use super::ids::HandleId;

/// Which readiness an I/O event reports (POE's `ARG1` of a select event).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum IoMode {
    /// The handle is readable (or at EOF, or in error: a read will tell).
    Read,
    /// The handle is writable (or in error: a write will tell).
    Write,
    /// The handle has urgent (out-of-band) data waiting, or another
    /// priority condition (POE's `select_expedite`, its `MODE_EX`). On
    /// Linux this is `EPOLLPRI`; elsewhere the watcher can be set but the
    /// OS is never asked, so it never fires.
    Expedite,
}

impl IoMode {
    /// POE's number for the mode, its handlers' `ARG1`: `MODE_RD` 0,
    /// `MODE_WR` 1, `MODE_EX` 2 — so a port can print or compare what a
    /// POE program did without a match of its own.
    pub fn poe_number(self) -> u8 {
        match self {
            IoMode::Read => 0,
            IoMode::Write => 1,
            IoMode::Expedite => 2,
        }
    }
}

/// A boxed event argument that can name its type: the name travels in
/// the vtable, so a wrong `take_arg` can say what was sent at no cost to
/// the payload's size.
/// Getting at the value upcasts `dyn Arg` to `dyn Any` (a vtable
/// lookup, no call), so a `take_arg` costs what it did with `dyn Any`.
pub(crate) trait Arg: Any {
    fn type_name(&self) -> &'static str;
}

impl<T: Any> Arg for T {
    fn type_name(&self) -> &'static str {
        type_name::<T>()
    }
}

/// An [`Arg`] that may cross threads (a [`crate::KernelHandle`] post).
pub(crate) trait SendArg: Arg + Send {}

impl<T: Any + Send> SendArg for T {}

pub(crate) enum Payload {
    Empty,
    Io(HandleId, IoMode),
    /// An I/O event of a watcher set with extra arguments: the handle is
    /// still the argument, the extras ride beside it.
    IoWith(HandleId, IoMode, std::rc::Rc<dyn Any>),
    // Always call `Arg` methods through `&**b`: `Box<dyn Arg>` is itself
    // an `Arg` (of type `Box<dyn Arg>`).
    Boxed(Box<dyn Arg>),
}

impl Payload {
    pub(crate) fn new<T: Any>(value: T) -> Payload {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            Payload::Empty
        } else {
            Payload::Boxed(Box::new(value))
        }
    }

    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        match self {
            Payload::Empty => (&() as &dyn Any).downcast_ref(),
            Payload::Io(h, _) | Payload::IoWith(h, _, _) => (h as &dyn Any).downcast_ref(),
            Payload::Boxed(b) => {
                let any: &dyn Any = &**b;
                any.downcast_ref()
            }
        }
    }

    pub(crate) fn take<T: Any>(&mut self) -> Option<T> {
        match std::mem::replace(self, Payload::Empty) {
            Payload::Empty => {
                let mut unit = Some(());
                (&mut unit as &mut dyn Any)
                    .downcast_mut::<Option<T>>()
                    .and_then(Option::take)
            }
            Payload::Io(h, mode) => {
                let mut slot = Some(h);
                let got = (&mut slot as &mut dyn Any)
                    .downcast_mut::<Option<T>>()
                    .and_then(Option::take);
                if got.is_none() {
                    *self = Payload::Io(h, mode);
                }
                got
            }
            Payload::IoWith(h, mode, extra) => {
                let mut slot = Some(h);
                let got = (&mut slot as &mut dyn Any)
                    .downcast_mut::<Option<T>>()
                    .and_then(Option::take);
                if got.is_none() {
                    *self = Payload::IoWith(h, mode, extra);
                }
                got
            }
            Payload::Boxed(b) => {
                let any: &dyn Any = &*b;
                if any.is::<T>() {
                    let any: Box<dyn Any> = b;
                    any.downcast::<T>().ok().map(|v| *v)
                } else {
                    *self = Payload::Boxed(b);
                    None
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Payload::Empty)
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Payload::Empty => "()",
            Payload::Io(..) | Payload::IoWith(..) => "HandleId (I/O event)",
            Payload::Boxed(b) => Arg::type_name(&**b),
        }
    }
}

/// A handler's return value, as [`crate::Ctx::call`] hands it back.
///
/// Handlers return any `'static` value (`()` when they return nothing);
/// the caller takes it out with the type it expects.
pub struct Value(pub(crate) Payload);

impl Value {
    /// Wrap `value`, to pass it on later as an event's argument with
    /// [`Ctx::call_value`](crate::Ctx::call_value) — for code that holds
    /// arguments of many types in one list (a wheel's pending events).
    pub fn new<T: Any>(value: T) -> Value {
        Value(Payload::new(value))
    }

    /// The unit value: what a handler that returns nothing gives.
    pub fn unit() -> Value {
        Value(Payload::Empty)
    }

    /// True if the handler returned `()`.
    pub fn is_unit(&self) -> bool {
        self.0.is_empty()
    }

    /// Borrow the value as a `T`, if it is one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.get()
    }

    /// Take the value as a `T`; on a type mismatch the value comes back.
    ///
    /// # Errors
    ///
    /// The value itself, unchanged, if it is not a `T`.
    pub fn take<T: Any>(mut self) -> Result<T, Value> {
        match self.0.take::<T>() {
            Some(v) => Ok(v),
            None => Err(self),
        }
    }

    /// True if the value is a `T`.
    pub fn is<T: Any>(&self) -> bool {
        self.get::<T>().is_some()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Payload::Empty => f.write_str("Value(())"),
            Payload::Io(h, m) | Payload::IoWith(h, m, _) => write!(f, "Value({h}, {m:?})"),
            Payload::Boxed(_) => f.write_str("Value(..)"),
        }
    }
}

pub(crate) fn type_of<T>() -> &'static str {
    type_name::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_io_payloads_are_not_boxed() {
        assert!(matches!(Payload::new(()), Payload::Empty));
        assert!(matches!(Payload::new(5u8), Payload::Boxed(_)));
        let h = HandleId { num: 1, key: 0 };
        let p = Payload::Io(h, IoMode::Read);
        assert_eq!(p.get::<HandleId>(), Some(&h));
        assert_eq!(p.get::<()>(), None);
    }

    #[test]
    fn a_boxed_payload_names_its_type() {
        assert_eq!(Payload::new(5u8).describe(), "u8");
        assert_eq!(
            Payload::new(String::new()).describe(),
            "alloc::string::String"
        );
        let p = Payload::new(vec![1u32]);
        assert_eq!(p.get::<Vec<u32>>(), Some(&vec![1u32]));
        assert_eq!(p.get::<Box<dyn Arg>>().map(|_| ()), None);
    }

    #[test]
    fn take_gives_the_value_back_on_a_type_mismatch() {
        let mut p = Payload::new(String::from("x"));
        assert_eq!(p.take::<u32>(), None);
        assert_eq!(p.take::<String>().as_deref(), Some("x"));
        assert!(p.is_empty());
        let mut io = Payload::Io(HandleId { num: 2, key: 1 }, IoMode::Write);
        assert_eq!(io.take::<u32>(), None);
        assert_eq!(io.take::<HandleId>().map(|h| h.num), Some(2));
    }
}
