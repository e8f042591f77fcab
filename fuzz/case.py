"""The saved-case format of ``fuzz/corpus/``: a plain IMAP transcript that also names its model.

A case is text a person can read and pipe to the server by hand::

    # comment lines (what failed, how to replay)
    #! format 2
    #! target session                                 # which fuzz target found it
    #! model fuzz.session_target:SessionMachine       # the state machine that checked it
    #! transport session                              # in-process session, or binary
    #! backend maildir                                # maildir or mbox (none: maildir)
    #! clock 1767225600.0                             # the fixed clock's start, or real
    #! open A
    #! step {"rule":"select","args":{...},"draws":[...]}   # one rule call, values drawn
    #! send A 24
    a3 SELECT INBOX ...raw client bytes...
    #! deliver INBOX 318
    ...message bytes...

A parser case says ``#! check broken`` or ``#! check roundtrip`` instead of a
model. Format 1 (no ``format``/``target``/``model`` directives) is still read:
its target comes from the first comment line ("# target parser ...").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import attrs

from fuzz.steps import dump_step, load_step

CORPUS = Path(__file__).resolve().parent / "corpus"
MARK = b"#! "
FORMAT = "2"
META = ("format", "target", "model", "transport", "backend", "clock", "check")


@attrs.define
class Case:
    """A saved case: its directives (``meta``) and its ordered steps."""

    meta: dict[str, str]
    steps: list[tuple]

    @property
    def rule_steps(self) -> list[dict]:
        return [data for kind, _who, data in self.steps if kind == "step"]


def render(transcript: list[tuple], header: list[str], meta: dict[str, str] | None = None) -> bytes:
    """``#`` comment lines, ``#!`` directives, then the steps with raw client bytes between."""
    out = bytearray()
    for line in header:
        out += b"# " + line.replace("\n", "\n# ").encode("utf-8", "replace") + b"\n"
    if meta:
        for key, value in {"format": FORMAT, **meta}.items():
            out += MARK + f"{key} {value}".encode() + b"\n"
    for kind, who, data in transcript:
        if kind == "open":
            out += MARK + b"open " + who.encode() + b"\n"
        elif kind == "step":
            out += MARK + b"step " + dump_step(data) + b"\n"
        elif kind == "deliver":
            out += MARK + b"deliver %s %d\n" % (who.encode(), len(data)) + data + b"\n"
        else:
            out += MARK + b"send %s %d\n" % (who.encode(), len(data)) + data
            if not data.endswith(b"\n"):
                out += b"\n"
    return bytes(out)


def write_case(transcript: list[tuple], header: list[str], directory: Path = CORPUS,
               meta: dict[str, str] | None = None) -> Path:
    out = render(transcript, header, meta)
    digest = hashlib.sha1(out).hexdigest()[:10]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{header[0].split()[1] if header else 'case'}-{digest}.imap"
    path.write_bytes(out)
    return path


def read_case(data: bytes) -> Case:
    meta: dict[str, str] = {}
    steps: list[tuple] = []
    first_comment = None
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end]
        pos = end + 1
        if not line.startswith(MARK):
            if first_comment is None and line.startswith(b"# "):
                first_comment = line[2:].decode("utf-8", "replace")
            continue
        word, _, rest = line[len(MARK):].partition(b" ")
        kind = word.decode()
        if kind in META:
            meta[kind] = rest.decode().strip()
        elif kind == "open":
            steps.append(("open", rest.decode().strip(), b""))
        elif kind == "step":
            steps.append(("step", "", load_step(rest)))
        else:
            who, size = rest.decode().split()
            chunk = data[pos:pos + int(size)]
            pos += int(size)
            if kind == "deliver" or not chunk.endswith(b"\n"):
                pos += 1  # the separating newline
            steps.append((kind, who, chunk))
    if "target" not in meta and first_comment and first_comment.startswith("target "):
        meta["target"] = first_comment.split()[1]  # format 1
    meta.setdefault("format", "1")
    return Case(meta, steps)
