"""What every CLI test asserts the same way: run a command, and an error is one clean line."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from cnnprof.cli import app


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_error(result: Result, *fragments: str) -> str:
    """Exit 2, one line on stderr starting with 'cnnprof: error:', nothing on stdout, no
    traceback (CliRunner catches exceptions: anything but the exit's SystemExit is a crash)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    err = result.stderr
    assert err.startswith("cnnprof: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err + result.stdout
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err
