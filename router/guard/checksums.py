"""Check digits and number-plan rules that turn a digit-shaped match into a finding.

Each validator is pure and cheap (no regex, no allocation beyond the digits), so the detector can run
them on every candidate. They are what keeps precision high: a random 16-digit order number passes the
Luhn check one time in ten and a known card prefix far less often; a random IBAN-shaped string passes
mod-97 one time in 97 after its country's length already matched.
"""

from __future__ import annotations

from typing import Final

__all__ = ["IBAN_LENGTHS", "card_prefix_known", "iban_valid", "luhn_valid", "ssn_valid"]

# Registered IBAN lengths by country (SWIFT IBAN registry), the countries most seen in Europe, the
# Middle East and the Americas. A country missing here is simply not detected (a recall gap, not an error).
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

# SSA advertising numbers, printed on sample cards and never issued to anyone.
_SSN_NEVER_ISSUED: Final = frozenset({"078051120", "219099999"})


def luhn_valid(digits: str) -> bool:
    """True when the all-digit string passes the Luhn (mod-10) check used by payment cards."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_prefix_known(digits: str) -> bool:
    """True when the number's issuer prefix (IIN) and length belong to a card network that exists.

    Visa, Mastercard (51-55, 2221-2720), American Express, Discover, Diners Club, JCB, UnionPay, Maestro.
    """
    length = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return length in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16
    if two in (34, 37):
        return length == 15
    if digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649:
        return 16 <= length <= 19
    if 300 <= int(digits[:3]) <= 305 or two in (36, 38, 39):
        return 14 <= length <= 19
    if 3528 <= four <= 3589:
        return 16 <= length <= 19
    if two == 62:
        return 16 <= length <= 19
    return four in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763) and 12 <= length <= 19


def iban_valid(compact: str) -> bool:
    """True for an IBAN without spaces whose country, length and ISO 7064 mod-97 check all hold."""
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    remainder = 0
    for char in rearranged:
        # Letters count as two digits (A=10 ... Z=35); fold the remainder as we go to stay in small ints.
        value = int(char, 36)
        remainder = (remainder * (100 if value > 9 else 10) + value) % 97
    return remainder == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """True when a US SSN's parts follow SSA rules: area not 000/666/9xx, group not 00, serial not 0000.

    The two advertising numbers the SSA never issued (078-05-1120, 219-09-9999) are rejected too.
    """
    if not (len(area) == 3 and len(group) == 2 and len(serial) == 4 and (area + group + serial).isdigit()):
        return False
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_NEVER_ISSUED
