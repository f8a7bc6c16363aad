"""QuestionnaireResponses the clinic sends instead of PROM Observations: scored into
Observations (`profiles.questionnaires.score_questionnaire_response`) that are created in
the same `create_many` as the response, each `derivedFrom` it. A response to one of
chiroref's PROM Questionnaires that cannot be scored is 422 with the scorer's issues (nothing
stored); a response to any other Questionnaire is stored as it is."""

from __future__ import annotations

from datetime import datetime

from profiles import canonical
from profiles.questionnaires import UnscorableResponse, score_questionnaire_response
from service.errors import Unprocessable
from service.ids import new_id
from service.store.model import NewResource

__all__ = ["scored"]


def is_prom_response(item: NewResource) -> bool:
    wanted = str(item.content.get("questionnaire") or "")
    return item.resource_type == "QuestionnaireResponse" and wanted.startswith(canonical.BASE)


def scored(item: NewResource, now: datetime) -> list[NewResource]:
    """Pure: `[response, *observations]` (the Observations share the response's orgs)."""
    if not is_prom_response(item):
        return [item]
    try:
        observations = score_questionnaire_response(item.content, now)
    except UnscorableResponse as exc:
        raise Unprocessable(*exc.issues) from exc
    made = [NewResource(o | {"id": new_id()}, item.orgs) for o in observations]
    return [item, *made]
