"""The Python snippets `tripgate tune` prints build the breaker they stand for.

The cases come from `cargo run -p tripgate-cli --example snippets -- json` (run by
python/run_tests.sh into $TRIPGATE_TUNE_SNIPPETS; run here when it is not set): each
is a snippet and the engine config it must produce, compared field by field with the
config of the breaker the snippet builds.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import pytest

import tripgate


def cases() -> list[dict[str, Any]]:
    path = os.environ.get("TRIPGATE_TUNE_SNIPPETS")
    if path:
        text = pathlib.Path(path).read_text()
    else:
        root = pathlib.Path(__file__).resolve().parents[2]
        text = subprocess.run(
            ["cargo", "run", "-q", "-p", "tripgate-cli", "--example", "snippets", "--", "json"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


CASES = cases()


def test_there_are_cases_with_every_kind_of_snippet() -> None:
    assert len(CASES) >= 5
    joined = "".join(c["python"] for c in CASES)
    for option in ("fail_max=", "failure_rate_threshold=None", "window_size=", "reset_timeout="):
        assert option in joined


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(abs(hash(c["python"])) % 10**8))
def test_the_python_snippet_builds_the_config_it_stands_for(case: dict[str, Any]) -> None:
    scope: dict[str, Any] = {"tripgate": tripgate}
    exec(case["python"], scope)  # noqa: S102 - our own generated snippet
    breaker = scope["breaker"]
    assert isinstance(breaker, tripgate.CircuitBreaker)
    expected = tripgate.CircuitBreaker.from_config(case["config"]).config
    assert breaker.config == expected
