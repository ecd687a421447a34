"""The `woonsim` command line (`woonsim_cli.main`), on top of the model (`woonsim`) and
the experiment layer (`woonsim_experiments`). See `woonsim --help`."""

from woonsim_cli.commands import main

__all__ = ["main"]
