//! Names and addresses, and how they map onto NATS subjects.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The longest kernel, alias, event or prefix name, in bytes.
pub const MAX_NAME: usize = 64;

/// The subject token that stands for "whichever kernel serves it" (`*`
/// in an address). Never a valid kernel name, since names start with a
/// letter or digit.
pub(crate) const ANY_TOKEN: &str = "_any";

/// Check one name: a kernel, an alias, an event or the subject prefix.
///
/// Valid names are 1 to [`MAX_NAME`] bytes of ASCII letters, digits, `_`
/// and `-`, starting with a letter or a digit. Why so strict: each name
/// becomes one token of a NATS subject, where `.` separates tokens, `*`
/// and `>` are wildcards and whitespace ends the subject; and a leading
/// `_` is kept for the kernel's own events (`_start`, `_stop`...), which
/// must never be reachable from the bus, and for the `_any` token.
///
/// # Errors
///
/// [`Error::InvalidName`], saying which rule the name breaks.
pub fn check_name(what: &'static str, name: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::InvalidName {
        what,
        name: name.chars().take(80).collect(),
        why: why.to_string(),
    };
    let Some(first) = name.bytes().next() else {
        return Err(bad("it is empty"));
    };
    if name.len() > MAX_NAME {
        return Err(bad(&format!("it is longer than {MAX_NAME} bytes")));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(bad("it must start with an ASCII letter or digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(bad(&format!(
            "{c:?} is not allowed (only ASCII letters, digits, '_' and '-')"
        )));
    }
    Ok(())
}

/// Which kernel an [`Address`] names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// That kernel only (`k2/alias/event`).
    Kernel(String),
    /// Whichever kernel serving the alias NATS picks, one per message
    /// (`*/alias/event`): the queue group of the alias's event.
    Any,
}

/// Where a remote post or call goes: `kernel/alias/event`, or
/// `*/alias/event` for any kernel that published the alias.
///
/// ```
/// use rpoe_ikc::{Address, Target};
///
/// let a: Address = "k2/chat/say".parse().unwrap();
/// assert_eq!(a.target, Target::Kernel("k2".into()));
/// assert_eq!(a.subject("rpoe"), "rpoe.k2.chat.say");
/// let any: Address = "*/chat/say".parse().unwrap();
/// assert_eq!(any.subject("rpoe"), "rpoe._any.chat.say");
/// assert!("k2/chat".parse::<Address>().is_err());
/// assert!("k2/chat/_stop".parse::<Address>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    /// The kernel.
    pub target: Target,
    /// The alias the session published.
    pub alias: String,
    /// One of the events it published.
    pub event: String,
}

impl Address {
    /// The address of `event` of `alias` on `kernel`, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] if a name is not valid ([`check_name`]).
    pub fn new(kernel: &str, alias: &str, event: &str) -> Result<Address, Error> {
        let target = if kernel == "*" {
            Target::Any
        } else {
            check_name("kernel", kernel)?;
            Target::Kernel(kernel.to_string())
        };
        check_name("alias", alias)?;
        check_name("event", event)?;
        Ok(Address {
            target,
            alias: alias.to_string(),
            event: event.to_string(),
        })
    }

    /// The NATS subject it maps to under `prefix`:
    /// `prefix.kernel.alias.event`, or `prefix._any.alias.event` for `*`.
    pub fn subject(&self, prefix: &str) -> String {
        let kernel = match &self.target {
            Target::Kernel(k) => k.as_str(),
            Target::Any => ANY_TOKEN,
        };
        format!("{prefix}.{kernel}.{}.{}", self.alias, self.event)
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Address, Error> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(a), Some(e), None) => Address::new(k, a, e),
            _ => Err(Error::InvalidAddress(s.chars().take(200).collect())),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Kernel(k) => write!(f, "{k}/{}/{}", self.alias, self.event),
            Target::Any => write!(f, "*/{}/{}", self.alias, self.event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "k1", "chat-server", "A_b-9", &"x".repeat(MAX_NAME)] {
            check_name("kernel", ok).unwrap();
        }
        for bad in [
            "",
            "_any",
            "-x",
            "a.b",
            "a*",
            "a>",
            "a b",
            "é",
            "a/b",
            &"x".repeat(MAX_NAME + 1),
        ] {
            let e = check_name("kernel", bad).unwrap_err();
            assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains("kernel"), "{e}");
        }
    }

    #[test]
    fn addresses() {
        let a: Address = "k/a/e".parse().unwrap();
        assert_eq!(a.to_string(), "k/a/e");
        assert_eq!(a.subject("p"), "p.k.a.e");
        assert_eq!("*/a/e".parse::<Address>().unwrap().to_string(), "*/a/e");
        for bad in ["", "k/a", "k/a/e/x", "k//e", "*/*/e", "k/a/e.f", "_any/a/e"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }
}
