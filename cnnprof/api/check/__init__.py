"""Regression checks: snapshots of counts, budgets, and the check that compares a recount with
them. Pure data in and out: the CLI prints the report and turns a failure into exit code 1.

- `_fields`: typed reads of a document's fields, tolerances and an entry's settings;
- `_documents`: baselines and budgets, validated whole before anything runs, and the snapshot
  document a baseline is written as;
- `_counting`: an entry's model counted, predicted and timed with its own settings;
- `_snapshot`: `snapshot`, a new baseline;
- `_reference`: the model a latency ratio is measured against, never the model itself;
- `_inputs`: `named_files`, the files a baseline or budget names (inputs no output may replace);
- `_baseline`, `_budgets`, `_run`: `run_check`, a baseline or budget file checked (and a
  baseline updated).
"""

from cnnprof.api.check._budgets import check_budgets
from cnnprof.api.check._documents import BudgetEntry
from cnnprof.api.check._fields import Settings, parse_tolerance
from cnnprof.api.check._inputs import named_files
from cnnprof.api.check._run import run_check
from cnnprof.api.check._snapshot import snapshot

__all__ = [
    "BudgetEntry",
    "Settings",
    "check_budgets",
    "named_files",
    "parse_tolerance",
    "run_check",
    "snapshot",
]
