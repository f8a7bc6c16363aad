from __future__ import annotations

from service.store.claims import is_identity_claim


def test_identity_claims_name_a_kind_before_the_query() -> None:
    assert is_identity_claim("referral?requester=Organization/a&identifier=s|v")


def test_conditional_claims_are_queries_even_with_a_question_mark_in_a_value() -> None:
    assert not is_identity_claim("identifier=s|v?x")
    assert not is_identity_claim("name:exact=a?b&identifier=s|v")
