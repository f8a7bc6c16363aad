from __future__ import annotations

import httpx
import pytest
import respx

from service.workflow.delivery_policy import classify
from workers.escalation import DELIVERY_FAILED, with_business_status
from workers.transport import FHIR_HEADERS, post_message

URL = "https://gp.test/fhir/$process-message"


@respx.mock
async def test_posts_fhir_json_and_reports_success() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    async with httpx.AsyncClient() as client:
        result = await post_message(client, URL, '{"resourceType":"Bundle"}', 5)
    assert result.status_code == 200 and result.error is None
    sent = route.calls.last.request
    assert sent.headers["content-type"] == FHIR_HEADERS["Content-Type"]
    assert sent.content == b'{"resourceType":"Bundle"}'


@respx.mock
async def test_server_error_is_retryable() -> None:
    respx.post(URL).mock(return_value=httpx.Response(503, text="patient Kari Nordmann"))
    async with httpx.AsyncClient() as client:
        result = await post_message(client, URL, "{}", 5)
    assert result.error == "HTTP 503"  # never the body: it may echo patient data
    assert classify(result.status_code) == "retry"


@respx.mock
async def test_timeout_is_retryable() -> None:
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    async with httpx.AsyncClient() as client:
        result = await post_message(client, URL, "{}", 5)
    assert result.status_code is None and result.error is not None
    assert result.error.startswith("timeout")
    assert classify(result.status_code) == "retry"


@respx.mock
async def test_connection_refused_is_retryable() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as client:
        result = await post_message(client, URL, "{}", 5)
    assert result.status_code is None and classify(None) == "retry"


@pytest.mark.parametrize("code", [400, 401, 404, 410, 422, 301])
@respx.mock
async def test_client_errors_are_permanent(code: int) -> None:
    respx.post(URL).mock(return_value=httpx.Response(code))
    async with httpx.AsyncClient() as client:
        result = await post_message(client, URL, "{}", 5)
    assert classify(result.status_code) == "permanent"


def test_escalation_replaces_business_status_only() -> None:
    task = {"resourceType": "Task", "id": "t", "status": "completed",
            "businessStatus": {"text": "feedback submitted"}}
    escalated = with_business_status(task, DELIVERY_FAILED, "HTTP 422")
    assert escalated["status"] == "completed"
    assert escalated["businessStatus"] == {"coding": [DELIVERY_FAILED], "text": "HTTP 422"}
    assert task["businessStatus"] == {"text": "feedback submitted"}
