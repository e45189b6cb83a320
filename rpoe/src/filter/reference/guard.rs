//! A serde `Deserializer` adapter that bounds what decoding one value may
//! cost, whatever the format underneath.
//!
//! Why an adapter: a value from a peer is decoded by `T`'s own
//! `Deserialize` impl, which recurses once per level of nesting and loops
//! once per element a sequence claims. Neither postcard nor serde bounds
//! either, so a small frame could overflow the stack (a recursive type,
//! one byte per level), spin (a `Vec<()>` claiming 2^63 elements: each
//! takes no bytes, so running out of input never stops the loop) or make
//! its `Vec`s far larger than the frame (each empty `String` is one byte
//! on the wire and 24 in memory). The adapter sits between `T` and the
//! format's deserializer and passes every call through, counting on the
//! way: nesting depth, the memory of the elements decoded, and the number
//! of zero-sized elements. Past a limit it fails the call with the
//! format's own error, and [`Budget::exceeded`] says which limit it was
//! (postcard's error type drops custom messages).

use std::cell::Cell;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// Which limit a decode ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exceeded {
    /// Nested deeper than this many levels.
    Depth(usize),
    /// Its sequences, maps and strings would take more than this many bytes.
    Memory(usize),
    /// More than this many zero-sized elements.
    ZeroSized(usize),
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Depth(n) => write!(f, "nested more than {n} levels deep"),
            Exceeded::Memory(n) => write!(f, "would take more than {n} bytes decoded"),
            Exceeded::ZeroSized(n) => write!(f, "more than {n} zero-sized elements"),
        }
    }
}

/// What one decode may still spend. Shared by reference between the
/// adapter's pieces (a sequence's elements are decoded while the sequence
/// is), hence the `Cell`s.
pub(super) struct Budget {
    depth: Cell<usize>,
    max_depth: usize,
    memory: Cell<usize>,
    max_memory: usize,
    zero_sized: Cell<usize>,
    max_zero_sized: usize,
    exceeded: Cell<Option<Exceeded>>,
}

impl Budget {
    pub(super) fn new(max_depth: usize, max_memory: usize, max_zero_sized: usize) -> Self {
        Budget {
            depth: Cell::new(0),
            max_depth,
            memory: Cell::new(max_memory),
            max_memory,
            zero_sized: Cell::new(max_zero_sized),
            max_zero_sized,
            exceeded: Cell::new(None),
        }
    }

    /// The limit that stopped the decode, if one did.
    pub(super) fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get()
    }

    fn fail<E: serde::de::Error>(&self, why: Exceeded) -> E {
        self.exceeded.set(Some(why));
        E::custom(why)
    }

    fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        let depth = self.depth.get() + 1;
        if depth > self.max_depth {
            return Err(self.fail(Exceeded::Depth(self.max_depth)));
        }
        self.depth.set(depth);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get() - 1);
    }

    fn charge<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        match self.memory.get().checked_sub(bytes) {
            Some(left) => {
                self.memory.set(left);
                Ok(())
            }
            None => Err(self.fail(Exceeded::Memory(self.max_memory))),
        }
    }

    /// Account for one element of type `V` in a sequence or map: its
    /// slot's size, or, for a type of size zero, one of the zero-sized
    /// elements allowed (they cost no input, so only a count stops them).
    fn element<V, E: serde::de::Error>(&self) -> Result<(), E> {
        match std::mem::size_of::<V>() {
            0 => match self.zero_sized.get().checked_sub(1) {
                Some(left) => {
                    self.zero_sized.set(left);
                    Ok(())
                }
                None => Err(self.fail(Exceeded::ZeroSized(self.max_zero_sized))),
            },
            size => self.charge(size),
        }
    }
}

/// The adapter: `inner` with every call counted against `budget`.
pub(super) struct Guarded<'b, D> {
    inner: D,
    budget: &'b Budget,
}

impl<'b, D> Guarded<'b, D> {
    pub(super) fn new(inner: D, budget: &'b Budget) -> Self {
        Guarded { inner, budget }
    }
}

/// Wraps what the format hands back so that nested values go through the
/// adapter too.
struct GuardedVisitor<'b, V> {
    inner: V,
    budget: &'b Budget,
}

struct GuardedSeed<'b, S> {
    inner: S,
    budget: &'b Budget,
}

struct GuardedSeq<'b, A> {
    inner: A,
    budget: &'b Budget,
}

struct GuardedMap<'b, A> {
    inner: A,
    budget: &'b Budget,
}

struct GuardedEnum<'b, A> {
    inner: A,
    budget: &'b Budget,
}

struct GuardedVariant<'b, A> {
    inner: A,
    budget: &'b Budget,
}

/// Every `deserialize_*` method: one level deeper for the duration of the
/// call, with the visitor wrapped.
macro_rules! deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let budget = self.budget;
            budget.enter::<D::Error>()?;
            let value = self.inner.$method($($arg,)* GuardedVisitor { inner: visitor, budget });
            budget.leave();
            value
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, D> {
    type Error = D::Error;

    deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Visitor methods passed through unchanged.
macro_rules! visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: serde::de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

/// Visitor methods for strings and bytes: charged their length, which is
/// what the visitor may copy into a `String` or `Vec<u8>`.
macro_rules! visit_charged {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: serde::de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.budget.charge::<E>(v.len())?;
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for GuardedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
    }

    visit_charged! {
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Guarded::new(d, self.budget))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner
            .visit_newtype_struct(Guarded::new(d, self.budget))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(GuardedSeq {
            inner: seq,
            budget: self.budget,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(GuardedMap {
            inner: map,
            budget: self.budget,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(GuardedEnum {
            inner: data,
            budget: self.budget,
        })
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for GuardedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Guarded::new(d, self.budget))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for GuardedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let budget = self.budget;
        let element = self.inner.next_element_seed(GuardedSeed {
            inner: seed,
            budget,
        })?;
        if element.is_some() {
            budget.element::<S::Value, A::Error>()?;
        }
        Ok(element)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for GuardedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let budget = self.budget;
        let key = self.inner.next_key_seed(GuardedSeed {
            inner: seed,
            budget,
        })?;
        if key.is_some() {
            budget.element::<K::Value, A::Error>()?;
        }
        Ok(key)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let budget = self.budget;
        let value = self.inner.next_value_seed(GuardedSeed {
            inner: seed,
            budget,
        })?;
        budget.element::<S::Value, A::Error>()?;
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'b, A: EnumAccess<'de>> EnumAccess<'de> for GuardedEnum<'b, A> {
    type Error = A::Error;
    type Variant = GuardedVariant<'b, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let budget = self.budget;
        let (tag, variant) = self.inner.variant_seed(GuardedSeed {
            inner: seed,
            budget,
        })?;
        Ok((
            tag,
            GuardedVariant {
                inner: variant,
                budget,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for GuardedVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        let budget = self.budget;
        budget.enter::<A::Error>()?;
        let value = self.inner.newtype_variant_seed(GuardedSeed {
            inner: seed,
            budget,
        });
        budget.leave();
        value
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.enter::<A::Error>()?;
        let value = self.inner.tuple_variant(
            len,
            GuardedVisitor {
                inner: visitor,
                budget,
            },
        );
        budget.leave();
        value
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.enter::<A::Error>()?;
        let value = self.inner.struct_variant(
            fields,
            GuardedVisitor {
                inner: visitor,
                budget,
            },
        );
        budget.leave();
        value
    }
}
