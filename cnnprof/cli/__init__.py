"""Stage ⑥: the `cnnprof` command. `app` holds the table of commands, one module per command group
(count, tables, check, latency), each imported when its command runs; `options` declares the
shared options once. Parse → api → report | render."""

import warnings

with warnings.catch_warnings():
    # Typer imports a name Click deprecates: not the user's concern, even with PYTHONWARNINGS=error
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer  # noqa: F401

from cnnprof.cli.app import app, main

__all__ = ["app", "main"]
