"""Words just before a number that say what it is: "Tel." makes it a phone, "Order #" makes it not.

Looked up only for ambiguous shapes (national phone numbers, SSN-shaped triples), in a short window
before the candidate, so it costs one small regex search per candidate.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["has_negative_cue", "has_phone_cue", "has_ssn_cue"]

_WINDOW: Final = 28

_PHONE_CUE: Final = re.compile(
    r"(?i)(?:\b(?:tel|tél|phone|telephone|téléphone|mobile|mob|cell|call|fax|whatsapp|sms|telefon|"
    r"telefono|teléfono|handy|rufnummer|mobil|portable|cellulare|móvil|ring|reach me|contact)\b"
    r"|電話|电话|手机|携帯|연락처)"
)
_NEGATIVE_CUE: Final = re.compile(
    r"(?i)(?:\b(?:order|invoice|inv|ref|reference|ticket|case|sku|part|serial|tracking|isbn|issn|"
    r"account|acct|konto|rechnung|bestellung|bestellnr|auftrag|commande|facture|id|no|nr|item|batch|"
    r"lot|build|version|model|product|artikel|patent|doi|pid|port|txn|transaction|awb|ean|upc|"
    r"bestellnummer|rechnungsnummer|kundennummer|auftragsnummer|artikelnummer|заказ|счёт|счет)\b"
    r"|#|№|n°|nº|番号)\W{0,4}$"
)
_SSN_CUE: Final = re.compile(r"(?i)\b(?:ssn|social security|soc\.? sec|sozialversicherung|tin|itin)\b")


def _before(text: str, start: int) -> str:
    return text[max(0, start - _WINDOW):start]


def has_phone_cue(text: str, start: int) -> bool:
    """True when a phone word ("tel", "call", "Handy", "电话", ...) precedes position `start`."""
    return _PHONE_CUE.search(_before(text, start)) is not None


def has_negative_cue(text: str, start: int) -> bool:
    """True when the text right before `start` labels an identifier ("Order #", "Invoice no.", "SKU:")."""
    return _NEGATIVE_CUE.search(_before(text, start)) is not None


def has_ssn_cue(text: str, start: int) -> bool:
    """True when "SSN", "social security" or similar precedes position `start`."""
    return _SSN_CUE.search(_before(text, start)) is not None
