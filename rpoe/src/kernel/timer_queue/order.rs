//! The order of the pending timers' heap entries: a 4-ary min-heap for
//! timers set a few at a time, beside a sorted run for those set in bulk
//! (see [`Order`]).

/// One heap entry: where a timer was due when the entry was made.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) due: u64,
    pub(super) seq: u64,
    pub(super) key: u32,
}

impl Entry {
    #[inline]
    fn before(&self, other: &Entry) -> bool {
        (self.due, self.seq) < (other.due, other.seq)
    }
}

/// Children per heap node.
const ARITY: usize = 4;

/// A min-heap of [`Entry`] with four children per node.
#[derive(Default)]
pub(super) struct Heap {
    pub(super) v: Vec<Entry>,
}

impl Heap {
    fn peek(&self) -> Option<&Entry> {
        self.v.first()
    }

    fn push(&mut self, e: Entry) {
        self.v.push(e);
        self.sift_up(self.v.len() - 1, e);
    }

    /// Put `e` at or above hole `i`, moving greater parents down.
    fn sift_up(&mut self, mut i: usize, e: Entry) {
        while i > 0 {
            let p = (i - 1) / ARITY;
            if e.before(&self.v[p]) {
                self.v[i] = self.v[p];
                i = p;
            } else {
                break;
            }
        }
        self.v[i] = e;
    }

    /// The index of the least child of `i` (which has at least one).
    #[inline]
    fn least_child(&self, i: usize) -> usize {
        let first = ARITY * i + 1;
        let end = (first + ARITY).min(self.v.len());
        let mut m = first;
        for c in first + 1..end {
            if self.v[c].before(&self.v[m]) {
                m = c;
            }
        }
        m
    }

    fn pop(&mut self) -> Option<Entry> {
        let last = self.v.pop()?;
        let Some(top) = self.v.first().copied() else {
            return Some(last);
        };
        // The last entry is usually among the latest: walk the hole at the
        // top down to a leaf along least children without comparing it at
        // every level, then let it rise the little it needs.
        let len = self.v.len();
        let mut i = 0;
        while ARITY * i + 1 < len {
            let c = self.least_child(i);
            self.v[i] = self.v[c];
            i = c;
        }
        self.sift_up(i, last);
        Some(top)
    }

    fn clear(&mut self) {
        self.v.clear();
    }

    /// Give back memory once most of it is unused (after a burst).
    fn shrink(&mut self) {
        shrink_vec(&mut self.v);
    }
}

/// Halve a vector's allocation once it is four times what it holds, so
/// memory follows a drained burst down at amortised O(1) per element.
pub(super) fn shrink_vec<T>(v: &mut Vec<T>) {
    if v.capacity() > 4 * v.len() + 256 {
        v.shrink_to(2 * v.len());
    }
}

/// Fewest entries set between two looks at the earliest timer that are
/// sorted into a run rather than pushed on the heap one by one.
const RUN_MIN: usize = 64;

/// The order of the pending timers' heap entries.
///
/// Why not a heap alone: popping from a heap of a million entries costs a
/// cache miss per level, and timers are often set in bulk (a timeout per
/// connection, per request) and then fire in due order. Entries set since
/// the kernel last looked at the earliest timer wait unsorted in `batch`;
/// when it looks, a small batch goes on the heap, a large one (at least
/// [`RUN_MIN`] and a quarter of the sorted run) is sorted and merged into
/// `run`, which is then consumed front to back with sequential reads. The
/// earliest entry is the lesser of the heap's top and the run's front.
/// Each merge copies at most five times the batch it merges, so setting a
/// timer stays O(1) amortised plus its share of a sort.
#[derive(Default)]
pub(super) struct Order {
    pub(super) heap: Heap,
    /// Sorted by `(due, seq)`; entries before `run_pos` are consumed.
    pub(super) run: Vec<Entry>,
    pub(super) run_pos: usize,
    /// Set since the last look, in no order.
    pub(super) batch: Vec<Entry>,
}

/// Which part of [`Order`] holds its earliest entry.
#[derive(Clone, Copy)]
pub(super) enum Top {
    Heap,
    Run,
}

impl Order {
    pub(super) fn push(&mut self, e: Entry) {
        self.batch.push(e);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.heap.v.len() + (self.run.len() - self.run_pos) + self.batch.len()
    }

    /// Place the batch in the heap or the run.
    pub(super) fn settle(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let in_run = self.run.len() - self.run_pos;
        if self.batch.len() < RUN_MIN || self.batch.len() * 4 < in_run {
            for i in 0..self.batch.len() {
                let e = self.batch[i];
                self.heap.push(e);
            }
            self.batch.clear();
            return;
        }
        self.batch.sort_unstable_by_key(|e| (e.due, e.seq));
        if in_run == 0 {
            std::mem::swap(&mut self.run, &mut self.batch);
            self.batch.clear();
            shrink_vec(&mut self.batch);
        } else {
            let mut merged = Vec::with_capacity(in_run + self.batch.len());
            let (mut a, mut b) = (
                self.run[self.run_pos..].iter().peekable(),
                self.batch.iter().peekable(),
            );
            while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
                if y.before(x) {
                    merged.push(**y);
                    b.next();
                } else {
                    merged.push(**x);
                    a.next();
                }
            }
            merged.extend(a);
            merged.extend(b);
            self.run = merged;
            self.batch.clear();
            shrink_vec(&mut self.batch);
        }
        self.run_pos = 0;
    }

    /// The earliest entry and where it is.
    pub(super) fn peek(&mut self) -> Option<(Entry, Top)> {
        self.settle();
        match (self.heap.peek(), self.run.get(self.run_pos)) {
            (Some(h), Some(r)) if r.before(h) => Some((*r, Top::Run)),
            (Some(h), _) => Some((*h, Top::Heap)),
            (None, Some(r)) => Some((*r, Top::Run)),
            (None, None) => None,
        }
    }

    /// Drop the entry [`Order::peek`] found.
    pub(super) fn pop(&mut self, top: Top) {
        match top {
            Top::Heap => {
                self.heap.pop();
                self.heap.shrink();
            }
            Top::Run => {
                self.run_pos += 1;
                if self.run_pos == self.run.len() {
                    self.run.clear();
                    self.run_pos = 0;
                    shrink_vec(&mut self.run);
                } else if self.run_pos >= 1024 && self.run_pos * 2 >= self.run.len() {
                    // Consumed half: move the rest down so memory follows.
                    self.run.drain(..self.run_pos);
                    self.run_pos = 0;
                    shrink_vec(&mut self.run);
                }
            }
        }
    }

    /// Replace everything with `live`.
    pub(super) fn rebuild(&mut self, mut live: Vec<Entry>) {
        live.sort_unstable_by_key(|e| (e.due, e.seq));
        self.heap = Heap::default();
        self.batch = Vec::new();
        self.run = live;
        self.run_pos = 0;
    }

    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.run.clear();
        self.run_pos = 0;
        self.batch.clear();
    }
}
