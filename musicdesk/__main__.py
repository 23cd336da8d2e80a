"""`python -m musicdesk` is the `musicdesk` command."""
import sys

from musicdesk.cli import main

sys.exit(main())
