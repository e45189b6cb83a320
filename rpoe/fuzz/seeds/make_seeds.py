#!/usr/bin/env python3
"""Write the hand-made seed inputs into rpoe/fuzz/corpus/<target>/seed-*.

Each seed follows its target's input layout (see rpoe/fuzz/src): for the
get_* targets, byte 0 picks options, the next 8 bytes are chunk lengths,
the rest is the stream; for read_write, 3 bytes of limits then actions.
Run it again after changing a layout; the fuzzer finds the rest.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")


def split(control, lengths, stream):
    lengths = (list(lengths) + [0] * 8)[:8]
    return bytes([control]) + bytes(lengths) + stream


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def frame(payload):
    return str(len(payload)).encode() + b"\0" + payload


def be32(payload):
    return len(payload).to_bytes(4, "big") + payload


http = b"GET / HTTP/1.0\r\nHost: a\r\n\r\nbody\rmore\n\rend"
# get_line: control % 6 picks the input mode, bit 7 keeps terminators.
for mode, name in enumerate(["newline", "lf", "crlf", "literal", "anyof", "autodetect"]):
    stream = {3: b"one a|atwo a|a thr", 4: b"a;b,c\0d;;e"}.get(mode, http)
    write("get_line", name, split(mode, [3, 1, 7, 2], stream))
    write("get_line", name + "-keep", split(0x80 | mode, [1], stream))
write("get_line", "long", split(0, [200, 200], b"x" * 300 + b"\n"))

write("get_stream", "chunks", split(0, [1, 5, 0, 9], b"any bytes at all\x00\xff"))

# get_block: control % 3: fixed(control / 3), decimal prefix, be32.
write("get_block", "fixed4", split(3 * 4, [3, 5], b"abcdefghijklmno"))
write("get_block", "decimal", split(1, [2, 3], frame(b"hello") + frame(b"") + frame(b"x" * 20)))
write("get_block", "decimal-bad", split(1, [4], b"12x\0abc"))
write("get_block", "be32", split(2, [1, 6], be32(b"hello") + be32(b"") + be32(b"world")))

lines = b"a\nbb\nccc\n\ndddd\neeeee\nf"
write("get_record_block", "lines", split(2, [4, 3], lines))
write("get_map", "utf8", split(0, [5], "héllo\r\nwörld\n".encode() + b"\xff\xfe\n"))
write("get_grep", "lines", split(ord("b"), [2, 9], b"apple\nbanana\n\ncherry\nbb\n"))

# get_stackable: control & 1: decimal frames or be32 frames, of lines.
write("get_stackable", "decimal", split(0, [3, 4], frame(b"one\r\ntw") + frame(b"o\nthree\n")))
write("get_stackable", "be32", split(1, [5], be32(b"one\ntwo\n") + be32(b"three\r\n")))

# get_reference: control & 1: postcard or JSON, control & 2: small
# depth and memory limits; values of the target's nesting enum
# Leaf(String, Vec<u64>, Option<bool>, Vec<Vec<u8>>) | Units(Vec<()>) |
# Node(Vec<Value>) | Map(BTreeMap<String, Value>).
leaf = bytes([0, 2]) + b"hi" + bytes([2, 1, 2, 1, 1, 1, 2, 1, 2])
units = bytes([1, 3])
node = bytes([2, 2]) + leaf + bytes([2, 1]) + units
for control, name in [(0, "postcard"), (2, "postcard-limits")]:
    write("get_reference", name, split(control, [2, 7], frame(leaf) + frame(units) + frame(node)))
value = json.dumps({"Node": [{"Leaf": ["hi", [1, 2, 18446744073709551615], True, [[1, 2], []]]},
                             {"Map": {"k": {"Units": [None, None]}}}]}).encode()
for control, name in [(1, "json"), (3, "json-limits")]:
    write("get_reference", name, split(control, [3, 9], frame(value) + frame(b'{"Units":[]}')))

# read_write: limits (max_length, max_buffer, max_input), then actions:
# op & 7: 0-1 write (op >> 3) + 1 bytes, 2 pause (op >> 3 even) or
# resume (odd), 3 run, 4 read, 5 half-close, 6 close, 7 write
# ((op >> 3) + 1) * 16 bytes.
RUN, READ, HALF, CLOSE, PAUSE, RESUME = 3, 4, 5, 6, 2, 2 | 8


def w(data):
    assert 1 <= len(data) <= 32
    return bytes([(len(data) - 1) << 3]) + data


def limits(max_length, max_buffer, max_input):
    return bytes([max_length - 1, max_buffer - 8, max_input])


write("read_write", "echo", limits(40, 200, 60) + w(b"hello\nwor") + bytes([RUN]) + w(b"ld\n")
      + bytes([RUN, READ]) + w(b"\n\nlast") + bytes([HALF, RUN, READ]))
write("read_write", "too-long", limits(8, 100, 60) + w(b"short\n") + w(b"much too long\n")
      + bytes([RUN, READ]))
write("read_write", "max-input", limits(64, 200, 10) + w(b"ok\n") + bytes([RUN]) + w(b"0123456789ab")
      + bytes([RUN, READ]))
write("read_write", "buffer-full", limits(64, 16, 79) + w(b"abc\n" * 5) + bytes([RUN]))
write("read_write", "reset", limits(40, 200, 60) + w(b"a\nb\nc\n") + bytes([RUN, CLOSE, RUN]))
write("read_write", "pause", limits(40, 200, 60) + w(b"one\n") + bytes([PAUSE]) + w(b"two\nth")
      + bytes([RUN]) + w(b"ree\n") + bytes([RUN, RESUME, READ, HALF, RUN, READ]))
write("read_write", "big-write", limits(64, 255, 79) + bytes([7 | (3 << 3)]) + (b"line\n" * 13)[:64]
      + bytes([RUN, READ, RUN]))
