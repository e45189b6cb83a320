//! How a kernel joins the bus: credentials, TLS and the [`Config`] the
//! IKC is made from, and the NATS client options it turns into. Kept
//! apart so the settings read as one list, away from the machinery that
//! uses them.

use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use async_nats::ConnectOptions;

#[cfg(doc)]
use crate::{check_name, Failed, Ikc};

/// Credentials given to the NATS server.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// None (the default).
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An authentication token.
    Token(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets.
        match self {
            Auth::None => f.write_str("None"),
            Auth::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            Auth::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// TLS settings for the connection to the NATS server. A `tls://` URL
/// also turns TLS on.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Tls {
    /// Refuse a connection without TLS.
    pub required: bool,
    /// PEM files of certificate authorities to trust besides the
    /// system's.
    pub root_certificates: Vec<PathBuf>,
    /// A client certificate and its key (PEM files), for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Start TLS before the server's INFO (servers set up for
    /// `handshake_first`).
    pub tls_first: bool,
}

/// A hook that edits the client's options last (see
/// [`Config::connect_options`]).
pub type OptionsHook = Rc<dyn Fn(ConnectOptions) -> ConnectOptions>;

/// How a kernel joins the bus.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// This kernel's name on the bus ([`check_name`]).
    pub kernel: String,
    /// NATS server URLs (`nats://host:port`, `tls://...`); the client
    /// picks one and fails over to the others.
    pub servers: Vec<String>,
    /// The first token of every subject (default `rpoe`), so separate
    /// applications can share a server.
    pub prefix: String,
    /// The default timeout of [`Ikc::call`] (default 10 s), on the
    /// kernel's clock.
    pub call_timeout: Duration,
    /// Messages the outgoing buffer holds while the bus is down or slow
    /// (default 8,192).
    pub max_pending: usize,
    /// Bytes the outgoing buffer holds (default 8 MiB).
    pub max_pending_bytes: usize,
    /// The NATS client's command channel (default 1,024 messages).
    pub client_capacity: usize,
    /// Messages the client buffers per subscription before it drops them
    /// as a slow consumer (default 8,192).
    pub subscription_capacity: usize,
    /// Messages taken from one subscription per kernel round (default
    /// 256); four times as many are taken from all of them together.
    pub batch: usize,
    /// The event a session gets when a post of its own, or an event for
    /// it, failed (default `ikc_error`); its argument is a [`Failed`].
    pub error_event: String,
    /// The longest wait between reconnection attempts (default 2 s; the
    /// wait grows by 50 ms per failed attempt up to it).
    pub reconnect_delay_max: Duration,
    /// How long one connection attempt may take (default 5 s).
    pub connect_timeout: Duration,
    /// Credentials.
    pub auth: Auth,
    /// TLS.
    pub tls: Tls,
    /// Applied last to the client's options, for anything this `Config`
    /// does not name (nkeys, `.creds` files, a custom TLS config...).
    pub connect_options: Option<OptionsHook>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("kernel", &self.kernel)
            .field("servers", &self.servers)
            .field("prefix", &self.prefix)
            .field("call_timeout", &self.call_timeout)
            .field("max_pending", &self.max_pending)
            .field("max_pending_bytes", &self.max_pending_bytes)
            .field("client_capacity", &self.client_capacity)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("batch", &self.batch)
            .field("error_event", &self.error_event)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A kernel named `kernel` on the server at `server`, with the
    /// defaults above.
    pub fn new(kernel: impl Into<String>, server: impl Into<String>) -> Config {
        Config {
            kernel: kernel.into(),
            servers: vec![server.into()],
            prefix: "rpoe".into(),
            call_timeout: Duration::from_secs(10),
            max_pending: 8192,
            max_pending_bytes: 8 << 20,
            client_capacity: 1024,
            subscription_capacity: 8192,
            batch: 256,
            error_event: "ikc_error".into(),
            reconnect_delay_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            auth: Auth::None,
            tls: Tls::default(),
            connect_options: None,
        }
    }

    pub(crate) fn client_options(
        &self,
        events: tokio::sync::mpsc::Sender<async_nats::Event>,
    ) -> ConnectOptions {
        let mut o = ConnectOptions::new()
            .name(format!("rpoe-ikc {}", self.kernel))
            .client_capacity(self.client_capacity.max(1))
            .subscription_capacity(self.subscription_capacity.max(1))
            .connection_timeout(self.connect_timeout)
            .max_reconnects(None)
            .request_timeout(None)
            .event_callback(move |ev| {
                // Bounded: bus events beyond 64 unread ones are dropped
                // (they are reports, and the state is re-read anyway).
                let _ = events.try_send(ev);
                async {}
            });
        let max = self.reconnect_delay_max;
        o = o.reconnect_delay_callback(move |attempts| {
            Duration::from_millis(50u64.saturating_mul(attempts as u64)).min(max)
        });
        o = match &self.auth {
            Auth::None => o,
            Auth::UserPassword { user, password } => {
                o.user_and_password(user.clone(), password.clone())
            }
            Auth::Token(t) => o.token(t.clone()),
        };
        if self.tls.required {
            o = o.require_tls(true);
        }
        for ca in &self.tls.root_certificates {
            o = o.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls.client_certificate {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls.tls_first {
            o = o.tls_first();
        }
        if let Some(hook) = &self.connect_options {
            o = hook(o);
        }
        o
    }
}
