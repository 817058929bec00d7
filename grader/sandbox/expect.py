"""What the sandbox server accepts from a child: only the messages its job asked for.

The child's channel is written by the harness, but student code shares the harness's
process and can write to it too. So every message is checked against the job before it
is kept: its kind, its place in the sequence (one ``hello``; cells in the notebook's
order; ``probe_start`` for the next requested probe only; one ``probe_end`` per started
probe, with at most one value of at most ``reply_mb``; ``snapshot`` only when the job
requested snapshots, at most ``max_count`` of them and ``max_mb`` in all), and its size
*before* it is read: :meth:`Expect.max_message_bytes` is the largest message that could be
legitimate right now, and the stream reader refuses a longer length prefix without
buffering it. Anything else ends the run with :data:`UNASKED` as the verdict, so the
server's (and the grader's) memory is bounded by what the job asked for, never by what a
student sends.
"""

from __future__ import annotations

from typing import Any

UNASKED = "the notebook's process sent messages the grader did not ask for"
CONTROL_BYTES = 8 << 20  # a message without a value: cell output is capped far below this
MESSAGE_SLACK = 1 << 20  # headers and .npy preambles around a value


class Unasked(ValueError):
    """A message the job did not ask for (the text says which and why)."""


class Expect:
    """The sequence check for one child (a restarted child gets a fresh one)."""

    def __init__(self, job: dict, resume: int):
        self.probe_ids = [str(p.get("id")) for p in job.get("probes", [])]
        self.resume = resume
        self.reply_bytes = int(float(job.get("limits", {}).get("reply_mb", 128)) * (1 << 20))
        snap = job.get("snapshot") if job.get("mode") == "full" and resume < 0 else None
        self.snap_left = int(snap.get("max_count", 0)) if isinstance(snap, dict) else 0
        self.snap_bytes = int(float(snap.get("max_mb", 0)) * (1 << 20)) + self.snap_left * 65536 if snap else 0
        self.seen: set[str] = set()
        self.plan: set[int] | None = None
        self.cells_started: set[int] = set()
        self.cells_ended: set[int] = set()
        self.cell: int | None = None
        self.next_probe = max(0, resume)
        self.probe: str | None = None

    def max_message_bytes(self) -> int:
        """The longest message that could be legitimate now."""
        most = CONTROL_BYTES
        if self.probe is not None:
            most = max(most, CONTROL_BYTES + self.reply_bytes + MESSAGE_SLACK)
        if self.snap_left > 0 and self.snap_bytes > 0:
            most = max(most, CONTROL_BYTES + self.snap_bytes + MESSAGE_SLACK)
        return most

    def check(self, header: Any, blobs: list) -> str:
        """The message's kind when the job asked for it; raises Unasked otherwise."""
        if not isinstance(header, dict) or not isinstance(header.get("t"), str):
            raise Unasked("a message without a kind")
        kind = header["t"]
        value_bytes = sum(len(b) for b in blobs)
        if kind != "probe_end" and kind != "snapshot" and blobs:
            raise Unasked(f"a {kind!r} message with a value attached")
        if len(blobs) > 1:
            raise Unasked(f"a {kind!r} message with {len(blobs)} values")
        once = ("hello", "cells_done", "done", "fatal")
        if kind in once:
            if kind in self.seen:
                raise Unasked(f"a second {kind!r} message")
            if kind != "hello" and kind != "fatal" and "hello" not in self.seen:
                raise Unasked(f"{kind!r} before 'hello'")
            if kind == "done" and "cells_done" not in self.seen:
                raise Unasked("'done' before 'cells_done'")
            self.seen.add(kind)
            if kind == "hello":
                cells = header.get("cells")
                self.plan = {p[0] for p in cells if isinstance(p, list) and p and type(p[0]) is int} \
                    if isinstance(cells, list) else set()
            if kind == "done" and self.probe is not None:
                raise Unasked(f"'done' while probe {self.probe} was running")
            return kind
        if kind in ("cell_start", "cell_end"):
            if "hello" not in self.seen or "cells_done" in self.seen:
                raise Unasked(f"{kind!r} outside the cells")
            if kind == "cell_start":
                idx = header.get("index")
            else:
                cell = header.get("cell")
                idx = cell.get("index") if isinstance(cell, dict) else None
            if type(idx) is not int or self.plan is None or idx not in self.plan:
                raise Unasked(f"{kind!r} for a cell the notebook does not have")
            if kind == "cell_start":
                if idx in self.cells_started or idx in self.cells_ended or self.cell is not None:
                    raise Unasked(f"a second start of cell {idx}")
                self.cells_started.add(idx)
                self.cell = idx
            else:
                if idx in self.cells_ended or (self.cell is not None and self.cell != idx):
                    raise Unasked(f"an end of cell {idx} out of order")
                self.cells_ended.add(idx)
                self.cell = None
            return kind
        if kind == "probe_start":
            if "cells_done" not in self.seen or self.probe is not None:
                raise Unasked("a probe start before the cells ended or inside another probe")
            if self.next_probe >= len(self.probe_ids) or header.get("id") != self.probe_ids[self.next_probe]:
                raise Unasked(f"a start of probe {str(header.get('id'))[:80]!r}, which is not the next one asked for")
            self.probe = self.probe_ids[self.next_probe]
            self.next_probe += 1
            return kind
        if kind == "probe_end":
            reply = header.get("reply")
            if self.probe is None or not isinstance(reply, dict) or reply.get("id") != self.probe:
                raise Unasked("a probe reply for no running probe")
            if value_bytes > self.reply_bytes:
                raise Unasked(f"a reply of {value_bytes >> 20} MiB (the cap is {self.reply_bytes >> 20} MiB)")
            self.probe = None
            return kind
        if kind == "snapshot":
            if self.snap_left <= 0 or not blobs:
                raise Unasked("a weight snapshot that was not requested (or one more than requested)")
            if value_bytes > self.snap_bytes:
                raise Unasked(f"snapshots over the requested {self.snap_bytes >> 20} MiB")
            self.snap_left -= 1
            self.snap_bytes -= value_bytes
            return kind
        raise Unasked(f"a message of unknown kind {kind[:40]!r}")
