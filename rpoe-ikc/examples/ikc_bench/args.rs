//! The command line: options, `--help`, and clear errors for bad ones.

pub(crate) struct Args {
    pub(crate) n: u64,
    pub(crate) calls: u64,
    pub(crate) rounds: usize,
    pub(crate) chunks: u64,
    pub(crate) nats: Option<String>,
    /// Bytes of text in each argument besides its number (0: a bare
    /// number).
    pub(crate) pad: usize,
    /// Posts per event of IKC's producer, at most.
    pub(crate) per_event: u64,
}

/// What `--help` prints.
pub(crate) const USAGE: &str = "\
ikc_bench: rpoe-ikc against plain async-nats on the same nats-server

Usage: ikc_bench [--n N] [--calls N] [--rounds N] [--chunks N] [--pad BYTES]
                 [--per-event N] [--nats URL]

Options:
  --n N        posts per round (default: 200000)
  --calls N    sequential calls per round (default: 5000)
  --rounds N   rounds; the report gives each and their median (default: 5)
  --chunks N   each round is cut into N chunks that alternate which side
               goes first (default: 10)
  --pad BYTES  each post's and call's argument carries BYTES of text
               besides its number (default: 0, a bare number)
  --per-event N
               IKC's producer posts at most N per event, then lets the
               kernel turn (default: 128, the sends tokio's cooperative
               budget lets the plain publisher make before the client's
               connection task runs)
  --nats URL   an existing NATS server (default: start nats-server on a
               free loopback port; it must be on the PATH)
  -h, --help   print this help

Ratios are IKC over plain (above 1: IKC costs more). Build with --release.
";

/// The largest `--pad`.
const MAX_PAD: usize = 512 * 1024;

/// The options [`parse`] knows.
const OPTIONS: [&str; 7] = [
    "--n",
    "--calls",
    "--rounds",
    "--chunks",
    "--pad",
    "--per-event",
    "--nats",
];

/// The options, or why they are wrong.
pub(crate) fn parse() -> Result<Args, String> {
    let mut a = Args {
        n: 200_000,
        calls: 5000,
        rounds: 5,
        chunks: 10,
        nats: None,
        pad: 0,
        per_event: 128,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        if f == "--help" || f == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        // Every option takes a value: an unknown one is named as such,
        // not as one missing its value.
        if !OPTIONS.contains(&f.as_str()) {
            return Err(format!("unknown option {f} (see --help)"));
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{f} needs a value (see --help)"))?;
        let num = |what: &str| -> Result<u64, String> {
            match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{what} must be a positive integer, not {v:?}")),
            }
        };
        match f.as_str() {
            "--n" => a.n = num("--n")?,
            "--calls" => a.calls = num("--calls")?,
            "--rounds" => a.rounds = num("--rounds")? as usize,
            "--chunks" => a.chunks = num("--chunks")?,
            "--per-event" => a.per_event = num("--per-event")?,
            "--pad" => {
                a.pad = v
                    .parse()
                    .map_err(|_| format!("--pad must be a number of bytes, not {v:?}"))?
            }
            _ => a.nats = Some(v), // "--nats", the last of OPTIONS
        }
    }
    if a.pad > MAX_PAD {
        return Err(format!(
            "--pad {} is over {MAX_PAD}: a message must stay under nats-server's default max_payload (1 MiB)",
            a.pad
        ));
    }
    if a.chunks > a.n.min(a.calls) {
        return Err(format!(
            "--chunks {} is more than --n or --calls: each chunk needs at least one",
            a.chunks
        ));
    }
    Ok(a)
}
