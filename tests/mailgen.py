"""The test mail corpus: hand-written awkward messages, and big ones made at test time.

``python -m tests.mailgen`` rewrites ``tests/mail/*.eml`` from ``CORPUS``;
tests read the files (``load_corpus``), so the committed bytes are the truth.
"""

from __future__ import annotations

import base64
from pathlib import Path

MAIL_DIR = Path(__file__).with_name("mail")


def _lf(text: str) -> bytes:
    return text.encode("utf-8")


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


_B64_BLOB = base64.encodebytes(bytes(range(256)) * 3).decode()
_QP_TEXT = "Caf=C3=A9 cr=C3=A8me, soft=\nbreak and =3D sign.\nTrailing space=20\n"

CORPUS: dict[str, bytes] = {}


def _add(name: str, data: bytes) -> None:
    CORPUS[name] = data


_add("plain", _lf(
    "From: Alice Example <alice@example.org>\nTo: bob@example.com\n"
    "Subject: Plain message\nDate: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "Message-ID: <plain-1@example.org>\n\nHello Bob.\nSecond line.\n"))
_add("crlf", _crlf(
    "From: alice@example.org\nTo: bob@example.com\nSubject: CRLF\n"
    "Date: Tue, 1 Jan 2019 00:00:00 +0000\n\nLine one\nLine two\n"))
_add("no-content-type-mime", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nSubject: no type\n\nbody\n"))
_add("no-mime-version-cte", _lf(
    "From: a@example.org\nSubject: cte without mime\nContent-Transfer-Encoding: base64\n"
    "Content-ID: <x@y>\n\naGVsbG8K\n"))
_add("bad-charset", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: text/plain; charset=x-nonexistent\n"
    "Subject: bad charset\n\nhello \xe9 there\n".replace("\xe9", "é")))
_add("charset-latin1-8bit", b"From: a@example.org\nMIME-Version: 1.0\n"
     b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n"
     b"Subject: latin1\n\ncaf\xe9 na\xefve\n")
_add("lf-only-multiline", _lf(
    "From: a@example.org\nSubject: lf\n\n" + "".join(f"line {i}\n" for i in range(40))))
_add("mixed-endings", b"From: a@example.org\r\nSubject: mixed\n\r\none\r\ntwo\nthree\r\n\nfive\n")
_add("bare-cr", b"From: a@example.org\r\nSubject: bare\rcr\r\n\r\nbody\rwith\rcr\r\nend\r")
_add("no-final-newline", _lf("From: a@example.org\nSubject: no final newline\n\nlast line"))
_add("header-only-no-body", _lf("From: a@example.org\nSubject: header only\n"))
_add("header-only-no-newline", _lf("From: a@example.org\nSubject: header only no newline"))
_add("empty-body", _lf("From: a@example.org\nSubject: empty body\n\n"))
_add("nul-in-body", b"From: a@example.org\nSubject: nul\n\nbefore\x00after\nline2\x00\n")
_add("nul-in-header", b"From: a@example.org\nSubject: nul\x00subject\nX-Null: a\x00b\n\nbody\n")
_add("8bit-headers", "From: Jörg Müller <joerg@example.de>\nTo: Zoë <zoe@example.org>\n"
     "Subject: Grüße aus Köln\nDate: Wed, 2 Mar 2022 10:00:00 +0100\n\nHallo\n".encode())
_add("rfc2047", _lf(
    "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\n"
    "To: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>\n"
    "CC: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
    "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
    " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"
    "X-Enc: =?utf-8?q?caf=C3=A9?= and =?bogus-cs?q?x=41?=\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n\n" + "caf=E9 au lait\n"))
_add("rfc2231", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nSubject: rfc2231\n"
    "Content-Type: multipart/mixed; boundary=\"xx\"\n\n"
    "--xx\nContent-Type: application/x-stuff;\n"
    " title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
    " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n title*2=\"isn't it!\"\n"
    "Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve%20file.txt\n\nstuff\n"
    "--xx\nContent-Type: text/plain; name*0=\"part one \"; name*1=\"part two\"\n\ntext\n"
    "--xx\nContent-Type: text/plain; name*1=\"gap\"; name*3=\"gap2\"; charset=utf-8\n\nx\n"
    "--xx--\n"))
_add("empty-multipart-parts", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
    "--b\n\n--b\nContent-Type: text/html\n\n--b\n--b--\n"))
_add("alternative", _lf(
    "From: a@example.org\nTo: b@example.org\nSubject: alternative\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"=_alt\"\n\n"
    "This is a MIME message.\n\n--=_alt\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n\n" + _QP_TEXT +
    "\n--=_alt\nContent-Type: text/html; charset=utf-8\n\n<p>Caf&eacute;</p>\n"
    "--=_alt--\n"))
_add("mixed-attachments", _lf(
    "From: \"Sender, The\" <sender@example.org>\nTo: x@example.org\nSubject: attachments\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n"
    "--outer\nContent-Type: text/plain\n\nSee attached.\n"
    "--outer\nContent-Type: application/octet-stream; name=blob.bin\n"
    "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=blob.bin; size=768\n"
    "Content-ID: <blob@example.org>\nContent-Description: A binary blob\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Language: en, de-CH\n"
    "Content-Location: http://example.org/blob.bin\n\n" + _B64_BLOB +
    "--outer\nContent-Type: image/png\nContent-Transfer-Encoding: BASE64\n"
    "Content-Disposition: inline\n\niVBORw0KGgo=\n--outer--\n"))
_add("missing-final-boundary", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n"
    "--zz\nContent-Type: text/plain\n\nfirst\n--zz\nContent-Type: text/plain\n\nsecond, no end\n"))
_add("preamble-epilogue", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=pe\n\n"
    "preamble line 1\npreamble line 2\n--pe\n\npart one\n--pe--\nepilogue 1\nepilogue 2\n"))
_add("boundary-lookalikes", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=abc\n\n"
    "--abc\nContent-Type: text/plain\n\n--ab not it\n---abc neither\n  --abc indented\n--abcdef prefix match\n"
    "--abc\nContent-Type: text/plain\n\nlast\n--abc-- trailing text\nepi\n"))
_add("boundary-prefix-nested", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
    "--b\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\ninner one\n--b2\n\ninner two\n"
    "--b\n\nouter two, inner never closed\n--b--\n"))
_add("same-boundary-nested", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=s\n\n"
    "--s\nContent-Type: multipart/mixed; boundary=s\n\n--s\n\ninner\n--s--\n\n--s\n\nouter\n--s--\n"))
_add("multipart-no-boundary", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n\nno boundary here\n"))
_add("multipart-no-parts", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n"
    "just text, the boundary never appears\n"))
_add("multipart-digest", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary=d\n\n"
    "--d\n\nFrom: one@example.org\nSubject: digest one\n\nbody one\n"
    "--d\nContent-Type: text/plain\n\nnot a message\n--d--\n"))
_add("message-rfc822", _lf(
    "From: a@example.org\nSubject: forward\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n"
    "From: inner@example.org\nTo: z@example.org\nSubject: inner subject\n"
    "Date: Thu, 3 Mar 2022 12:00:00 +0000\n\ninner body\nline 2\n"))
_add("rfc822-in-multipart", _lf(
    "From: a@example.org\nSubject: fwd in mixed\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=m\n\n--m\n\nsee below\n"
    "--m\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
    "From: inner@example.org\nSubject: inner\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=i\n\n--i\n\nplain\n--i\n"
    "Content-Type: text/html\n\n<b>html</b>\n--i--\n\n--m--\n"))
_add("rfc822-two-levels", _lf(
    "From: a@example.org\nSubject: level 0\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=L0\n\n--L0\nContent-Type: message/rfc822\n\n"
    "From: b@example.org\nSubject: level 1\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n"
    "From: c@example.org\nSubject: level 2\nTo: undisclosed-recipients:;\n\ndeepest body\n"
    "--L0--\n"))
_add("rfc822-no-mime-version", _lf(
    "From: a@example.org\nContent-Type: message/rfc822\n\n"
    "Subject: inner without mime-version\nContent-Type: text/html\nContent-ID: <nm@x>\n\n<p>x</p>\n"))
_add("rfc822-empty", _lf(
    "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=e\n\n"
    "--e\nContent-Type: message/rfc822\n\n--e--\n"))
_add("no-date", _lf("From: a@example.org\nSubject: no date\n\nx\n"))
_add("bad-date", _lf("From: a@example.org\nDate: yesterday at noon\nSubject: bad date\n\nx\n"))
_add("group-to", _lf(
    "From: a@example.org\nTo: A Group: one@example.org, Two <two@example.org>;, after@example.org\n"
    "Cc: Empty Group:;\nBcc: undisclosed-recipients: ;\nSubject: groups\n\nx\n"))
_add("weird-addresses", _lf(
    "From: justlocal\nSender: @nolocal.example\nReply-To: <>, \"quoted \\\"name\\\"\" <q@x>\n"
    "To: user@ (comment only), (Comment Name) c@example.org, d@[192.168.0.1],\n"
    " \"odd local\"@example.org, <@route1,@route2:r@example.org>, broken <no-close@x\n"
    "Cc: a.@example.org, name only <>, Many  Spaces   Here <s@x>, e@example.org (Real Name)\n"
    "Bcc: ,,, trailing@example.org,\nSubject: weird\n\nx\n"))
_add("long-folded", _lf(
    "From: a@example.org\nSubject: This is a very long subject line that has been folded\n"
    "\tacross several lines with tabs\n   and spaces for continuation\n"
    "To: one@example.org,\n two@example.org,\n\tthree@example.org\n"
    "Message-ID:\n <folded@example.org>\nIn-Reply-To: <a@b>\n <c@d>\n"
    "X-Long: " + "word " * 200 + "\n\nbody\n"))
_add("duplicate-headers", _lf(
    "From: first@example.org\nFrom: second@example.org\nSubject: first subject\n"
    "Subject: second subject\nDate: Mon, 1 Jan 2001 00:00:00 +0000\nDate: Tue, 2 Jan 2001 00:00:00 +0000\n"
    "To: t1@example.org\nTo: t2@example.org\nMessage-ID: <m1@x>\nMessage-ID: <m2@x>\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Type: text/html\n"
    "Content-Transfer-Encoding: 8bit\nContent-Transfer-Encoding: base64\n\nbody\n"))
_add("subject-specials", _lf(
    "From: \"Back\\\\slash\" <bs@x>\nSubject: She said \"hi\" and \\ left\n"
    "Message-ID: <\"quoted\"@x>\nIn-Reply-To: \"q\" \"q\" \"q\"\n\nx\n"))
_add("subject-whitespace", _lf(
    "From: a@x\nSubject:   leading and  double  spaces\ttab   \n\nx\n"))
_add("subject-empty", _lf("From: a@x\nSubject:\nTo:\nCc: \n\nx\n"))
_add("header-no-colon", _lf(
    "From: a@x\nThis line has no colon\nSubject: after junk\n\nbody\n"))
_add("header-space-before-colon", _lf(
    "From : a@x\nSubject    : spaced name\nContent-Type : text/html\nMIME-Version: 1.0\n\nbody\n"))
_add("continuation-first-line", _lf(" leading continuation\nFrom: a@x\nSubject: s\n\nbody\n"))
_add("ct-bare-text", _lf("From: a@x\nMIME-Version: 1.0\nContent-Type: text\n\nbody\n"))
_add("ct-garbage", _lf("From: a@x\nMIME-Version: 1.0\nContent-Type: garbage\n\nbody\n"))
_add("ct-empty", _lf("From: a@x\nMIME-Version: 1.0\nContent-Type: \n\nbody\n"))
_add("ct-semicolon", _lf("From: a@x\nMIME-Version: 1.0\nContent-Type: ;charset=utf-8\n\nbody\n"))
_add("ct-params-odd", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: Text/PLAIN ; CHARSET=\"UTF-8\" ; format=flowed;"
    " delsp=yes; name==?utf-8?b?w6k=?= ; broken; x=\"a\\\"b\" (comment)\n\nbody\n"))
_add("ct-trailing-junk", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: text/plain junk; charset=utf-8\n\nbody\n"))
_add("ct-application-no-charset", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
    "JVBERi0xLjQK\n"))
_add("cte-unknown", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\n"
    "begin 644 f\n`\nend\n"))
_add("cte-qp-binary", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=c\n\n"
    "--c\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: Quoted-Printable\n\n"
    + _QP_TEXT + "--c\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    + _B64_BLOB + "--c\nContent-Type: text/plain\nContent-Transfer-Encoding: binary\n\nraw\n--c--\n"))
_add("disposition-variants", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=dv\n\n"
    "--dv\nContent-Disposition: INLINE\n\none\n--dv\nContent-Disposition: attachment\n"
    "Content-Disposition: inline; filename=second.txt\n\ntwo\n--dv\nContent-Disposition: ;x=y\n\nthree\n"
    "--dv\nContent-Language: fr\nContent-Location: rel/path\n one\n\nfour\n--dv--\n"))
_add("deep-nesting-20", _lf(
    "From: a@x\nMIME-Version: 1.0\n" +
    "".join(f"Content-Type: multipart/mixed; boundary=n{i}\n\n--n{i}\n" for i in range(20)) +
    "Content-Type: text/plain\n\ndeep\n" + "".join(f"--n{i}--\n" for i in reversed(range(20)))))
_add("deep-nesting-120", _lf(
    "From: a@x\nMIME-Version: 1.0\n" +
    "".join(f"Content-Type: multipart/mixed; boundary=n{i}\n\n--n{i}\n" for i in range(120)) +
    "Content-Type: text/plain\n\ndeep\n" + "".join(f"--n{i}--\n" for i in reversed(range(120)))))
_add("deep-rfc822-110", _lf(
    "From: a@x\nMIME-Version: 1.0\n" + "Content-Type: message/rfc822\n\nSubject: level\n" * 110
    + "\ninnermost\n"))
_add("many-parts-300", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=mp\n\n"
    + "".join(f"--mp\nContent-Type: text/plain; name=p{i}\n\npart {i}\n" for i in range(300))
    + "--mp--\n"))
_add("mime-header-ends-at-boundary", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=hb\n\n"
    "--hb\nContent-Type: text/plain\n--hb\nContent-Type: text/html\n\nbody\n--hb--\n"))
_add("boundary-with-crlf-parts", _crlf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=\"r r\"; type=\"text/html\"\n\n"
    "--r r\nContent-Type: text/html\nContent-ID: <h>\n\n<img src=cid:i>\n--r r\n"
    "Content-Type: image/gif\nContent-Transfer-Encoding: base64\nContent-ID: <i>\n\n"
    "R0lGODlhAQABAAAAACw=\n--r r--\n"))
_add("boundary-long", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=" + "L" * 90 + "\n\n--"
    + "L" * 90 + "\n\nlong boundary part\n--" + "L" * 90 + "--\n"))
_add("multipart-signed", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256;\n"
    " protocol=\"application/pgp-signature\"; boundary=\"sig\"\n\n--sig\n"
    "Content-Type: text/plain; charset=us-ascii\n\nsigned text\n\n--sig\n"
    "Content-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
    "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n\n--sig--\n"))
_add("text-not-plain-charset", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: text/html; format=flowed\n\n<p>x</p>\n"))
_add("utf8-body-base64", _lf(
    "From: a@x\nMIME-Version: 1.0\nSubject: =?UTF-8?B?8J+Ygw==?= smile\n"
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    + base64.encodebytes("Grüße, 世界 😀\n".encode()).decode()))
_add("address-comments", _lf(
    "From: (lead) Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
    "To:A Group(Some people)\n     :Chris Jones <c@(Chris's host.)public.example>,\n"
    "         joe@example.org,\n  John <jdoe@one.test> (my dear friend); (the end of the group)\n"
    "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\nSubject: rfc5322 A.5\n\nx\n"))
_add("address-8bit-name", "From: \"Ünïcödé Näme\" <u@example.org>\nTo: Plain <p@x>\n\nx\n".encode())
_add("address-encoded-name", _lf(
    "From: =?utf-8?q?J=C3=B6rg?= <j@x>\nTo: \"=?utf-8?b?w6k=?=\" <e@x>\n\nx\n"))
_add("mime-version-in-part-only", _lf(
    "From: a@x\nContent-Type: multipart/mixed; boundary=mv\n\n--mv\nContent-Type: text/html\n\n<p>\n--mv--\n"))
_add("header-long-line", _lf(
    "From: a@x\nX-Huge: " + "y" * 20000 + "\nSubject: after huge\n\nbody\n"))
_add("body-starts-with-boundary", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=f\n"
    "\n--f\nContent-Type: text/plain\n\n--f\n\nsecond\n--f--"))
_add("epilogue-outer-boundary", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n"
    "--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\na\n--i--\ninner epilogue\n"
    "--o\n\nb\n--o--\nouter epilogue"))
_add("message-global-and-partial", _lf(
    "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=g\n\n"
    "--g\nContent-Type: message/global\n\nSubject: not parsed as message\n\nx\n"
    "--g\nContent-Type: message/partial; id=\"abc\"; number=1; total=2\n\nSubject: p\n\ny\n--g--\n"))
_add("in-reply-to-multiple", _lf(
    "From: a@x\nIn-Reply-To: <one@x> (comment)\nReferences: <r1@x> <r2@x>\nMessage-ID: not-angle\n\nx\n"))
_add("tab-headers", b"From:\ta@x\nSubject:\tTabbed\tsubject\nTo:\t\tb@x\n\nbody\n")
_add("crlf-multipart-mixed-endings", b"From: a@x\r\nMIME-Version: 1.0\nContent-Type: multipart/mixed;"
     b" boundary=me\r\n\r\n--me\r\nContent-Type: text/plain\n\nlf part\n--me\r\n\r\ncrlf part\r\n--me--\r\n")


def write_corpus(directory: Path = MAIL_DIR) -> None:
    """Rewrite the corpus files (numbered, so the order is stable)."""
    directory.mkdir(exist_ok=True)
    for old in directory.glob("*.eml"):
        old.unlink()
    for number, (name, data) in enumerate(CORPUS.items(), start=1):
        (directory / f"{number:03d}-{name}.eml").write_bytes(data)


def load_corpus(directory: Path = MAIL_DIR) -> list[tuple[str, bytes]]:
    """(file name, raw bytes) for every committed corpus message, in order."""
    return [(path.name, path.read_bytes()) for path in sorted(directory.glob("*.eml"))]


def corpus_maildir(dest: Path) -> Path:
    """A maildir at ``dest`` holding the committed corpus, message n = n-th file."""
    from dovecot_ref import write_maildir

    return write_maildir(dest, [raw for _name, raw in load_corpus()])


def huge_message(size: int = 20 * 1024 * 1024) -> bytes:
    """A multipart message with a base64 attachment of about ``size`` octets."""
    line = base64.b64encode(bytes(range(57))) + b"\n"
    body = line * (size // len(line) + 1)
    return (
        b"From: big@example.org\nSubject: huge\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=HUGE\n\n--HUGE\n\nsmall text\n"
        b"--HUGE\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + body + b"--HUGE--\n"
    )


if __name__ == "__main__":
    write_corpus()
    print(f"wrote {len(CORPUS)} messages to {MAIL_DIR}")


# --- random awkward messages for differential testing ---------------------------------

_ADDRESS_POOL = [
    "a@example.org", "Name <n@example.org>", '"Quoted, Name" <q@x.example>', "<bare@x>",
    "group: m1@x, m2@x;", "empty:;", "local", "@domain", "x@", "<>", "(comment) c@x",
    "=?utf-8?q?J=C3=B6rg?= <j@x>", "a@b, , c@d", "Bad <unterminated@x", "\"odd\"@x",
    "<@r1,@r2:r@x>", "x.@y", "Tab\tName <t@x>", "  spaced  out  <s@x>  ", "caf\u00e9 <c@x>",
]
_SUBJECT_POOL = [
    "plain", "  lead", "trail  ", "two  spaces", 'quote " in', "back \\ slash",
    "=?iso-8859-1?q?caf=E9?=", "tab\there", "", "\u00fcml\u00e4ut", "a\r\n folded",
]
_BOUNDARY_POOL = ["a", "ab", "abc", "b", "=_x", "same", "long" * 25, "", "sp ace", "-", "a--"]
_CTYPE_POOL = [
    "text/plain", "text/html; charset=utf-8", "application/octet-stream; name=f.bin",
    "image/png", "text", "garbage", "", "message/rfc822", 'text/plain; name*0="a"; name*1="b"',
    "application/x; a*=utf-8''%41; b=\"q\\\"x\"", "TEXT/Plain; CHARSET=latin1 (c)",
]
_EXTRA_HEADERS = [
    "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable",
    "Content-Transfer-Encoding: 8bit", "Content-Transfer-Encoding: x-weird",
    "Content-Disposition: attachment; filename=x.txt", "Content-Disposition: inline",
    "Content-ID: <id@x>", "Content-Description: desc  two", "Content-Language: en, fr",
    "Content-Location: http://x/y", "Content-MD5: abc=", "X-Other: value",
    "Content-Transfer-Encoding: BASE64 ; x", "Content-Transfer-Encoding:", "Content-ID: \t<spaced>  ",
    "Content-Disposition: attachment;\n filename*0*=utf-8''a%20b;\n filename*1=c",
    "Content-Language: (c) en-US ,, de", "Content-Type: text/plain", "MIME-Version: 1.0",
    "X-Nul: a\0b", "X-8bit: \u00e4\u00f6", "no colon line", " leading-space: x",
    "Content-Description: =?utf-8?q?x?=\n\tfolded", "X-Long: " + "L" * 9000,
]


def random_message(rng, depth: int = 0) -> str:
    """One random, often malformed, MIME message as text with LF line ends."""
    lines = []
    if depth == 0 or rng.random() < 0.5:
        for field in ("From", "To", "Cc", "Reply-To", "Sender"):
            if rng.random() < 0.5:
                lines.append(f"{field}: " + ", ".join(rng.sample(_ADDRESS_POOL, rng.randint(1, 3))))
        if rng.random() < 0.8:
            lines.append("Subject: " + rng.choice(_SUBJECT_POOL))
        if rng.random() < 0.5:
            lines.append("Date: Mon, 7 Feb 1994 21:52:25 -0800")
        if rng.random() < 0.3:
            lines.append("Message-ID: <" + rng.choice(["m@x", "a b@c", "q\"@x"]) + ">")
    body = _random_entity(rng, depth, lines, top=True)
    return body


def _random_entity(rng, depth: int, lines: list, top: bool) -> str:
    if top and rng.random() < 0.8:
        lines.append("MIME-Version: 1.0")
    roll = rng.random()
    boundary = rng.choice(_BOUNDARY_POOL)
    if depth < 4 and roll < 0.45:
        subtype = rng.choice(["mixed", "alternative", "digest"])
        quoted = rng.random() < 0.5
        lines.append(f"Content-Type: multipart/{subtype}; boundary=" + (f'"{boundary}"' if quoted else boundary))
        kind = "multi"
    elif depth < 4 and roll < 0.6:
        lines.append("Content-Type: message/rfc822")
        kind = "msg"
    else:
        ctype = rng.choice(_CTYPE_POOL)
        if ctype or rng.random() < 0.5:
            lines.append(f"Content-Type: {ctype}")
        kind = "leaf"
    for extra in rng.sample(_EXTRA_HEADERS, rng.randint(0, 3)):
        lines.append(extra)
    rng.shuffle(lines)
    header = "".join(line + "\n" for line in lines)
    blank = "\n" if rng.random() < 0.93 else ""
    if kind == "leaf":
        body = _random_text(rng)
    elif kind == "msg":
        body = random_message(rng, depth + 1)
    else:
        parts = []
        if rng.random() < 0.3:
            parts.append(_random_text(rng) + "\n")
        for _ in range(rng.randint(0, 4)):
            child: list = []
            parts.append(f"--{boundary}" + rng.choice(["", "", " junk", "--x"]) + "\n"
                         + _random_entity(rng, depth + 1, child, top=False) + "\n")
        if rng.random() < 0.8:
            parts.append(f"--{boundary}--\n")
        if rng.random() < 0.3:
            parts.append(_random_text(rng))
        body = "".join(parts)
    return header + blank + body


def _random_text(rng) -> str:
    pool = ["hello", "", "--", "--a", "--ab", "--b--", "=E9t=C3=A9=", "aGVsbG8=", " ", "\u00e9",
            "x\ry", "end", "--sp ace", "--a--", "---", "nul\0here", "=\r", "trailing \t", "QUJD\r\nREVG"]
    return "\n".join(rng.choice(pool) for _ in range(rng.randint(0, 5)))


def random_corpus(seed: int, count: int) -> list[bytes]:
    """``count`` random messages; line ends vary (LF, CRLF, mixed) per message."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = random_message(rng).encode()
        style = rng.random()
        if style < 0.4:
            text = text.replace(b"\n", b"\r\n")
        elif style < 0.6:
            text = b"".join(line + (b"\r\n" if rng.random() < 0.5 else b"\n")
                            for line in text.split(b"\n"))[: len(text) + text.count(b"\n")]
        out.append(text)
    return out
