"""`python -m imapsession`."""

from imapsession.cli import main

raise SystemExit(main())
