#!/usr/bin/env python3
"""Writes the snapshot_assembler fuzzer's seeds (fuzz/seeds/snapshot_assembler/).

The fuzzer's input is a stream of records: a 2-byte little-endian length N
and N bytes of a serialized ccbatch.v1.SnapshotChunk; N == 0 ends the stream.
protobuf's Python package is not installed, so the few messages needed are
encoded here by hand (proto/ccbatch/v1/agent.proto, job.proto field numbers).
"""
import os
import struct
import sys


def varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def entry(job_id, state="RUNNING", reason="None", name="job", comment="",
          nodes="c1"):
    fields = [(1, job_id), (2, state), (3, reason), (4, name), (5, comment),
              (6, nodes)]
    return b"".join(field_bytes(n, v) for n, v in fields if v)


def chunk(seq, index, entries, total, last=False, seconds=1767225600,
          nanos=0, taken_at=True, diagnostics=None):
    out = field_varint(1, seq)
    if taken_at:
        out += field_bytes(2, field_varint(1, seconds) + field_varint(2, nanos))
    out += field_varint(3, index)
    if last:
        out += field_varint(4, 1)
    for e in entries:
        out += field_bytes(5, e)
    out += field_varint(6, total)
    if diagnostics is not None:
        out += field_bytes(7, diagnostics)
    return out


def stream(*records):
    out = b""
    for record in records:
        out += struct.pack("<H", len(record)) + record
    return out


END = b""  # a zero-length record: the stream ends


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    jobs = [entry("4812"), entry("4813_7", "PENDING", "Priority", "opt | b"),
            entry("4814+1", "COMPLETING", "", "", "ccb:o-17", "")]
    diagnostics = field_varint(1, 2) + field_bytes(2, 'line 3: too few fields: "x"') \
        + field_varint(3, 1) + field_varint(4, 37)
    seeds = {
        "one_chunk": stream(chunk(1, 0, jobs, 3, last=True,
                                  diagnostics=diagnostics)),
        "three_chunks_then_next": stream(
            chunk(7, 0, jobs[:1], 3), chunk(7, 1, jobs[1:2], 3),
            chunk(7, 2, jobs[2:], 3, last=True),
            chunk(8, 0, jobs, 3, last=True)),
        "empty_queue": stream(chunk(2, 0, [], 0, last=True)),
        "superseded_and_reset": stream(
            chunk(5, 0, jobs[:2], 3), chunk(6, 0, jobs[:1], 1),
            END, chunk(6, 1, jobs[:1], 1, last=True),
            chunk(9, 0, jobs[:1], 1, last=True)),
        "protocol_errors": stream(
            chunk(0, 0, jobs, 3, last=True),
            chunk(3, 0, jobs, 3, last=True, taken_at=False),
            chunk(3, 1, jobs, 3, last=True),
            chunk(4, 0, jobs[:1], 3), chunk(4, 1, jobs[:1], 4),
            chunk(10, 0, jobs[:1], 2), chunk(10, 1, jobs[:1], 2, nanos=5),
            chunk(11, 0, jobs, 2, last=True),
            chunk(12, 0, jobs[:1], 2, last=True),
            chunk(13, 0, [], 0, last=True, seconds=-62135596801)),
        "limits": stream(
            chunk(20, 0, jobs, 3000000),
            chunk(21, 0, jobs * 14, 42, last=True),
            *[chunk(22, i, jobs[:1], 8, last=(i == 7)) for i in range(8)]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out_dir, f"hand_{name}"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
