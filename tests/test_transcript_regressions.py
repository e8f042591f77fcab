"""Regressions found by the transcript tests and fixed in the core; each names its bug."""

from __future__ import annotations

from transcript import Client, message, run

# --- examine_recent
# BUG (storage sync: recent only for read-write opens): EXAMINE shows 0 RECENT; Dovecot and
# RFC 3501 2.3.2 show the message as \Recent to the first session even when read-only.


def test_examine_shows_recent(tmp_path):
    c = Client(tmp_path / "M")
    c.append(message())
    run(c, """
        C: a EXAMINE INBOX
        S: * FLAGS (<*>)
        S: * OK [PERMANENTFLAGS ()] Read-only mailbox.
        S: * 1 EXISTS
        S: * 1 RECENT
        S: * OK [UNSEEN 1] First unseen.
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 2] Predicted next UID
        S: a OK [READ-ONLY] Examine completed.
        C: b FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS (\\Recent))
        S: b OK Fetch completed.
    """)

# --- idle_pipelined_done
# BUG (session.receive/framer): bytes that arrive in the same receive() as IDLE stay in the
# framer's buffer instead of going to IDLE, so a pipelined DONE is parsed as a command and
# the next command is taken for the IDLE's answer. Dovecot handles
# printf 'a select inbox\r\nb idle\r\ndone\r\nc noop\r\n' fine.


def test_idle_with_done_in_the_same_packet(tmp_path):
    c = Client(tmp_path / "M")
    c.ok("s SELECT INBOX")
    run(c, """
        C: i IDLE
        C: DONE
        C: n NOOP
        S: + idling
        S: i OK Idle completed.
        S: n OK NOOP completed.
    """)

# --- mutf7_two_units
# BUG (protocol/types.py mutf7_decode): base64 runs of 6 chars (4 UTF-16 bytes) are refused


def test_two_char_cjk_and_astral_names(tmp_path):
    c = Client(tmp_path / "M")
    run(c, """
        C: a CREATE &ZeVnLA-
        S: a OK Create completed.
        C: b CREATE &2D3eAA-
        S: b OK Create completed.
    """)

# --- selected_mailbox_deleted
# BUG (session.finish / view.refresh: NoSuchMailbox from Mailbox.sync is not handled):
# when another session deletes the selected mailbox, every later command in this session
# answers NO [SERVERBUG] (CLOSE too, and the session stays selected). Dovecot answers
# "* BYE Selected mailbox was deleted, have to disconnect."


def test_selected_mailbox_deleted_by_another_session(tmp_path):
    a = Client(tmp_path / "M")
    b = Client(tmp_path / "M")
    a.ok("c CREATE Box")
    a.append(message(), mailbox="Box")
    a.ok("s SELECT Box")
    b.ok("d DELETE Box")
    a.cmd("n NOOP")   # fails: n NO [SERVERBUG] Internal error occurred...
    a.cmd("l CLOSE")  # fails: l NO [SERVERBUG] ...; state stays selected
    assert a.session.state.value != "selected" or a.finished
