"""Any-state commands (RFC 3501 6.1; ID RFC 2971; ENABLE RFC 5161) and state checks."""

from __future__ import annotations

import pytest

from imapsession.session import Session
from imapsession.storage.maildir import open_maildir
from transcript import Client, run

CAPS = ("IMAP4rev1 LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
        "APPENDLIMIT=<n>")


@pytest.fixture
def c(tmp_path):
    return Client(tmp_path / "Maildir")


def test_greeting_is_preauth_with_capabilities(c):
    assert c.greeting.startswith("* PREAUTH [CAPABILITY IMAP4rev1 ")
    assert c.greeting.endswith("] Logged in as tester\r\n")
    assert "LITERAL+" in c.greeting and "APPENDLIMIT=104857600" in c.greeting


def test_capability_noop_logout(c):
    run(c, f"""
        C: a CAPABILITY
        S: * CAPABILITY {CAPS}
        S: a OK Capability completed.
        C: b noop
        S: b OK NOOP completed.
        C: c LOGOUT
        S: * BYE Logging out
        S: c OK Logout completed.
    """)
    assert c.finished
    # nothing more is read once the session has ended
    assert c.send(b"d NOOP\r\n") == b""


def test_capability_takes_no_arguments(c):
    assert c.tagged("a CAPABILITY now") == (
        'a BAD Error in IMAP command CAPABILITY: Expected no arguments, found "now"')


def test_id_nil_and_with_parameters(c):
    run(c, """
        C: a ID NIL
        S: * ID ("name" "imapsession" "version" "<*>")
        S: a OK ID completed.
        C: b ID ("name" "sodr" "version" "19.34" "vendor" NIL)
        S: * ID ("name" "imapsession" "version" "<*>")
        S: b OK ID completed.
        C: c ID ()
        S: * ID ("name" "imapsession" "version" "<*>")
        S: c OK ID completed.
    """)


def test_id_malformed(c):
    assert c.tagged("a ID").startswith("a BAD ")
    assert c.tagged('a ID ("name")').startswith("a BAD ")
    assert c.tagged("a ID name").startswith("a BAD ")


def test_id_too_many_parameters(c):
    params = " ".join(f'"k{i}" "v"' for i in range(31))
    assert c.tagged(f"a ID ({params})") == (
        "a BAD Error in IMAP command ID: Too many ID parameters (at most 30)")


def test_enable_unknown_capability_is_ignored(c):
    run(c, """
        C: a ENABLE CONDSTORE X-NOTHING
        S: a OK Enabled.
        C: b ENABLE
        S: b BAD Error in IMAP command ENABLE: Missing capability names to enable
    """)


def test_noop_in_selected_state_reports_nothing_when_nothing_changed(c):
    c.ok("s SELECT INBOX")
    assert c.cmd("n NOOP") == ["n OK NOOP completed."]


def test_command_names_are_case_insensitive(c):
    assert c.tagged("a cApAbIlItY") == "a OK Capability completed."
    assert c.tagged("b uid search all").startswith("b BAD ")  # not selected
    c.ok("s sElEcT iNbOx")
    assert c.cmd("b uId SeArCh AlL") == ["* SEARCH", "b OK Search completed."]


def test_logout_while_selected(c):
    c.ok("s SELECT INBOX")
    assert c.cmd("l LOGOUT") == ["* BYE Logging out", "l OK Logout completed."]
    assert c.finished


# --- states ------------------------------------------------------------------------------


SELECTED_ONLY = ["CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH ALL", "FETCH 1 FLAGS",
                 "STORE 1 +FLAGS \\Seen", "COPY 1 INBOX", "MOVE 1 INBOX", "UID FETCH 1 FLAGS",
                 "UID STORE 1 FLAGS ()", "UID COPY 1 INBOX", "UID MOVE 1 INBOX",
                 "UID SEARCH ALL", "UID EXPUNGE 1"]


@pytest.mark.parametrize("command", SELECTED_ONLY)
def test_selected_state_commands_need_a_selected_mailbox(c, command):
    name = " ".join(command.split()[:2]) if command.startswith("UID ") else command.split()[0]
    assert c.tagged(f"x {command}") == (
        f"x BAD Error in IMAP command: {name} needs a selected mailbox")
    assert not c.finished


@pytest.mark.parametrize("command", ["LOGIN user pass", "AUTHENTICATE PLAIN", "STARTTLS"])
def test_not_authenticated_commands_after_authentication(c, command):
    name = command.split()[0]
    assert c.tagged(f"x {command}") == (
        f"x BAD Error in IMAP command: {name} is not allowed after authentication")


AUTH_ONLY = ["SELECT INBOX", "EXAMINE INBOX", "CREATE a", "DELETE a", "RENAME a b",
             "SUBSCRIBE a", "UNSUBSCRIBE a", 'LIST "" *', 'LSUB "" *', "NAMESPACE",
             "STATUS INBOX (MESSAGES)", "APPEND INBOX {1+}\r\nx", "IDLE", "ENABLE X",
             "FETCH 1 FLAGS", "UID FETCH 1 FLAGS"]


@pytest.mark.parametrize("command", AUTH_ONLY)
def test_commands_before_authentication_are_refused(tmp_path, command):
    session = Session(None, None)
    assert session.greeting().startswith(b"* OK [CAPABILITY ")
    out = session.receive(f"x {command}\r\n".encode()).decode()
    name = " ".join(command.split()[:2]) if command.startswith("UID ") else command.split()[0]
    assert out == f"x BAD Error in IMAP command: {name} is not allowed before authentication\r\n"
    assert session.state.value == "not authenticated"


def test_any_state_commands_work_before_authentication():
    session = Session(None, None)
    out = session.receive(b"a CAPABILITY\r\nb NOOP\r\nc ID NIL\r\nd LOGOUT\r\n").decode()
    assert out.splitlines()[0].startswith("* CAPABILITY IMAP4rev1 ")
    assert "b OK NOOP completed." in out
    assert '* ID ("name" "imapsession"' in out
    assert out.endswith("* BYE Logging out\r\nd OK Logout completed.\r\n")


def test_login_mode_refusals_are_clear():
    # a Session without a store is in login mode; with no authenticator it refuses clearly
    session = Session(None, None)
    lines = session.receive(b"a LOGIN joe secret\r\nb AUTHENTICATE PLAIN\r\n").decode()
    a, b = lines.splitlines()
    assert a.startswith("a NO [UNAVAILABLE] ") and b.startswith("b NO [UNAVAILABLE] "), lines
    assert session.state.value == "not authenticated"


def test_unknown_command(c):
    run(c, """
        C: a FROBNICATE
        S: a BAD Error in IMAP command: Unknown command "FROBNICATE"
        C: b UID FROBNICATE 1
        S: b BAD Error in IMAP command UID: Unknown UID command "FROBNICATE"
        C: c UID
        S: c BAD Error in IMAP command UID: Missing UID command (FETCH, STORE, COPY, MOVE, SEARCH or EXPUNGE)
    """)


def test_store_is_usable_by_a_second_store_object(tmp_path):
    # the helper's maildir is an ordinary one: another store sees what a session made
    c = Client(tmp_path / "m")
    c.ok("a CREATE Work")
    other = open_maildir(str(tmp_path / "m"))
    assert "Work" in {info.name for info in other.list_mailboxes()}
