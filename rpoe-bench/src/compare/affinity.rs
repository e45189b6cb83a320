//! Which CPU runs what: servers on one core, the load generator on
//! another, so that they do not compete.

pub use core_affinity::CoreId as Core;

/// The cores of a comparison.
#[derive(Debug, Clone)]
pub struct Cores {
    /// Where servers run (`None`: wherever the OS puts them).
    pub server: Option<Core>,
    /// Where the load generator runs.
    pub client: Option<Core>,
    /// How that was decided, for the report.
    pub note: String,
}

impl Cores {
    /// The first usable core for servers, the second for the load
    /// generator; no pinning on a single-core machine.
    pub fn plan() -> Cores {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        match ids.as_slice() {
            [server, client, ..] => Cores {
                server: Some(*server),
                client: Some(*client),
                note: format!(
                    "each server pinned to CPU {}, the load generator to CPU {}",
                    server.id, client.id
                ),
            },
            _ => Cores {
                server: None,
                client: None,
                note: "fewer than two usable CPUs: nothing pinned, server and load generator share"
                    .into(),
            },
        }
    }
}

/// Run `f` on a thread pinned to `core` (unpinned if `None`) and return
/// its result. Processes started inside `f` inherit the pinning.
pub fn on_core<T: Send>(core: Option<Core>, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            if let Some(c) = core {
                // Checked afterwards through /proc (the report shows each
                // server's CPU list); a failure only costs isolation.
                let _ = core_affinity::set_for_current(c);
            }
            f()
        });
        match worker.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
