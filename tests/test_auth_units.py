"""The login pieces without processes: schemes, passwd-file, the verdict, SASL, options,
the sans-I/O session's login hook, and log-line escaping."""

from __future__ import annotations

import base64
import os
import time

import pytest
from test_login_world import hash_password

from imapsession.auth import check, loglines, options, passwd_file, sasl, throttle, verify
from imapsession.auth.request import LoginRequest, encode, read
from imapsession.commands.results import no
from imapsession.login import expand_template
from imapsession.session import Session, State

SCHEMES = ["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT", "PLAIN"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_accepts_its_password_and_nothing_else(scheme):
    stored = hash_password(scheme, "right pässword")
    assert verify.verify(stored, "right pässword".encode())
    assert not verify.verify(stored, b"right passwor")
    assert not verify.verify(stored, b"")


def test_hashes_without_a_scheme_prefix_are_recognised():
    stored = hash_password("SHA512-CRYPT", "pw").removeprefix("{SHA512-CRYPT}")
    assert verify.scheme_of(stored) == "SHA512-CRYPT" and verify.verify(stored, b"pw")
    with pytest.raises(verify.UnsupportedScheme):
        verify.verify("{MD5}1a1dc91c907325c69271ddf0c944bc72", b"pass")


def write_passwd(tmp_path, lines):
    path = tmp_path / "passwd"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_passwd_file_lookup_and_dummy_of_the_commonest_scheme(tmp_path):
    path = write_passwd(tmp_path, [
        "# comment", "",
        "a:{PLAIN}x:60001:60001::/home/a::",
        "b:" + hash_password("BLF-CRYPT", "y") + ":60002:60002::/home/b::userdb_quota=1",
        "c:" + hash_password("BLF-CRYPT", "z") + ":60003:60003::/home/c::",
    ])
    found = passwd_file.lookup(path, "b")
    assert found.entry.uid == 60002 and found.entry.home == "/home/b"
    assert verify.scheme_of(found.dummy) == "BLF-CRYPT"
    assert "$2" not in repr(found.entry) and "$2" not in repr(found)
    assert passwd_file.lookup(path, "nobody-here").entry is None
    with pytest.raises(passwd_file.PasswdFileError):
        passwd_file.lookup(write_passwd(tmp_path, ["broken:line"]), "broken")


def config_for(path, **kw):
    return options.LoginConfig(passwd_file=path, first_valid_uid=1000, **kw)


def test_unknown_user_costs_one_verification_like_a_wrong_password(tmp_path):
    path = write_passwd(tmp_path, [
        "bob:" + hash_password("ARGON2ID", "secret") + f":60001:60001::{tmp_path}::"])
    config = config_for(path)
    wrong = check.check(config, LoginRequest("a", "LOGIN", b"bob", b"guess"))
    unknown = check.check(config, LoginRequest("a", "LOGIN", b"eve", b"guess"))
    right = check.check(config, LoginRequest("a", "LOGIN", b"bob", b"secret"))
    assert (wrong.ok, unknown.ok, right.ok) == (False, False, True)
    assert wrong.verifications == unknown.verifications == right.verifications == 1
    assert (wrong.reason, unknown.reason) == ("password mismatch", "unknown user")
    # the dummy is a real argon2 verification: the unknown user is not answered faster
    def best(user):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            check.check(config, LoginRequest("a", "LOGIN", user, b"guess"))
            times.append(time.perf_counter() - start)
        return min(times)
    assert best(b"eve") > 0.5 * best(b"bob")


def test_foreign_authzid_and_low_or_zero_uids_are_refused(tmp_path):
    path = write_passwd(tmp_path, [
        f"bob:{{PLAIN}}pw:60001:60001::{tmp_path}::",
        f"low:{{PLAIN}}pw:999:999::{tmp_path}::",
        f"root2:{{PLAIN}}pw:0:0::{tmp_path}::",
    ])
    config = config_for(path)
    foreign = check.check(config, LoginRequest("a", "PLAIN", b"bob", b"pw", b"alice"))
    assert not foreign.ok and foreign.verifications == 0
    assert check.check(config, LoginRequest("a", "PLAIN", b"bob", b"pw", b"bob")).ok
    for user in (b"low", b"root2"):
        assert not check.check(config, LoginRequest("a", "LOGIN", user, b"pw")).ok
    assert check.check(config._replace(first_valid_uid=500),
                       LoginRequest("a", "LOGIN", b"low", b"pw")).ok


def test_sasl_plain_decoding():
    assert sasl.decode_plain(base64.b64encode(b"\0bob\0pw")) == (b"", b"bob", b"pw")
    for bad in (b"not base64!", base64.b64encode(b"bob\0pw"), base64.b64encode(b"\0\0pw")):
        with pytest.raises(sasl.SaslError):
            sasl.decode_plain(bad)


def test_request_round_trip_through_a_pipe():
    r, w = os.pipe()
    os.write(w, encode(LoginRequest("t1", "PLAIN", b"bob", b"pw", b"bob"), b"x NOOP\r\n"))
    os.close(w)
    request, leftover = read(r)
    assert (request.tag, request.user, request.password, leftover) == (
        "t1", b"bob", b"pw", b"x NOOP\r\n")
    assert b"pw" not in repr(request).encode()
    assert read(r) is None


def test_throttle_doubles_and_stops_at_three():
    assert [throttle.delay(n, 2.0) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert not throttle.exhausted(2) and throttle.exhausted(3)


def test_options_and_config_file(tmp_path):
    conf = tmp_path / "login.conf"
    conf.write_text("passwd_file = /x/passwd  # comment\nsecure_transport = yes\n"
                    "first_valid_uid = 2000\n")
    rest, login_args = options.split_args(
        ["--login", "--config", str(conf), "--first-valid-uid=3000", "--log", "stderr"])
    assert rest == ["--login", "--log", "stderr"]
    config = options.parse(login_args)
    assert (config.passwd_file, config.secure_transport, config.first_valid_uid) == (
        "/x/passwd", True, 3000)
    assert options.parse([]).passwd_file == "/etc/imapsession/passwd"
    conf.write_text("no_such = 1\n")
    with pytest.raises(options.OptionError):
        options.parse(["--config", str(conf)])


def test_limit_options_reach_both_modes_and_must_be_octets():
    from imapsession.protocol.limits import DISCARD_FACTOR, configured, pre_login

    rest, login_args = options.split_args(["--login", "--append-limit", "1000",
                                           "--discard-limit=9000"])
    assert rest == ["--login", "--append-limit", "1000", "--discard-limit=9000"]
    config = options.parse(login_args)
    assert (config.append_limit, config.discard_limit) == (1000, 9000)
    with pytest.raises(options.OptionError):
        options.parse(["--append-limit", "-5"])
    assert configured(1000).max_discard == DISCARD_FACTOR * 1000
    assert configured(1000, 9000).max_discard == 9000
    assert configured().max_append == configured(0, 0).max_append == 100 * 1024 * 1024
    before = pre_login(1000)
    assert before.max_append == 1000  # advertised only: APPEND needs a login
    assert before.max_line <= 8192 and before.max_discard < configured().max_discard


def test_mail_template_variables():
    assert expand_template("maildir:%h/Maildir", "bob@example.org", "/home/bob") == (
        "maildir:/home/bob/Maildir")
    assert expand_template("maildir:/srv/%d/%n/%%", "bob@example.org", "/h") == (
        "maildir:/srv/example.org/bob/%")


def test_user_names_are_escaped_for_the_log():
    assert loglines.safe_user(b"bob@example.org") == "bob@example.org"
    assert loglines.safe_user(b"x\n> rip=1.2.3.4") == "x\\x0a\\x3e\\x20rip\\x3d1.2.3.4"


# --- the sans-I/O session's side of login mode --------------------------------------------

def login_session(secure: bool) -> Session:
    session = Session(None, None)
    session.login_secure = secure
    return session


def test_capabilities_before_login_depend_on_the_transport():
    assert "LOGINDISABLED" in login_session(False).capabilities()
    secure = login_session(True).capabilities()
    assert "AUTH=PLAIN" in secure and "SASL-IR" in secure and "LOGINDISABLED" not in secure
    assert "AUTH=PLAIN" not in Session(None, None).capabilities()  # no login mode


def test_login_is_held_with_the_bytes_that_follow():
    session = login_session(True)
    out = session.receive(b"a LOGIN bob {2}\r\n")
    assert out == b"+ OK\r\n"
    assert session.receive(b"pw\r\nb SELECT INBOX\r\n") == b""
    command, request = session.pending_login
    assert (command.tag, request.user, request.password) == ("a", b"bob", b"pw")
    assert session.unread() == b"b SELECT INBOX\r\n"
    session.login_failed(no("Authentication failed.", "AUTHENTICATIONFAILED"), final=False)
    out = session.receive(b"")
    assert out.startswith(b"a NO [AUTHENTICATIONFAILED]") and b"b BAD" in out


def test_authenticate_continuation_abort_and_final_failure():
    session = login_session(True)
    assert session.receive(b"a AUTHENTICATE PLAIN\r\n") == b"+ \r\n"
    assert session.receive(b"*\r\n") == b"a BAD Authentication aborted by client.\r\n"
    session.receive(b"b AUTHENTICATE plain\r\n" + base64.b64encode(b"\0bob\0pw") + b"\r\n")
    assert session.pending_login[1].user == b"bob"
    session.login_failed(no("Authentication failed.", "AUTHENTICATIONFAILED"), final=True)
    assert session.take_output().endswith(b"* BYE Too many invalid authentication attempts.\r\n")
    assert session.state is State.LOGOUT


def test_without_secure_transport_nothing_is_handed_over():
    session = login_session(False)
    out = session.receive(b"a LOGIN bob pw\r\nb AUTHENTICATE PLAIN "
                          + base64.b64encode(b"\0bob\0pw") + b"\r\n")
    assert out.count(b"NO [PRIVACYREQUIRED]") == 2 and session.pending_login is None
    assert session.receive(b"c AUTHENTICATE CRAM-MD5\r\n").startswith(b"c NO ")


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drop_to_leaves_no_way_back_to_root():
    from imapsession.auth import privileges

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            privileges.drop_to(60009, 60009, [60009])
            try:
                os.setuid(0)
            except PermissionError:
                code = 0 if os.getresuid() == (60009, 60009, 60009) else 2
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
