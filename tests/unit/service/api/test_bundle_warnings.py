from __future__ import annotations

from datetime import UTC, datetime

from profiles.issues import Issue
from service.api.bundles import Entry, EntryResult, response_entry
from service.api.headers import Prefer
from service.api.urls import Urls
from service.store.model import StoredResource


def test_a_warning_travels_in_the_entry_outcome() -> None:
    stored = StoredResource("CarePlan", "1", 1, datetime.now(UTC), {"resourceType": "CarePlan"})
    warning = Issue("warning", "business-rule", "CarePlan.activity[0]", "no indication")
    result = EntryResult(Entry(0, "POST", "CarePlan"), 201, stored, issues=(warning,))
    entry = response_entry(Urls.of("http://x/fhir"), result, Prefer())
    assert entry["resource"]["resourceType"] == "CarePlan"
    assert entry["response"]["outcome"]["issue"][0]["severity"] == "warning"
