"""RFC 822/2045 tokens the way Dovecot's lib-mail reads them.

Byte-exact ENVELOPE and BODYSTRUCTURE output depends on the exact leniency
of the tokenizer (comments, folding, broken quoting), so this follows
Dovecot 2.3's rfc822-parser behaviour rather than the ``email`` package.
Every parse method returns 1 (more data follows), 0 (end of data) or -1
(syntax error), and appends what it read to a ``bytearray``.
"""

from __future__ import annotations

NUL_REPLACEMENT = "\ufffd".encode()

# 1: atext, 2: alpha/digit/8-bit (atext and MIME token), 4: atext but MIME tspecial
_ATEXT = bytearray(256)
for _c in b"!#$%&'*+-^_`{|}~":
    _ATEXT[_c] = 1
for _c in b"/=?":
    _ATEXT[_c] = 4
for _c in range(256):
    if chr(_c).isascii() and chr(_c).isalnum() or _c >= 0x80:
        _ATEXT[_c] = 2
_ATEXT[0x7F] = 0


def is_atext(c: int) -> bool:
    return _ATEXT[c] != 0


def is_token_char(c: int) -> bool:
    return _ATEXT[c] & 3 != 0


class Tokenizer:
    """A cursor over one header value."""

    def __init__(self, data: bytes, keep_comment: bool = False, nul_replacement: bytes | None = None):
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.last_comment: bytearray | None = bytearray() if keep_comment else None
        self.nul_replacement = nul_replacement

    def peek(self) -> int:
        """The octet at the cursor, or -1 at the end (C code reads the NUL there)."""
        return self.data[self.pos] if self.pos < self.end else -1

    def skip_comment(self) -> int:
        data = self.data
        comment = self.last_comment
        if comment is not None:
            del comment[:]
        level = 1
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            c = data[self.pos]
            if c == 0:
                if comment is not None and self.nul_replacement is not None:
                    comment += data[start : self.pos] + self.nul_replacement
                    start = self.pos + 1
            elif c == 0x28:
                level += 1
            elif c == 0x29:
                level -= 1
                if level == 0:
                    if comment is not None:
                        comment += data[start : self.pos]
                    self.pos += 1
                    return 1 if self.pos < self.end else 0
            elif c == 0x0A:
                if comment is not None:
                    stop = self.pos
                    if stop > start and data[stop - 1] == 0x0D:
                        stop -= 1
                    comment += data[start:stop]
                    start = self.pos + 1
            elif c == 0x5C:
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in (0x0D, 0x0A, 0):
                    self.pos -= 1
                else:
                    if comment is not None:
                        comment += data[start : self.pos - 1]
                    start = self.pos
            self.pos += 1
        return -1

    def skip_lwsp(self) -> int:
        data = self.data
        while self.pos < self.end:
            c = data[self.pos]
            if c in (0x20, 0x09, 0x0D, 0x0A):
                self.pos += 1
                continue
            if c != 0x28:
                break
            if self.skip_comment() < 0:
                return -1
        return 1 if self.pos < self.end else 0

    def atom(self, out: bytearray) -> int:
        if self.pos >= self.end or not is_atext(self.data[self.pos]):
            return -1
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            if not is_atext(self.data[self.pos]):
                out += self.data[start : self.pos]
                return self.skip_lwsp()
            self.pos += 1
        out += self.data[start : self.pos]
        return 0

    def dot_atom(self, out: bytearray) -> int:
        data = self.data
        if self.pos >= self.end or not is_atext(data[self.pos]):
            return -1
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            if is_atext(data[self.pos]):
                self.pos += 1
                continue
            if start == self.pos:
                return -1
            out += data[start : self.pos]
            ret = self.skip_lwsp()
            if ret <= 0:
                return ret
            if data[self.pos] != 0x2E:
                return 1
            self.pos += 1
            out.append(0x2E)
            if self.skip_lwsp() <= 0:
                return -1
            start = self.pos
        out += data[start : self.pos]
        return 0

    def _run_of(self, accepts, out: bytearray) -> int:
        """Copy the octets ``accepts`` (or a dot) from here on into ``out``, then skip
        white space: 0 at the end of input, else what ``skip_lwsp`` says."""
        data = self.data
        start = self.pos
        while self.pos < self.end:
            c = data[self.pos]
            if accepts(c) or c == 0x2E:
                self.pos += 1
                continue
            out += data[start : self.pos]
            return self.skip_lwsp()
        out += data[start : self.pos]
        return 0

    def mime_token(self, out: bytearray) -> int:
        return self._run_of(is_token_char, out)

    def quoted_string(self, out: bytearray) -> int:
        data = self.data
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            c = data[self.pos]
            if c == 0:
                if self.nul_replacement is not None:
                    out += data[start : self.pos] + self.nul_replacement
                    start = self.pos + 1
            elif c == 0x22:
                out += data[start : self.pos]
                self.pos += 1
                return self.skip_lwsp()
            elif c == 0x0A:
                stop = self.pos
                if stop > start and data[stop - 1] == 0x0D:
                    stop -= 1
                out += data[start:stop]
                start = self.pos + 1
            elif c == 0x5C:
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in (0x0D, 0x0A, 0):
                    self.pos -= 1
                else:
                    out += data[start : self.pos - 1]
                    start = self.pos
            self.pos += 1
        return -1

    def _atom_or_dot(self, out: bytearray) -> int:
        return self._run_of(is_atext, out)

    def phrase(self, out: bytearray) -> int:
        if self.pos >= self.end:
            return 0
        if self.data[self.pos] == 0x2E:
            return -1
        while True:
            if self.peek() == 0x22:
                ret = self.quoted_string(out)
            else:
                ret = self._atom_or_dot(out)
            if ret <= 0:
                return ret
            c = self.peek()
            if not (c >= 0 and is_atext(c)) and c not in (0x22, 0x2E):
                break
            out.append(0x20)
        return self.skip_lwsp()

    def _domain_literal(self, out: bytearray) -> int:
        data = self.data
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            c = data[self.pos]
            if c == 0:
                if self.nul_replacement is not None:
                    out += data[start : self.pos] + self.nul_replacement
                    start = self.pos + 1
            elif c == 0x5B:
                return -1
            elif c == 0x5D:
                out += data[start : self.pos + 1]
                self.pos += 1
                return self.skip_lwsp()
            elif c == 0x0A:
                stop = self.pos
                if stop > start and data[stop - 1] == 0x0D:
                    stop -= 1
                out += data[start:stop]
                start = self.pos + 1
            elif c == 0x5C:
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                if data[self.pos] in (0x0D, 0x0A, 0):
                    out += data[start : self.pos]
                    start = self.pos
                    self.pos -= 1
            self.pos += 1
        return -1

    def domain(self, out: bytearray) -> int:
        """At '@': the domain after it."""
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return -1
        if self.data[self.pos] == 0x5B:
            return self._domain_literal(out)
        return self.dot_atom(out)

    def content_type(self, out: bytearray) -> int:
        """type/subtype into ``out``; on some errors ``out`` keeps a partial value."""
        start_len = len(out)
        if self.skip_lwsp() <= 0:
            return -1
        if self.mime_token(out) <= 0 or len(out) == start_len:
            return -1
        if self.peek() != 0x2F:
            del out[start_len:]
            return -1
        self.pos += 1
        if self.skip_lwsp() <= 0:
            del out[start_len:]
            return -1
        out.append(0x2F)
        sub_start = len(out)
        ret = self.mime_token(out)
        if ret < 0 or len(out) == sub_start or (self.pos != self.end and self.data[self.pos] != 0x3B):
            del out[start_len:]
            return -1
        return ret

    def content_param(self) -> tuple[int, bytes | None, bytes]:
        """One ``; key=value``: (status, key, value)."""
        if self.pos >= self.end:
            return 0, None, b""
        if self.data[self.pos] != 0x3B:
            return -1, None, b""
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return -1, None, b""
        key = bytearray()
        if self.mime_token(key) <= 0:
            return -1, None, b""
        if self.peek() != 0x3D:
            return -1, None, b""
        self.pos += 1
        value = bytearray()
        ret = self.skip_lwsp()
        if ret <= 0:
            pass
        elif self.data[self.pos] == 0x22:
            ret = self.quoted_string(value)
        elif self.data[self.pos] == 0x3D:
            while self.pos < self.end and self.data[self.pos] not in (0x3B, 0x20, 0x09, 0x0D, 0x0A):
                value.append(self.data[self.pos])
                self.pos += 1
        else:
            ret = self.mime_token(value)
        return (-1 if ret < 0 else 1), bytes(key), bytes(value)


def rfc2231_params(tok: Tokenizer) -> list[tuple[bytes, bytes]]:
    """The parameters after a MIME value, RFC 2231 continuations merged as Dovecot does.

    Complete ``name*0``, ``name*1``... sets become one ``name`` (``name*`` when
    any piece is extended, left percent-encoded with ``''`` prepended when the
    first piece is not extended); sets with gaps keep their ``name*n`` keys.
    Merged parameters follow the plain ones.
    """
    saved_nul = tok.nul_replacement
    tok.nul_replacement = NUL_REPLACEMENT
    result: list[tuple[bytes, bytes]] = []
    pieces: list[tuple[bytes, int, bool, bytes]] = []
    idx = 0
    while True:
        ret, key, value = tok.content_param()
        if ret == 0:
            break
        if ret < 0:
            if tok.pos >= tok.end:
                break
            tok.pos += 1
            continue
        assert key is not None
        star = key.find(b"*")
        plain = True
        if star >= 0:
            rest = key[star:]  # "*" alone: an extended value with the previous index
            if len(rest) > 1:
                idx = 0
                i = 1
                while i < len(rest) and 0x30 <= rest[i] <= 0x39:
                    idx = idx * 10 + rest[i] - 0x30
                    i += 1
                rest = rest[i:]
            extended = rest[:1] == b"*"
            if extended:
                rest = rest[1:]
            if not rest:
                pieces.append((key[:star], idx, extended, value))
                plain = False
        if plain:
            result.append((key, value))
    tok.nul_replacement = saved_nul
    if not pieces:
        return result
    pieces.sort(key=lambda p: (p[0], p[1]))
    i = 0
    while i < len(pieces):
        name = pieces[i][0].lower()
        j = i
        ok = True
        have_extended = False
        while j < len(pieces) and pieces[j][0].lower() == name:
            if pieces[j][1] != j - i:
                ok = False
            have_extended = have_extended or pieces[j][2]
            j += 1
        group = pieces[i:j]
        if not ok:
            for key, number, extended, value in group:
                result.append((key + b"*%d" % number + (b"*" if extended else b""), value))
        else:
            merged = bytearray()
            if not group[0][2] and have_extended:
                merged += b"''"
            for _key, _number, extended, value in group:
                merged += value.replace(b"%", b"%25") if (not extended and have_extended) else value
            result.append((group[0][0] + (b"*" if have_extended else b""), bytes(merged)))
        i = j
    return result
