"""`python -m woonsim_cli`: the command line."""

import sys

from woonsim_cli.commands import main

sys.exit(main())
