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
/// Only [`Slot`]s are `Arg`s, so a `Box<dyn Arg>` always holds one.
pub(crate) trait Arg: Any {
    fn type_name(&self) -> &'static str;
    /// Drop the value, keeping the allocation.
    fn clear(&mut self);
}

/// What a boxed argument's allocation holds: the value, in an `Option` so
/// that taking it out leaves the allocation behind, to be reused by the
/// next argument of the same type (see [`recycle`]) rather than freed and
/// allocated again — issue 17: a handler fed a stream of one non-small
/// argument type (IKC's `Incoming<T>`) allocates nothing per event.
pub(crate) struct Slot<T>(Option<T>);

impl<T: Any> Arg for Slot<T> {
    fn type_name(&self) -> &'static str {
        type_name::<T>()
    }

    fn clear(&mut self) {
        self.0 = None;
    }
}

/// An [`Arg`] that may cross threads (a [`crate::KernelHandle`] post).
pub(crate) trait SendArg: Arg + Send {}

impl<T: Any + Send> SendArg for Slot<T> {}

/// `value` in a fresh slot, for a cross-thread post (the pool is the
/// kernel thread's, so a poster on another thread does not touch it).
pub(crate) fn send_slot<T: Any + Send>(value: T) -> Box<dyn SendArg> {
    Box::new(Slot(Some(value)))
}

/// The value of a slot made by [`send_slot`], if it is a `T` (a refused
/// cross-thread post gives its argument back).
pub(crate) fn unslot<T: Any>(b: Box<dyn SendArg>) -> Option<T> {
    let mut any: Box<dyn Any> = b;
    any.downcast_mut::<Slot<T>>()?.0.take()
}

/// Emptied slots kept for reuse, per thread (a kernel is single-threaded,
/// so this is in effect the kernel's). Bounded in number ([`POOL_LEN`])
/// and in size ([`POOL_MAX_BYTES`] per slot), so the pool holds at most
/// a few KiB whatever the program sends.
const POOL_LEN: usize = 16;
const POOL_MAX_BYTES: usize = 256;

thread_local! {
    /// Each slot beside its type's id, so that finding one compares ids
    /// in place rather than asking each slot's vtable.
    static POOL: std::cell::RefCell<Vec<(TypeId, Box<dyn Arg>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `value` boxed, in an emptied slot of its type from the pool if there
/// is one, else in a new allocation.
#[inline]
fn boxed<T: Any>(value: T) -> Box<dyn Arg> {
    if std::mem::size_of::<Slot<T>>() <= POOL_MAX_BYTES {
        let reused = POOL
            .try_with(|pool| {
                let mut pool = pool.try_borrow_mut().ok()?;
                // The newest first: a stream of one type finds its slot at
                // the end.
                let want = TypeId::of::<Slot<T>>();
                let at = pool.iter().rposition(|(t, _)| *t == want)?;
                Some(pool.swap_remove(at).1)
            })
            .ok()
            .flatten();
        if let Some(mut b) = reused {
            if let Some(slot) = (&mut *b as &mut dyn Any).downcast_mut::<Slot<T>>() {
                slot.0 = Some(value);
                return b;
            }
            unreachable!("the pool's slot was checked to be a Slot<T>");
        }
    }
    Box::new(Slot(Some(value)))
}

/// Keep an emptied slot for the next argument of its type, if the pool
/// has room and the slot is small; otherwise free it.
#[inline]
fn recycle(b: Box<dyn Arg>) {
    if std::mem::size_of_val(&*b) > POOL_MAX_BYTES {
        return;
    }
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < POOL_LEN {
                let t = (&*b as &dyn Any).type_id();
                pool.push((t, b));
            }
        }
    });
}

/// Defines [`Payload`] with one variant per type stored inline, and the
/// generic constructor and accessors that route a `T` to its variant.
///
/// Why inline variants: a `Box` per event is a heap allocation per event
/// (issue 12: none for small `Copy` arguments). Safe code cannot store a
/// generic `T` in a byte buffer, but a closed set of common types
/// can each have a variant; moving a `T` in or out goes through
/// `Option<T>` as `dyn Any` (`downcast_mut::<Option<U>>`), which the
/// compiler folds away once `T` is known, so the cost is a move.
macro_rules! payloads {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        pub(crate) enum Payload {
            Empty,
            $($variant($ty),)*
            /// An I/O readiness event: the handle, the mode, and, for a
            /// read, whether the OS reported the peer closed (or an error)
            /// with it — a fact of this delivery, so it travels with it.
            Io(HandleId, IoMode, bool),
            /// An I/O event of a watcher set with extra arguments: the
            /// handle is still the argument, the extras ride beside it.
            /// Boxed (these watchers are rare) so that every other
            /// payload, and so every queued event, stays small.
            IoWith(Box<IoWith>),
            // Always a `Slot` (only slots are `Arg`s); while in a payload
            // the slot is full.
            Boxed(Box<dyn Arg>),
        }

        impl Payload {
            #[inline]
            pub(crate) fn new<T: Any>(value: T) -> Payload {
                let t = TypeId::of::<T>();
                if t == TypeId::of::<()>() {
                    return Payload::Empty;
                }
                $(
                    if t == TypeId::of::<$ty>() {
                        if let Some(v) = cast::<T, $ty>(value) {
                            return Payload::$variant(v);
                        }
                        unreachable!("the type ids are equal");
                    }
                )*
                Payload::Boxed(boxed(value))
            }

            #[inline]
            pub(crate) fn get<T: Any>(&self) -> Option<&T> {
                match self {
                    Payload::Empty => (&() as &dyn Any).downcast_ref(),
                    $(Payload::$variant(v) => (v as &dyn Any).downcast_ref(),)*
                    Payload::Io(h, _, _) => (h as &dyn Any).downcast_ref(),
                    Payload::IoWith(w) => (&w.handle as &dyn Any).downcast_ref(),
                    Payload::Boxed(b) => {
                        let any: &dyn Any = &**b;
                        any.downcast_ref::<Slot<T>>().and_then(|s| s.0.as_ref())
                    }
                }
            }

            #[inline]
            pub(crate) fn take<T: Any>(&mut self) -> Option<T> {
                match self {
                    Payload::Empty => cast::<(), T>(()),
                    $(Payload::$variant(v) => {
                        let got = cast::<$ty, T>(*v);
                        if got.is_some() {
                            *self = Payload::Empty;
                        }
                        got
                    })*
                    Payload::Io(h, _, _) => {
                        let got = cast::<HandleId, T>(*h);
                        if got.is_some() {
                            *self = Payload::Empty;
                        }
                        got
                    }
                    Payload::IoWith(w) => {
                        let got = cast::<HandleId, T>(w.handle);
                        if got.is_some() {
                            *self = Payload::Empty;
                        }
                        got
                    }
                    Payload::Boxed(b) => {
                        let any: &mut dyn Any = &mut **b;
                        let got = any.downcast_mut::<Slot<T>>()?.0.take();
                        let Payload::Boxed(b) = std::mem::replace(self, Payload::Empty) else {
                            unreachable!("matched above")
                        };
                        recycle(b);
                        got
                    }
                }
            }

            pub(crate) fn describe(&self) -> &'static str {
                match self {
                    Payload::Empty => "()",
                    $(Payload::$variant(_) => type_name::<$ty>(),)*
                    Payload::Io(..) | Payload::IoWith(..) => "HandleId (I/O event)",
                    Payload::Boxed(b) => Arg::type_name(&**b),
                }
            }
        }
    };
}

/// Move `value` out as a `U` if `T` is `U` (no allocation, safe code only).
#[inline(always)]
fn cast<T: Any, U: Any>(value: T) -> Option<U> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<U>>()
        .and_then(Option::take)
}

/// The boxed part of an I/O event whose watcher has extra arguments.
pub(crate) struct IoWith {
    pub handle: HandleId,
    pub mode: IoMode,
    pub peer_closed: bool,
    pub extra: std::rc::Rc<dyn Any>,
}

// The small `Copy` types an event argument or a handler's return value is
// most often: stored in the payload itself. Every one is at most 16 bytes
// (with `Io`'s 17 the payload stays 24 bytes); anything else is boxed.
payloads! {
    Bool(bool),
    Char(char),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Usize(usize),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Isize(isize),
    F32(f32),
    F64(f64),
    Str(&'static str),
    Duration(std::time::Duration),
    Time(super::clock::Time),
    Session(super::ids::SessionId),
    Handle(HandleId),
    Timer(super::ids::TimerId),
    Event(super::names::EventId),
    U64Pair((u64, u64)),
    U32Pair((u32, u32)),
    UsizePair((usize, usize)),
    I64Pair((i64, i64)),
}

impl Payload {
    pub(crate) fn io_with(
        handle: HandleId,
        mode: IoMode,
        peer_closed: bool,
        extra: std::rc::Rc<dyn Any>,
    ) -> Self {
        Payload::IoWith(Box::new(IoWith {
            handle,
            mode,
            peer_closed,
            extra,
        }))
    }

    /// For a read event: whether the peer closed (see `Ctx::io_peer_closed`).
    pub(crate) fn io_peer_closed(&self) -> bool {
        match self {
            Payload::Io(_, IoMode::Read, closed) => *closed,
            Payload::IoWith(w) => w.mode == IoMode::Read && w.peer_closed,
            _ => false,
        }
    }

    /// For an I/O event: its handle and mode.
    pub(crate) fn io(&self) -> Option<(HandleId, IoMode)> {
        match self {
            Payload::Io(h, m, _) => Some((*h, *m)),
            Payload::IoWith(w) => Some((w.handle, w.mode)),
            _ => None,
        }
    }

    /// For an I/O event of a watcher with extras: the extras.
    pub(crate) fn io_extra(&self) -> Option<&dyn Any> {
        match self {
            Payload::IoWith(w) => Some(&*w.extra),
            _ => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Payload::Empty)
    }

    /// Whether the argument is boxed (see [`Payload::release`]).
    #[inline]
    pub(crate) fn is_boxed(&self) -> bool {
        matches!(self, Payload::Boxed(_))
    }

    /// Drop the payload once its event is handled, keeping a boxed
    /// argument's allocation for the next argument of its type (a handler
    /// that only borrowed its argument leaves it here).
    #[inline]
    pub(crate) fn release(self) {
        if let Payload::Boxed(mut b) = self {
            b.clear();
            recycle(b);
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
            Payload::Io(h, m, _) => write!(f, "Value({h}, {m:?})"),
            Payload::IoWith(w) => write!(f, "Value({}, {:?})", w.handle, w.mode),
            _ => f.write_str("Value(..)"),
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
    fn unit_io_and_small_copy_payloads_are_not_boxed() {
        assert!(matches!(Payload::new(()), Payload::Empty));
        assert!(matches!(Payload::new(5u8), Payload::U8(5)));
        assert!(matches!(Payload::new(5u64), Payload::U64(5)));
        assert!(matches!(
            Payload::new((1u64, 2u64)),
            Payload::U64Pair((1, 2))
        ));
        assert!(matches!(Payload::new("x"), Payload::Str("x")));
        assert!(matches!(Payload::new(String::new()), Payload::Boxed(_)));
        assert!(matches!(Payload::new([0u8; 4]), Payload::Boxed(_)));
        let h = HandleId { num: 1, key: 0 };
        let p = Payload::Io(h, IoMode::Read, false);
        assert_eq!(p.get::<HandleId>(), Some(&h));
        assert_eq!(p.get::<()>(), None);
        // A handle sent as an ordinary argument reads the same way.
        assert_eq!(Payload::new(h).get::<HandleId>(), Some(&h));
    }

    #[test]
    fn the_payload_and_so_a_queued_entry_stay_small() {
        assert!(std::mem::size_of::<Payload>() <= 24);
        assert!(std::mem::size_of::<super::super::queue::Queued>() <= 64);
    }

    #[test]
    fn inline_values_are_typed_as_they_were_sent() {
        let mut p = Payload::new(7u32);
        assert_eq!(p.get::<u64>(), None);
        assert_eq!(p.get::<i32>(), None);
        assert_eq!(p.describe(), "u32");
        assert_eq!(p.take::<u64>(), None);
        assert_eq!(p.take::<u32>(), Some(7));
        assert!(p.is_empty());
        let mut f = Payload::new(1.5f64);
        assert_eq!(f.get::<f64>(), Some(&1.5));
        assert_eq!(f.take::<f32>(), None);
        assert_eq!(f.take::<f64>(), Some(1.5));
        let mut io = Payload::io_with(
            HandleId { num: 3, key: 1 },
            IoMode::Write,
            false,
            std::rc::Rc::new("extra"),
        );
        assert_eq!(io.io().map(|(h, m)| (h.num, m)), Some((3, IoMode::Write)));
        assert_eq!(
            io.io_extra().and_then(|e| e.downcast_ref::<&str>()),
            Some(&"extra")
        );
        assert_eq!(io.take::<HandleId>().map(|h| h.num), Some(3));
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
        let mut io = Payload::Io(HandleId { num: 2, key: 1 }, IoMode::Write, false);
        assert_eq!(io.take::<u32>(), None);
        assert_eq!(io.take::<HandleId>().map(|h| h.num), Some(2));
    }

    /// The address of a boxed payload's allocation.
    fn addr(p: &Payload) -> *const u8 {
        match p {
            Payload::Boxed(b) => (&**b as *const dyn Arg).cast(),
            _ => std::ptr::null(),
        }
    }

    #[test]
    fn a_taken_or_released_slot_is_reused_for_its_type_only() {
        let mut p = Payload::new(String::from("a"));
        let first = addr(&p);
        assert_eq!(p.take::<String>().as_deref(), Some("a"));
        // Another type does not get the String's slot.
        let other = Payload::new(vec![1u8]);
        assert_ne!(addr(&other), first);
        let q = Payload::new(String::from("b"));
        assert_eq!(addr(&q), first, "the emptied slot was reused");
        assert_eq!(q.get::<String>().map(String::as_str), Some("b"));
        q.release();
        let r = Payload::new(String::from("c"));
        assert_eq!(addr(&r), first, "a released slot is reused too");
        assert_eq!(r.get::<String>().map(String::as_str), Some("c"));
        assert_eq!(r.describe(), "alloc::string::String");
        other.release();
        r.release();
    }

    #[test]
    fn big_slots_are_not_kept() {
        let mut p = Payload::new([7u8; 4096]);
        assert_eq!(p.take::<[u8; 4096]>().map(|a| a[0]), Some(7));
        POOL.with(|pool| {
            assert!(pool
                .borrow()
                .iter()
                .all(|(t, _)| *t != TypeId::of::<Slot<[u8; 4096]>>()));
        });
    }
}
