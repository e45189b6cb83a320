//! Fetch the URLs read on standard input (one per line) and print one
//! status line each, as the replies come: `200 http://... (1234 bytes)`
//! or `error http://...: why`. Plain http only.
//!
//! ```text
//! printf 'http://127.0.0.1:8080/\n' | cargo run -p rpoe-http --example fetch
//! ```
//!
//! Options: `--concurrency N` (default 16), `--timeout-ms N` (default
//! 10,000).

use std::io::BufRead;
use std::time::Duration;

use rpoe::{Kernel, Session};
use rpoe_http::{Config, Reply, Request};

fn main() {
    let mut config = Config {
        timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), value) {
            ("--concurrency", Some(n)) => config.concurrency = n as usize,
            ("--timeout-ms", Some(n)) => config.timeout = Duration::from_millis(n),
            _ => {
                eprintln!("usage: fetch [--concurrency N] [--timeout-ms N] < urls");
                std::process::exit(2);
            }
        }
    }
    let urls: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();

    let mut kernel = Kernel::new().expect("kernel");
    kernel.spawn(rpoe_http::session(config), ());
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                for (i, url) in urls.iter().enumerate() {
                    let req = Request::get(url.clone(), "got").tag(i as u64);
                    ctx.post("http", "request", req)
                        .expect("the component is there");
                }
            })
            .on("got", |ctx| {
                let reply = ctx.take_arg::<Reply>().expect("a reply");
                match reply.result {
                    Ok(r) => println!("{} {} ({} bytes)", r.status, reply.url, r.body.len()),
                    Err(e) => println!("error {}: {e}", reply.url),
                }
            }),
        (),
    );
    if let Err(e) = rpoe::tokio::run(&mut kernel) {
        eprintln!("fetch: {e}");
        std::process::exit(1);
    }
}
