"""A helper shared by the tests of every chapter's ``record_checks`` (imported like ``browser_checks``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rob.book import checks


def record(chapter: str, module: ModuleType, cfg: Any, results: Any) -> tuple[checks.Report, list[str]]:
    """Run ``module.record_checks`` on ``results`` into a fresh report; return the report and the sorted
    ids of the checks that failed.  The numbers it hands to the prose (for ``glue``) must be floats or
    strings."""
    report = checks.Report(chapter, {})
    quoted = module.record_checks(report, cfg, results)
    assert quoted is None or all(isinstance(v, (float, str)) for v in quoted.values())
    return report, sorted(c.id for c in report.checks if not c.passed)
