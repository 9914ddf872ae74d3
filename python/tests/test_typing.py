"""`mypy --strict` accepts the README's patterns and rejects known mistakes, each with
the error it deserves."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("mypy")

HERE = pathlib.Path(__file__).parent / "typing"


def mypy(path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--hide-error-context", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_patterns_pass_mypy_strict():
    out = mypy(HERE / "readme_ok.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_known_mistakes_fail_mypy_strict_each_with_its_error():
    path = HERE / "mistakes.py"
    expected = {
        i: m.group(1)
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if (m := re.search(r"# MISTAKE: ([a-z-]+)", line))
    }
    out = mypy(path)
    found: dict[int, set[str]] = {}
    for m in re.finditer(r"mistakes\.py:(\d+): error: .*\[([a-z-]+)\]", out.stdout):
        found.setdefault(int(m.group(1)), set()).add(m.group(2))
    assert out.returncode == 1, out.stdout
    for line, code in expected.items():
        assert code in found.get(line, set()), f"line {line}: expected [{code}]\n{out.stdout}"
    assert set(found) == set(expected), out.stdout


def test_the_typed_options_are_the_options_the_extension_takes():
    import tripgate

    assert set(tripgate.BreakerOptions.__annotations__) == set(tripgate._core.OPTIONS)
