"""The sensitive-data detector's contract: spans, kinds, overlaps, redaction, and nothing logged."""

from __future__ import annotations

import dataclasses
import itertools
import logging

import pytest

from router.guard import KINDS, Finding, SensitiveDataDetector, redact

DETECTOR = SensitiveDataDetector()
MIXED = ("Mail anna.mueller@example.de or call +49 30 12345678; IBAN DE89 3704 0044 0532 0130 00, "
         "card 4111-1111-1111-1111, SSN 123-45-6789, key AKIAIOSFODNN7EXAMPLE.")


def test_mixed_text_finds_each_kind_once_sorted_and_non_overlapping() -> None:
    findings = DETECTOR.scan(MIXED)
    assert [f.kind for f in findings] == ["email", "phone", "iban", "credit_card", "us_ssn", "api_key"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert MIXED[findings[2].start:findings[2].end] == "DE89 3704 0044 0532 0130 00"


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("Ruf an: 0151 23456789 2 mal", "phone", "0151 23456789"),
    ("card 4111 1111 1111 1111 2027", "credit_card", "4111 1111 1111 1111"),
    ("IBAN DE89370400440532013000 BIC COBADEFFXXX", "iban", "DE89370400440532013000"),
    ("Authorization: Bearer abcDEF123456ghiJKL789mno", "api_key", "abcDEF123456ghiJKL789mno"),
    ("x -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- y", "private_key",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"),
])
def test_spans_cover_exactly_the_value(text: str, kind: str, value: str) -> None:
    (finding,) = DETECTOR.scan(text)
    assert (finding.kind, text[finding.start:finding.end]) == (kind, value)


@pytest.mark.parametrize("text", [
    "Deployed 2024-01-15 10:30, build 05/12/2023 14:00", "ISBN 0-306-40615-2", "Order #0151 2345678",
    "sk-learn and task-management-system", "icon@2x.png", "Test 4111 1111 1111 1112", "v1.2.3 on 10.0.0.1",
    "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", "000-12-3456",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxx1",
])
def test_hard_negatives_find_nothing(text: str) -> None:
    assert DETECTOR.scan(text) == []


def test_private_key_wins_over_tokens_inside_it() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nsk-abcDEF123456ghiJKL789mnoPQR\n-----END PRIVATE KEY-----"
    assert [f.kind for f in DETECTOR.scan(text)] == ["private_key"]


def test_kinds_filter_limits_the_scan() -> None:
    detector = SensitiveDataDetector(kinds={"email", "iban"})
    assert detector.kinds == ("iban", "email")
    assert {f.kind for f in detector.scan(MIXED)} == {"email", "iban"}


def test_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="passport") as error:
        SensitiveDataDetector(kinds=["email", "passport"])
    assert "credit_card" in str(error.value)


def test_kinds_in_counts_across_texts() -> None:
    counts = DETECTOR.kinds_in([MIXED, "write to max@example.org", "nothing here"])
    assert counts == {"email": 2, "phone": 1, "iban": 1, "credit_card": 1, "us_ssn": 1, "api_key": 1}


def test_redact_replaces_each_value_with_its_kind() -> None:
    text = "mail max@example.org, call (212) 555-0142."
    assert redact(text, DETECTOR.scan(text)) == "mail [EMAIL], call [PHONE]."


def test_findings_and_counts_carry_no_text() -> None:
    assert [field.name for field in dataclasses.fields(Finding)] == ["kind", "start", "end"]
    findings = DETECTOR.scan(MIXED)
    rendered = repr(findings) + repr(DETECTOR.kinds_in([MIXED]))
    for secret in ("anna.mueller", "12345678", "0532", "4111", "6789", "AKIA"):
        assert secret not in rendered
    assert set(DETECTOR.kinds_in([MIXED])) <= set(KINDS)


def test_scanning_never_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    detector = SensitiveDataDetector()
    detector.scan(MIXED)
    detector.kinds_in([MIXED])
    with pytest.raises(ValueError):
        SensitiveDataDetector(kinds=["nope"])
    assert caplog.records == []
