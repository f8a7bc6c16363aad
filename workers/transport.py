"""The one outbound HTTP call: POST a FHIR message with an injected httpx.AsyncClient
(STYLE §11; tests pass respx or a MockTransport). Never raises for the network: the
result says what happened. Errors carry no body text (a receiver may echo patient data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import httpx

__all__ = ["FHIR_HEADERS", "SendResult", "post_message"]

FHIR_HEADERS: Final = {
    "Content-Type": "application/fhir+json",
    "Accept": "application/fhir+json",
}


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None  # None: no response (timeout, refused, reset)
    error: str | None
    duration_ms: int


async def post_message(
    client: httpx.AsyncClient, url: str, body: str, timeout_seconds: float
) -> SendResult:
    started = time.monotonic()
    try:
        response = await client.post(
            url, content=body.encode(), headers=FHIR_HEADERS, timeout=timeout_seconds
        )
    except httpx.TimeoutException as exc:
        return SendResult(None, f"timeout ({type(exc).__name__})", _ms(started))
    except httpx.TransportError as exc:
        return SendResult(None, f"transport error ({type(exc).__name__})", _ms(started))
    code = response.status_code
    return SendResult(code, None if 200 <= code < 300 else f"HTTP {code}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
