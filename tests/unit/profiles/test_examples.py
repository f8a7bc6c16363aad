"""Every example validates; every invalid fixture fails with exactly its expected issues."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from profiles.validate import validate_file

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "profiles" / "examples"
WARNING_SIDECAR = ".expected-warning.json"
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.json") if not p.name.endswith(WARNING_SIDECAR))


def warning_sidecar(path: Path) -> Path:
    return path.with_name(path.stem + WARNING_SIDECAR)


WARNED = [p for p in EXAMPLES if warning_sidecar(p).exists()]


Found = tuple[str | None, str, str]  # (expression, code, severity)


@dataclass(frozen=True)
class InvalidCase:
    path: Path
    expression: str
    code: str
    severity: str
    also: frozenset[Found] = frozenset()  # the fault's consequences, each with its reason

    @property
    def name(self) -> str:
        return self.path.stem


def load_cases() -> list[InvalidCase]:
    cases = []
    for path in sorted((EXAMPLES_DIR / "invalid").glob("*.json")):
        if not path.name.endswith(".expected.json"):
            exp = json.loads(path.with_name(path.stem + ".expected.json").read_text())
            also = frozenset((a["expression"], a["code"], a["severity"])
                             for a in exp.get("also", []))
            cases.append(InvalidCase(path, exp["expression"], exp["code"], exp["severity"], also))
    return cases


INVALID_CASES = load_cases()


def test_there_are_examples_and_fixtures() -> None:
    assert len(EXAMPLES) >= 10 and len(INVALID_CASES) >= 11


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_valid(path: Path) -> None:
    assert [i for i in validate_file(path) if i.severity in ("error", "fatal")] == []


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p not in WARNED], ids=lambda p: p.stem)
def test_example_has_no_warnings(path: Path) -> None:
    assert validate_file(path) == []


def test_every_warning_sidecar_has_its_example() -> None:
    sidecars = sorted(EXAMPLES_DIR.glob("*" + WARNING_SIDECAR))
    assert sidecars and {warning_sidecar(p) for p in WARNED} == set(sidecars)


@pytest.mark.parametrize("path", WARNED, ids=lambda p: p.stem)
def test_example_has_exactly_its_expected_warning(path: Path) -> None:
    exp = json.loads(warning_sidecar(path).read_text())
    found = [(i.expression, i.code, i.severity) for i in validate_file(path)]
    assert found == [(exp["expression"], exp["code"], exp["severity"])]


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda c: c.name)
def test_invalid_fixture_fails_as_expected(case: InvalidCase) -> None:
    """Exactly the expected issue, and the consequences its sidecar lists under `also`:
    an unrelated fault in a fixture would hide what it is meant to show."""
    found = {(i.expression, i.code, i.severity) for i in validate_file(case.path)}
    assert found == {(case.expression, case.code, case.severity), *case.also}
