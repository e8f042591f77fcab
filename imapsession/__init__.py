"""imapsession: a secure IMAP server whose unit of work is one session on stdin/stdout."""

__version__ = "0.1.0"
