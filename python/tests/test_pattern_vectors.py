"""The shared test vectors of ``patterns/vectors/``: the cases the Rust ``patterns``
crate runs too, so that ``tripgate.patterns`` and the crate answer alike."""

from __future__ import annotations

import json
import pathlib

import pytest

import tripgate

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "patterns" / "vectors"


def cases(name: str) -> list[dict]:
    found = json.loads((VECTORS / name).read_text())["cases"]
    assert len(found) >= 4
    return found


def closed_breaker(clock: tripgate.ManualClock) -> tripgate.CircuitBreaker:
    """Held closed: the vectors' calls never trip it on their own."""
    breaker = tripgate.CircuitBreaker(clock=clock)
    breaker.force_closed()
    return breaker


def down() -> int:
    raise ConnectionError("down")


@pytest.mark.parametrize("case", cases("graduated.json"), ids=lambda c: c["name"])
def test_graduated_cache_answers_the_shared_vector(case):
    clock = tripgate.ManualClock()
    options = {"recent": case["recent_s"], "stale": case["stale_s"], "clock": clock}
    if case.get("default") is not None:
        options["default"] = case["default"]
    if case.get("capacity") is not None:
        options["capacity"] = case["capacity"]
    cache = tripgate.GraduatedCache(**options)
    breaker = closed_breaker(clock)
    now = 0
    for i, step in enumerate(case["steps"]):
        clock.advance(step["at_s"] - now)
        now = step["at_s"]
        key = step.get("key", "k")
        if "insert" in step:
            cache.insert(key, step["insert"])
            continue
        if step.get("serve"):
            served = cache.serve(key)
        else:
            if step["call"] == "reject":
                breaker.force_open()
            value = step.get("value")
            func = (lambda: value) if step["call"] == "ok" else down
            try:
                served = cache.call(key, breaker, func)
            except tripgate.GraduatedError:
                served = None
            breaker.force_closed()
        expect = step["expect"]
        where = f"step {i}"
        if served is None:
            assert expect["tier"] in ("error", "none"), f"{where}: nothing answered, expected {expect}"
            continue
        assert served.tier == expect["tier"], where
        assert served.value == expect["value"], where
        if expect["age_s"] is None:
            assert served.age is None, where
        else:
            assert served.age == pytest.approx(expect["age_s"]), where


@pytest.mark.parametrize("case", cases("chain.json"), ids=lambda c: c["name"])
def test_fallback_chain_answers_the_shared_vector(case):
    clock = tripgate.ManualClock()
    steps = []
    for step in case["steps"]:
        func = (lambda v=step["ok"]: v) if "ok" in step else down
        if step["guard"] == "none":
            steps.append((step["name"], func))
            continue
        breaker = closed_breaker(clock)
        if step["guard"] == "open":
            breaker.force_open()
        steps.append((step["name"], breaker, func))
    chain = tripgate.fallback(*steps)
    expect = case["expect"]

    def pairs(errors) -> list[tuple[int, bool]]:
        return [(e.index, e.rejected) for e in errors]

    def expected(entries) -> list[tuple[int, bool]]:
        return [(e["index"], e["rejected"]) for e in entries]

    if "error" in expect:
        with pytest.raises(tripgate.FallbackError) as failed:
            chain()
        assert pairs(failed.value.errors) == expected(expect["error"])
    else:
        answer = chain()
        assert (answer.index, answer.value) == (expect["answered"], expect["value"])
        assert pairs(answer.errors) == expected(expect["errors"])
