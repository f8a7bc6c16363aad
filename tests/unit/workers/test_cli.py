"""`chiroref validate` prints an OperationOutcome per file and exits 1 on any error."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from workers.cli import app

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
runner = CliRunner()


def test_a_valid_example_prints_all_ok_and_exits_0() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLES / "ChiroAssessmentReferral-plain.json")])
    assert result.exit_code == 0
    outcome = json.loads(result.stdout)
    assert [i["severity"] for i in outcome["issue"]] == ["information"]


def test_an_invalid_fixture_prints_its_issue_and_exits_1(tmp_path: Path) -> None:
    bad = json.loads((EXAMPLES / "ChiroAssessmentReferral-plain.json").read_text())
    bad["status"] = "foo"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    issues = json.loads(result.stdout)["issue"]
    assert any(i["expression"] == ["ServiceRequest.status"] for i in issues)


def test_several_files_are_each_headed_by_their_name(tmp_path: Path) -> None:
    good = EXAMPLES / "ChiroPatient-no.json"
    result = runner.invoke(app, ["validate", str(good), str(good)])
    assert result.exit_code == 0
    assert result.stdout.count(f"# {good}") == 2
