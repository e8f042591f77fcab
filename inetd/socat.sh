#!/bin/sh
# socat lines for trying imapsession by hand on a high loopback port. Not for production
# (no connection limits): use xinetd, systemd or stunnel there.
#
# Login mode, plain IMAP on 127.0.0.1:10143 (run as root). socat names the peer in
# SOCAT_PEERADDR; a loopback peer may log in in plaintext, a remote one may not:
#   socat TCP-LISTEN:10143,bind=127.0.0.1,reuseaddr,fork \
#       EXEC:"/usr/local/bin/imapsession --login --config /etc/imapsession/login.conf"
#
# WARNING: never "socat ... EXEC:'imapsession --preauth'": --preauth skips login and
# hands the mailbox of whoever runs socat to anyone who can connect to the port.
exec socat TCP-LISTEN:"${PORT:-10143}",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"${IMAPSESSION:-/usr/local/bin/imapsession} --login --config ${CONFIG:-/etc/imapsession/login.conf}"
