"""Stage ⑥: the `cnnprof` command. `app` composes one module per command group (count, tables,
guard, latency); `options` declares the shared options once. Parse → api → report | render."""

from cnnprof.cli.app import app, main

__all__ = ["app", "main"]
