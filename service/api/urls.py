"""Absolute URLs built from `settings.base_url` (Location, fullUrl, Bundle.link)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from service.store.model import StoredResource


def mount_path(base_url: str) -> str:
    """`http://127.0.0.1:8080/fhir` -> `/fhir` (`` when the API sits at the root)."""
    return urlsplit(base_url).path.rstrip("/")


@dataclass(frozen=True, slots=True)
class Urls:
    base: str  # absolute, no trailing slash

    @classmethod
    def of(cls, base_url: str) -> Urls:
        return cls(base_url.rstrip("/"))

    def full_url(self, ref: str) -> str:
        return f"{self.base}/{ref}"

    def versioned(self, stored: StoredResource) -> str:
        return f"{self.base}/{stored.ref}/_history/{stored.version_id}"

    def query(self, path: str, params: list[tuple[str, str]]) -> str:
        encoded = urlencode(params, safe="|:/,")
        return f"{self.base}/{path}" + (f"?{encoded}" if encoded else "")
