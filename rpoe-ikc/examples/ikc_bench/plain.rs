//! The plain async-nats side: a counting thread and an answering
//! thread, with the same user code and the same bytes on the wire.

use std::sync::mpsc;
use std::time::Instant;

use futures_util::StreamExt;

use crate::shared::{handle_hit, named, rt, tid, Arg};

/// Same length as `rpoe.b.sink.hit.a`, IKC's subject, and the same
/// sender token at its end.
pub(crate) const PLAIN_HIT: &str = "rpoe.p.sink.hit.a";
pub(crate) const PLAIN_ECHO: &str = "rpoe.p.sink.echo.a";

pub(crate) struct Plain {
    pub(crate) target: mpsc::Sender<u64>,
    pub(crate) done: mpsc::Receiver<(Instant, u64)>,
    pub(crate) counter_tid: u64,
    pub(crate) echo_tid: u64,
}

/// Plain async-nats: a counter thread and an answering thread, each on
/// its own current-thread runtime as each IKC kernel is.
pub(crate) fn plain_peers<A: Arg>(url: &str, n: u64) -> Plain {
    let (target_tx, target_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let u = url.to_string();
    let r1 = ready_tx.clone();
    named("plain-count", move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::ConnectOptions::new()
                .subscription_capacity(n as usize + 1024)
                .connect(u)
                .await
                .unwrap();
            let mut sub = c.subscribe(PLAIN_HIT).await.unwrap();
            c.flush().await.unwrap();
            r1.send((0, tid())).unwrap();
            while let Ok(target) = target_rx.recv() {
                let (mut count, mut sum) = (0, 0);
                loop {
                    // Decoded and handed to the same user code as IKC's.
                    let m = sub.next().await.unwrap();
                    let v: A = serde_json::from_slice(&m.payload).unwrap();
                    let from = m.subject.as_str().rsplit('.').next().unwrap_or("");
                    if handle_hit(&mut count, &mut sum, from, v.n()) == target {
                        break;
                    }
                }
                done_tx.send((Instant::now(), sum)).unwrap();
            }
        });
    });
    let u = url.to_string();
    named("plain-echo", move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::connect(u).await.unwrap();
            let mut sub = c.subscribe(PLAIN_ECHO).await.unwrap();
            c.flush().await.unwrap();
            ready_tx.send((1, tid())).unwrap();
            // The same header IKC's answers carry (the answering kernel).
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(rpoe_ikc::KERNEL_HEADER, "p");
            while let Some(m) = sub.next().await {
                // Decoded and encoded again, as IKC's `echo` does.
                let v: A = serde_json::from_slice(&m.payload).unwrap();
                let out = serde_json::to_vec(&v).unwrap();
                if let Some(r) = m.reply {
                    c.publish_with_headers(r, headers.clone(), out.into())
                        .await
                        .unwrap();
                }
            }
        });
    });
    let (mut counter_tid, mut echo_tid) = (0, 0);
    for _ in 0..2 {
        match ready_rx.recv().unwrap() {
            (0, t) => counter_tid = t,
            (_, t) => echo_tid = t,
        }
    }
    Plain {
        target: target_tx,
        done: done_rx,
        counter_tid,
        echo_tid,
    }
}
