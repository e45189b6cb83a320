//! Where a handler panicked, for DIE's report.
//!
//! A panic payload carries only the message; the location is given to
//! the panic hook alone. So the kernel installs, once per process, a hook
//! that notes the location in a thread-local and then calls the hook that
//! was there before (the default one still prints the message, a test
//! harness's still captures it). A dispatch that catches the panic takes
//! the note; Perl's equivalent is the " at FILE line N." that `die` adds
//! to its message.

use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    static LAST: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Install the location-noting hook, chained to the current one. Later
/// calls do nothing; a hook set afterwards by someone else replaces ours,
/// and panics then report no location.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(l) = info.location() {
                let _ = LAST.try_with(|c| {
                    if let Ok(mut slot) = c.try_borrow_mut() {
                        *slot = Some((l.file().to_string(), l.line()));
                    }
                });
            }
            previous(info);
        }));
    });
}

/// The location of this thread's latest panic, if the hook saw one since
/// the last call.
pub(crate) fn take() -> Option<(String, u32)> {
    LAST.try_with(|c| c.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
}
