"""LIST, LSUB, NAMESPACE (RFC 3501 6.3.8, 6.3.9; RFC 2342; CHILDREN, RFC 3348)."""

from __future__ import annotations

import pytest

from transcript import Client, run


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    c.ok("a CREATE a/b/c")
    c.ok("b CREATE a/x")
    c.ok("c CREATE top")
    return c


def test_list_star_and_children_attributes(c):
    run(c, """
        C: l LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\Noselect \\HasChildren) "/" a
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/b/c
        S: * LIST (\\HasNoChildren) "/" a/x
        S: * LIST (\\HasNoChildren) "/" top
        S: l OK List completed.
    """)


def test_list_percent_stops_at_the_separator(c):
    run(c, """
        C: l LIST "" %
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\Noselect \\HasChildren) "/" a
        S: * LIST (\\HasNoChildren) "/" top
        S: l OK List completed.
        C: m LIST "" a/%
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/x
        S: m OK List completed.
        C: n LIST "" %/%
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/x
        S: n OK List completed.
        C: o LIST "" a%
        S: * LIST (\\Noselect \\HasChildren) "/" a
        S: o OK List completed.
        C: p LIST "" a/*
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/b/c
        S: * LIST (\\HasNoChildren) "/" a/x
        S: p OK List completed.
    """)


def test_list_reference_is_prefixed(c):
    run(c, """
        C: l LIST a/ %
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/x
        S: l OK List completed.
        C: m LIST a/b/ *
        S: * LIST (\\HasNoChildren) "/" a/b/c
        S: m OK List completed.
        C: n LIST "a/" "x"
        S: * LIST (\\HasNoChildren) "/" a/x
        S: n OK List completed.
    """)


def test_list_empty_pattern_gives_the_delimiter(c):
    run(c, """
        C: l LIST "" ""
        S: * LIST (\\Noselect) "/" ""
        S: l OK List completed.
        C: m LIST a/b ""
        S: * LIST (\\Noselect) "/" ""
        S: m OK List completed.
    """)


def test_list_inbox_is_case_insensitive(c):
    for pattern in ("inbox", "InBoX", "INBOX", "in*", "I%"):
        assert c.cmd(f'l LIST "" {pattern}') == [
            '* LIST (\\HasNoChildren) "/" INBOX', "l OK List completed."]


def test_list_other_names_are_case_sensitive(c):
    assert c.cmd('l LIST "" TOP') == ["l OK List completed."]
    assert c.cmd('l LIST "" nothere') == ["l OK List completed."]


def test_list_inbox_has_children(c):
    c.ok("d CREATE INBOX/Sub")
    assert c.cmd('l LIST "" INBOX*') == [
        '* LIST (\\HasChildren) "/" INBOX', '* LIST (\\HasNoChildren) "/" INBOX/Sub',
        "l OK List completed."]


def test_list_pattern_as_literal_and_quoted(c):
    assert c.lines(b'l LIST "" {1}\r\n') == ["+ OK"]
    assert c.lines(b"%\r\n") == [
        '* LIST (\\HasNoChildren) "/" INBOX', '* LIST (\\Noselect \\HasChildren) "/" a',
        '* LIST (\\HasNoChildren) "/" top', "l OK List completed."]
    assert c.lines(b'm LIST {0+}\r\n "top"\r\n') == [
        '* LIST (\\HasNoChildren) "/" top', "m OK List completed."]


def test_list_non_ascii_names_and_patterns(c):
    c.ok("d CREATE Entw&APw-rfe")
    c.ok("e CREATE Entw&APw-rfe/Alt")
    run(c, """
        C: l LIST "" Entw&APw-rfe*
        S: * LIST (\\HasChildren) "/" Entw&APw-rfe
        S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe/Alt
        S: l OK List completed.
        C: m LIST Entw&APw-rfe/ %
        S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe/Alt
        S: m OK List completed.
        C: n LIST "" *&APw-*
        S: * LIST (\\HasChildren) "/" Entw&APw-rfe
        S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe/Alt
        S: n OK List completed.
    """)


def test_list_undecodable_pattern_matches_nothing(c):
    assert c.cmd('l LIST "" &AGE-*') == ["l OK List completed."]
    assert c.cmd('l LIST "" "&Jjo"') == ["l OK List completed."]


def test_list_syntax_errors(c):
    assert c.tagged("l LIST").startswith("l BAD ")
    assert c.tagged('l LIST ""').startswith("l BAD ")
    assert c.tagged('l LIST "" * extra').startswith("l BAD ")
    assert c.tagged('l LIST "" "unterminated').startswith("l BAD ")


def test_list_works_in_selected_state(c):
    c.ok("s SELECT top")
    assert c.cmd('l LIST "" top') == ['* LIST (\\HasNoChildren) "/" top', "l OK List completed."]


def test_lsub_percent_shows_unsubscribed_parents_as_noselect(c):
    c.ok("d SUBSCRIBE a/b/c")
    c.ok("e SUBSCRIBE top")
    run(c, """
        C: l LSUB "" %
        S: * LSUB (\\Noselect) "/" a
        S: * LSUB () "/" top
        S: l OK Lsub completed.
        C: m LSUB "" *
        S: * LSUB () "/" a/b/c
        S: * LSUB () "/" top
        S: m OK Lsub completed.
        C: n LSUB "" a/%
        S: * LSUB (\\Noselect) "/" a/b
        S: n OK Lsub completed.
        C: o LSUB a/b/ %
        S: * LSUB () "/" a/b/c
        S: o OK Lsub completed.
        C: p LSUB "" ""
        S: * LSUB (\\Noselect) "/" ""
        S: p OK Lsub completed.
    """)


def test_lsub_of_a_subscribed_noselect_parent(c):
    c.ok("d SUBSCRIBE a")  # a exists only as a parent of a/b and a/x
    assert c.cmd('l LSUB "" *') == ['* LSUB (\\Noselect) "/" a', "l OK Lsub completed."]


def test_lsub_with_nothing_subscribed(c):
    assert c.cmd('l LSUB "" *') == ["l OK Lsub completed."]


def test_rename_keeps_the_subscription_name(c):
    # RFC 3501 6.3.6: subscriptions are names; a rename does not carry them
    c.ok("d SUBSCRIBE top")
    c.ok("e RENAME top bottom")
    assert c.cmd('l LSUB "" *') == ['* LSUB (\\Noselect) "/" top', "l OK Lsub completed."]


def test_namespace(c):
    run(c, """
        C: n NAMESPACE
        S: * NAMESPACE (("" "/")) NIL NIL
        S: n OK Namespace completed.
        C: o NAMESPACE x
        S: o BAD Error in IMAP command NAMESPACE: Expected no arguments, found "x"
    """)
