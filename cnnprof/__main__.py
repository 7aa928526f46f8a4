"""`python -m cnnprof`: the same command as `cnnprof`."""

from cnnprof.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
