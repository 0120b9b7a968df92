"""Check-digit and numbering-rule validators of the sensitive-data guard."""

from __future__ import annotations

import pytest

from router.guard.checksums import card_prefix_known, iban_valid, luhn_valid, ssn_valid
from router.guard.secrets import looks_random


@pytest.mark.parametrize("digits", ["4111111111111111", "5555555555554444", "378282246310005", "79927398713"])
def test_luhn_accepts_valid_numbers(digits: str) -> None:
    assert luhn_valid(digits)


@pytest.mark.parametrize("digits", ["4111111111111112", "79927398710", "1234567812345678",
                                    "41111x1111111111", ""])
def test_luhn_rejects_wrong_check_digit_and_non_digits(digits: str) -> None:
    assert not luhn_valid(digits)


@pytest.mark.parametrize(("digits", "known"), [
    ("4111111111111111", True), ("5500000000000004", True), ("2221000000000009", True),
    ("378282246310005", True), ("6011111111111117", True), ("3530111333300000", True),
    ("30569309025904", True), ("9111111111111111", False), ("411111111111111", False),
    ("5600000000000000", False), ("3782822463100051", False),
])
def test_card_prefix_and_length(digits: str, known: bool) -> None:
    assert card_prefix_known(digits) is known


@pytest.mark.parametrize("iban", ["DE89370400440532013000", "GB29NWBK60161331926819",
                                  "FR1420041010050500013M02606", "NL91ABNA0417164300",
                                  "CH9300762011623852957", "de89370400440532013000"])
def test_mod97_accepts_registry_examples(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize("iban", ["DE89370400440532013001", "DE8937040044053201300",
                                  "XX89370400440532013000", "GB29NWBK6016133192681",
                                  "DEAB370400440532013000", "DE89 3704 0044 0532 0130 00"])
def test_mod97_rejects_wrong_digit_length_country_or_spaces(iban: str) -> None:
    assert not iban_valid(iban)


@pytest.mark.parametrize(("area", "group", "serial", "valid"), [
    ("123", "45", "6789", True), ("899", "99", "9999", True), ("000", "45", "6789", False),
    ("666", "45", "6789", False), ("900", "45", "6789", False), ("123", "00", "6789", False),
    ("123", "45", "0000", False), ("078", "05", "1120", False), ("219", "09", "9999", False),
    ("12a", "45", "6789", False),
])
def test_ssn_area_group_serial_rules(area: str, group: str, serial: str, valid: bool) -> None:
    assert ssn_valid(area, group, serial) is valid


@pytest.mark.parametrize(("token", "random"), [
    ("aB3dE5fG7hJ9kL1mN2pQ4rS", True), ("your-key-here-1234567890", False), ("x" * 30 + "1", False),
    ("abcdefghijklmnopqrstuvwxyz", False), ("1234567890123456789012", False),
])
def test_looks_random(token: str, random: bool) -> None:
    assert looks_random(token) is random
