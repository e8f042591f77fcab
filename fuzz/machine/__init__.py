"""The session target's state machine, in parts: ``base`` (the two clients' plumbing),
``checks`` (what any answer's tagged status must be), and one mixin of rules per
command family: ``connections``, ``mailboxes``, ``incoming`` (APPEND, delivery),
``fetch``, ``store``, ``search``, ``copy_move``, ``expunge`` and ``edges`` (wrong state,
harmless, garbage, IDLE). ``fuzz/session_target.py`` assembles them and weighs the rules.
"""
