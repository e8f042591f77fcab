"""imapsession's fuzzer: Hypothesis strategies, a strict response parser, a model, a runner.

Targets: ``parser`` (grammar and framing), ``session`` (two in-process sessions
and a delivery agent on one maildir, against a model), ``binary`` (the same
state machine through real ``imapsession`` processes). See docs/FUZZING.md.
"""
