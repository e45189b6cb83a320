//! Time-ordered lists of connections, for timeouts and eviction without a
//! timer per connection.
//!
//! Why not one kernel timer per connection, re-armed on every read? That
//! is a timer-queue removal and insertion (O(log n)) per read on the hot
//! path, for deadlines that almost never fire. Why not a periodic sweep
//! over every connection? That is O(n) work per tick whether anything is
//! due or not. Instead each kind of deadline has a doubly linked list,
//! threaded through a table indexed by the connection's slot, in which a
//! connection is moved to the tail whenever its clock restarts (bytes
//! received, output moved, a new line begun). Every timeout of a kind has
//! the same length and stamps only grow, so each list stays sorted by its
//! stamp: the oldest entry is always at the head. Updating is O(1) (a few
//! link writes, no allocation), finding what is due is O(1) per expired
//! entry, and the idle-list head is the connection idle longest — the one
//! eviction wants — in O(1).

use rpoe::Time;

/// The lists. A connection is in at most one of `Idle`, `Send` and
/// `Linger` (they share a link), and possibly also in `Line`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    /// Open, nothing pending: stamped when bytes arrive or output finishes.
    Idle,
    /// Output pending: stamped when it last moved.
    Send,
    /// Write side shut, discarding input: stamped when lingering began.
    Linger,
    /// An unfinished line is buffered: stamped when it began.
    Line,
}

const KINDS: usize = 4;
const NIL: u32 = u32::MAX;

impl List {
    fn slot(self) -> usize {
        match self {
            List::Line => 1,
            _ => 0,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy)]
struct Node {
    prev: u32,
    next: u32,
    list: Option<List>,
    since: Time,
}

impl Node {
    fn free() -> Node {
        Node {
            prev: NIL,
            next: NIL,
            list: None,
            since: Time::default(),
        }
    }
}

#[derive(Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
    len: usize,
}

/// The lists, over slots `0..n` (grown on demand).
pub struct Timeline {
    nodes: Vec<[Node; 2]>,
    ends: [Ends; KINDS],
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            nodes: Vec::new(),
            ends: [Ends {
                head: NIL,
                tail: NIL,
                len: 0,
            }; KINDS],
        }
    }
}

impl Timeline {
    /// Put `slot` at the tail of `list`, stamped `now`, taking it out of
    /// whichever list shared its link. `now` must not be earlier than any
    /// stamp already in `list` (the kernel clock is monotonic), which keeps
    /// the list sorted.
    pub fn push(&mut self, slot: usize, list: List, now: Time) {
        self.remove_slot(slot, list.slot());
        let tail = self.ends[list.index()].tail;
        let node = &mut self.nodes[slot][list.slot()];
        node.prev = tail;
        node.next = NIL;
        node.list = Some(list);
        node.since = now;
        match tail {
            NIL => self.ends[list.index()].head = slot as u32,
            t => self.nodes[t as usize][list.slot()].next = slot as u32,
        }
        let ends = &mut self.ends[list.index()];
        ends.tail = slot as u32;
        ends.len += 1;
    }

    /// Take `slot` out of `list` if it is there.
    pub fn remove(&mut self, slot: usize, list: List) {
        if self.member(slot, list) {
            self.remove_slot(slot, list.slot());
        }
    }

    /// Take `slot` out of every list.
    pub fn remove_all(&mut self, slot: usize) {
        if slot < self.nodes.len() {
            self.remove_slot(slot, 0);
            self.remove_slot(slot, 1);
        }
    }

    /// Whether `slot` is in `list`.
    pub fn member(&self, slot: usize, list: List) -> bool {
        self.nodes
            .get(slot)
            .is_some_and(|n| n[list.slot()].list == Some(list))
    }

    /// The oldest entry of `list`: its slot and stamp.
    pub fn front(&self, list: List) -> Option<(usize, Time)> {
        match self.ends[list.index()].head {
            NIL => None,
            h => Some((h as usize, self.nodes[h as usize][list.slot()].since)),
        }
    }

    /// Entries in `list`.
    #[cfg(test)]
    pub fn len(&self, list: List) -> usize {
        self.ends[list.index()].len
    }

    fn remove_slot(&mut self, slot: usize, link: usize) {
        if self.nodes.len() <= slot {
            self.nodes.resize(slot + 1, [Node::free(); 2]);
        }
        let node = self.nodes[slot][link];
        let Some(list) = node.list else {
            return;
        };
        match node.prev {
            NIL => self.ends[list.index()].head = node.next,
            p => self.nodes[p as usize][link].next = node.next,
        }
        match node.next {
            NIL => self.ends[list.index()].tail = node.prev,
            n => self.nodes[n as usize][link].prev = node.prev,
        }
        self.ends[list.index()].len -= 1;
        self.nodes[slot][link] = Node::free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> Time {
        Time::from_start(Duration::from_millis(ms))
    }

    fn order(tl: &Timeline, list: List) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = tl.ends[list.index()].head;
        while at != NIL {
            out.push(at as usize);
            at = tl.nodes[at as usize][list.slot()].next;
        }
        assert_eq!(out.len(), tl.len(list));
        out
    }

    #[test]
    fn push_moves_to_the_tail_and_front_is_the_oldest() {
        let mut tl = Timeline::default();
        tl.push(3, List::Idle, t(1));
        tl.push(0, List::Idle, t(2));
        tl.push(7, List::Idle, t(3));
        assert_eq!(order(&tl, List::Idle), [3, 0, 7]);
        tl.push(3, List::Idle, t(4));
        assert_eq!(order(&tl, List::Idle), [0, 7, 3]);
        assert_eq!(tl.front(List::Idle), Some((0, t(2))));
        tl.remove(7, List::Idle);
        assert_eq!(order(&tl, List::Idle), [0, 3]);
        tl.remove(0, List::Idle);
        tl.remove(3, List::Idle);
        assert_eq!(tl.front(List::Idle), None);
        assert_eq!(tl.len(List::Idle), 0);
    }

    #[test]
    fn idle_send_and_linger_share_a_link_line_does_not() {
        let mut tl = Timeline::default();
        tl.push(1, List::Idle, t(1));
        tl.push(1, List::Line, t(1));
        tl.push(1, List::Send, t(2));
        assert!(!tl.member(1, List::Idle));
        assert!(tl.member(1, List::Send));
        assert!(tl.member(1, List::Line));
        tl.push(1, List::Linger, t(3));
        assert_eq!(order(&tl, List::Send), Vec::<usize>::new());
        assert_eq!(order(&tl, List::Linger), [1]);
        tl.remove_all(1);
        assert_eq!(tl.len(List::Line) + tl.len(List::Linger), 0);
        // Removing what is not there is harmless.
        tl.remove(1, List::Line);
        tl.remove_all(99);
    }
}
