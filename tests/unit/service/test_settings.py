from __future__ import annotations

import pytest

from service.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHIROREF_BASE_URL", "CHIROREF_HOST", "CHIROREF_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_base_url_follows_the_port_when_unset() -> None:
    assert Settings(port=9000).base_url == "http://127.0.0.1:9000/fhir"


def test_base_url_follows_the_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIROREF_PORT", "7000")
    assert Settings().base_url == "http://127.0.0.1:7000/fhir"


def test_a_wildcard_bind_address_links_to_loopback() -> None:
    assert Settings(host="0.0.0.0", port=8081).base_url == "http://127.0.0.1:8081/fhir"


def test_a_configured_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIROREF_BASE_URL", "https://fhir.example.org/fhir")
    assert Settings(port=9000).base_url == "https://fhir.example.org/fhir"
