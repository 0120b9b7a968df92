# ruff: noqa: E501, RUF001  (a data file: long literal sample lines and a full-width colon on purpose)
"""Writes labeled.jsonl: fake but real-looking sensitive values in sentences, and hard negatives.

Run from the repository root: `.venv/bin/python tests/data/pii/make_labeled.py`. Deterministic (fixed
seed). Every value is made up: card numbers are generated with test-card prefixes and a computed Luhn
digit, IBANs with computed mod-97 check digits, phones from fictional ranges (555-01xx, Ofcom's drama
ranges, ...), emails on example/made-up domains. A positive is written inline as ⟦kind|value⟧; the
markers are removed and the value's span recorded. Lines without markers are negatives.
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

RNG = random.Random(20240615)
OUT = Path(__file__).with_name("labeled.jsonl")
MARK = re.compile(r"⟦([a-z_]+)\|(.*?)⟧", re.S)


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(RNG.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
                    for i, d in enumerate(int(c) for c in reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError


def luhn_broken(prefix: str, length: int) -> str:
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def grouped(digits: str, sep: str = " ", sizes: tuple[int, ...] = (4, 4, 4, 4, 4)) -> str:
    parts, i = [], 0
    for size in sizes:
        if i >= len(digits):
            break
        parts.append(digits[i:i + size])
        i += size
    return sep.join(parts)


def iban(country: str, bban: str, valid: bool = True) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + 7) % 97 + 2
    return f"{country}{check:02d}{bban}"


def rand_digits(n: int) -> str:
    return "".join(RNG.choice(string.digits) for _ in range(n))


def rand_token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        token = "".join(RNG.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
            return token


def b64url(raw: str) -> str:
    import base64
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cards() -> list[str]:
    specs = [("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("55", 16, (4, 4, 4, 4)),
             ("2221", 16, (4, 4, 4, 4)), ("37", 15, (4, 6, 5)), ("34", 15, (4, 6, 5)),
             ("6011", 16, (4, 4, 4, 4)), ("3530", 16, (4, 4, 4, 4)), ("36", 14, (4, 6, 4)),
             ("62", 16, (4, 4, 4, 4)), ("4", 19, (4, 4, 4, 4, 3)), ("65", 16, (4, 4, 4, 4))]
    out = []
    for prefix, length, sizes in specs:
        digits = luhn_complete(prefix, length)
        for sep in (" ", "-", ""):
            out.append(grouped(digits, sep, sizes) if sep else digits)
    return out


def ibans() -> list[str]:
    made = [iban("DE", rand_digits(18)), iban("GB", "NWBK" + rand_digits(14)), iban("FR", rand_digits(23)),
            iban("NL", "ABNA" + rand_digits(10)), iban("ES", rand_digits(20)), iban("IT", "X" + rand_digits(22)),
            iban("CH", rand_digits(17)), iban("AT", rand_digits(16)), iban("BE", rand_digits(12)),
            iban("PL", rand_digits(24)), iban("SE", rand_digits(20)), iban("NO", rand_digits(11)),
            iban("PT", rand_digits(21)), iban("IE", "AIBK" + rand_digits(14)), iban("DK", rand_digits(14)),
            iban("LU", rand_digits(16))]
    spaced = [" ".join(v[i:i + 4] for i in range(0, len(v), 4)) for v in made]
    return made + spaced


FIRST = ["anna", "max", "jean", "maria", "li", "yuki", "olga", "ahmed", "sofia", "lukas", "chloé", "jürgen",
         "priya", "mateo", "emma", "noah", "fatima", "kenji", "ines", "pavel"]
LAST = ["mueller", "schmidt", "dupont", "rossi", "wang", "tanaka", "ivanova", "hassan", "garcia", "novak",
        "martin", "bauer", "kowalski", "silva", "smith", "larsen"]
DOMAINS = ["example.com", "example.org", "mail.example.de", "beispiel-firma.de", "societe-exemple.fr",
           "acme-corp.co.uk", "contoso.example", "northwind.io", "uni-beispiel.ac.at", "empresa.example.es"]


def emails() -> list[str]:
    out = []
    for i in range(30):
        first, last, d = RNG.choice(FIRST), RNG.choice(LAST), RNG.choice(DOMAINS)
        style = i % 4
        local = [f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{RNG.randint(1, 99)}", f"{first}+newsletter"][style]
        out.append(f"{local}@{d}")
    return out


PHONES = [
    "(212) 555-0142", "212-555-0187", "+1 415 555 0133", "1-800-555-0199", "+1-646-555-0175", "415.555.0122",
    "+44 20 7946 0958", "020 7946 0321", "07700 900123", "+44 7700 900456", "0161 496 0000", "+44 161 496 0123",
    "+49 30 12345678", "030 12345678", "0151 23456789", "+49 (0)89 1234567", "030/1234567", "0171-1234567",
    "+49 151 2345 6789", "0049 40 3456789", "+33 1 23 45 67 89", "06 12 34 56 78", "01.23.45.67.89",
    "+33 6 12 34 56 78", "+41 44 668 18 00", "044 668 18 00", "06-12345678", "+31 20 123 4567",
    "+34 612 345 678", "+39 06 1234 5678", "03-1234-5678", "+81 90 1234 5678", "090-1234-5678",
    "+91 98765 43210", "+55 11 91234-5678", "+86 138 0013 8000", "+48 22 123 45 67", "+46 8 123 456 78",
    "+43 1 5877 123", "+32 2 123 45 67", "+353 1 234 5678", "+7 495 123-45-67", "+61 2 9876 5432",
]
PHONE_FRAMES = [
    "Call me at ⟦phone|{v}⟧ after 6pm.", "Meine Nummer: ⟦phone|{v}⟧, ruf gerne an.",
    "Vous pouvez me joindre au ⟦phone|{v}⟧.", "Contact: ⟦phone|{v}⟧ (office)", "my number is ⟦phone|{v}⟧",
    "Rückruf bitte unter ⟦phone|{v}⟧ bis Freitag.", "电话：⟦phone|{v}⟧", "WhatsApp ⟦phone|{v}⟧ works too",
    "Llámame al ⟦phone|{v}⟧ mañana.", "Reach the on-call engineer at ⟦phone|{v}⟧ if the pager fails.",
]

POSITIVE_LINES = [
    "Tel. ⟦phone|01511234567⟧",
    "call ⟦phone|555-0142⟧ and ask for Dana",
    "Telefon ⟦phone|089123456789⟧ (Zentrale)",
    "My SSN is ⟦us_ssn|123-45-6789⟧, please update the form.",
    "SSN: ⟦us_ssn|536 22 1234⟧",
    "social security number ⟦us_ssn|401221234⟧ on file",
    "Employee record: ⟦us_ssn|219-45-9876⟧, hired 2019.",
    "Applicant SSN ⟦us_ssn|078-12-3344⟧ verified.",
    "W-2 shows ⟦us_ssn|512-88-1020⟧ for the spouse.",
    "Here is my key: ⟦private_key|-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1kq8Z0hB3m9vQ2y"
    "T5cW0p8S\nq3bH7nR2e6Lk9sVt1Xw4Yz0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab\n-----END RSA PRIVATE "
    "KEY-----⟧ can you check why ssh fails?",
    "⟦private_key|-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
    "\nAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDx9fakefakefakeQmVyZ2VuA\n-----END OPENSSH PRIVATE KEY-----⟧",
    "pasted from my laptop:\n⟦private_key|-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    "\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu⟧",
    "gpg export: ⟦private_key|-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVbZ3cBCADfakeKeyMaterial0123"
    "\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----⟧ done",
    "Schlüssel: ⟦private_key|-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeEcKeyMaterialForTests0123456789abc"
    "\n-----END EC PRIVATE KEY-----⟧",
]


def api_keys() -> list[str]:
    jwt = ".".join([b64url('{"alg":"HS256","typ":"JWT"}'), b64url('{"sub":"1234567890","name":"Test User"}'),
                    rand_token(43, string.ascii_letters + string.digits + "-_")])
    return [
        "sk-" + rand_token(48), "sk-proj-" + rand_token(120, string.ascii_letters + string.digits + "_-"),
        "sk-ant-api03-" + rand_token(93, string.ascii_letters + string.digits + "_-") + "AA",
        "AKIA" + rand_token(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "ASIA" + rand_token(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "ghp_" + rand_token(36), "github_pat_11" + rand_token(20) + "_" + rand_token(59),
        "xoxb-" + rand_digits(12) + "-" + rand_digits(13) + "-" + rand_token(24),
        "xoxp-" + rand_digits(11) + "-" + rand_digits(12) + "-" + rand_token(32),
        "AIza" + rand_token(35, string.ascii_letters + string.digits + "_-"),
        "sk_live_" + rand_token(24), "rk_live_" + rand_token(30), jwt, "hf_" + rand_token(34),
        "gho_" + rand_token(36), "sk-svcacct-" + rand_token(60, string.ascii_letters + string.digits + "_-"),
    ]


KEY_FRAMES = [
    "export OPENAI_API_KEY=⟦api_key|{v}⟧", "Use this key: ⟦api_key|{v}⟧ for the staging env.",
    "curl -H 'x-api-key: ⟦api_key|{v}⟧' https://api.example.com/v1", "config = {{\"key\": \"⟦api_key|{v}⟧\"}}",
    "Mein Schlüssel lautet ⟦api_key|{v}⟧, bitte nicht weitergeben.",
]
ASSIGNED = [
    "Authorization: Bearer ⟦api_key|{t}⟧", "aws_secret_access_key = ⟦api_key|{s}⟧",
    'client_secret: "⟦api_key|{t}⟧"', "api_key=⟦api_key|{t}⟧ in .env", "password: ⟦api_key|{t}⟧",
    "Slack hook ⟦api_key|https://hooks.slack.com/services/T0FAKE123/B0FAKE456/{w}⟧ posts alerts.",
]

NEGATIVES = [
    "The request id was 550e8400-e29b-41d4-a716-446655440000 and it failed.",
    "Fixed in commit 3f2a9c1e5b7d8a0f4c6e2b1d9a8f7e6c5b4a3d2e, see also 7d3e21a.",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2 are both in the catalogue.",
    "Deployed at 2024-01-15T10:30:00Z, rolled back 15.01.2024 14:30.",
    "Server 192.168.1.20 talks to 10.0.0.1 on port 8443.",
    "Upgrade from v2.10.3 to 3.11.4; python 3.11.9 is required.",
    "Order #4532-1188-9001-2234 shipped yesterday.", "Invoice no. 2024-000123 is overdue.",
    "Total: €1.299,00 incl. VAT, or $12,345.67 in USD.", "3.14159 * 2 = 6.28318, and 2^31 - 1 = 2147483647.",
    "Set MASK = 0x7FFFFFFF and MAGIC = 0xDEADBEEF before the loop.",
    'The payload is aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSBrZXk= encoded.',
    "Background: url(data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
    "SKU 030-1234-567 is out of stock.", "Part no. 0151 234567 fits the 2019 model.",
    "Card ending in **** **** **** 1111 was charged.", "Test with 4111 1111 1111 1112 (bad check digit).",
    "IBAN DE89 3704 0044 0532 0130 01 has a wrong checksum.", "000-12-3456 and 666-12-3456 are not valid SSNs.",
    "Area 912-34-5678 is not issued.", "We use sk-learn, er, scikit-learn for the model.",
    "Our task-management-system-for-small-teams is open source.", "He was the bearer of bad news again.",
    "Replace sk-your-key-here with your own key.", "OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfakePublicKeyMaterial\n-----END PUBLIC KEY-----",
    "Use icon@2x.png for retina and logo@3x.webp for the hero.", "npm i @types/node@20.11.5 --save-dev",
    "git clone git@github.com:stellwerk/router.git", "Annotate with @dataclass(frozen=True) and @property.",
    "Coordinates 48.8566, 2.3522 mark Paris.", "The match ended 3-2 after 90+4 minutes.",
    "Send it to 10115 Berlin, Germany.", "The iPhone 15 Pro costs 1199 dollars.", "pip install 'numpy>=1.26,<2.0'",
    "Timeout is 30000 ms; retry 3 times with 2.5x backoff.", "Population: 8 336 817 (2022 estimate).",
    "Matrix [[1, 2, 3], [4, 5, 6]] has rank 2.", "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Tracking number 1Z999AA10123456784 is in transit.", "Flight LH 2024 departs 06:45 from gate B12.",
    "Model number 0800-12 is discontinued.", "Use port 5432 for PostgreSQL and 6379 for Redis.",
    "The ratio was 1:250000 on the 1985 map.", "Ticket TCK-2024-001234 was closed.",
    "DOI 10.1038/nphys1170 describes the experiment.", "Meeting room 3.14, building 7, floor 2.",
    "Bestellnummer 0049 3012 3456 78 bitte angeben.", "Rechnung Nr. 030 1234 5678 vom 12.03.2024.",
    "Date range 01/02/2024 - 05/12/2023 14:00 is invalid.", "Version 2024.1.15.3 was released.",
    "Vector (0.12, 0.98, 0.33) normalised.", "The answer is 42, not 4 242 424 242.",
    "AKIA is a prefix, AKIAEXAMPLE is too short to be a key.", "Call stack depth 1024, heap 4096 KB.",
    "Base64 of the file: TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuIFRoaXMgaXMgbm90IGEgc2VjcmV0Lg==",
    "hash = 0x9e3779b97f4a7c15 mixes well", "Der Preis beträgt 1.234,56 € zzgl. 19 % MwSt.",
    "Le colis 6A12345678901 arrive le 03/04/2024.", "注文番号 2024-0315-7788 を確認してください。",
    "Заказ № 0012-3456-7890 оформлен.", "SELECT * FROM users WHERE id = 123456789 LIMIT 10;",
    "eyJ is how base64 JSON starts, e.g. eyJhbGci alone is not a token.",
    "Temperatures ranged from -12.5 to 38.7 degrees.", "Kontonummer bitte nicht angeben, nur die Rechnung 4711.",
    "Phone model SM-G991B/DS runs Android 14.", "The dataset has 1 000 000 rows and 384 columns.",
    "Token budget: max_tokens=4096, temperature=0.7", "We sold 12,500 units in Q3 2023 (+18%).",
    "Use semver ^1.2.3 || ~2.0.0 in package.json.", "GUID {3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    "Docker image sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1",
    "Lot 2023-11-0042 passed QA.", "Press 1 for sales, 2 for support, 0 for the operator.",
    "Die PLZ 80331 gehört zu München.", "Speed: 1.5e-3 s per step, 3.2e+04 steps.",
]
# Written after the detector was tuned and left as scored (no tuning afterwards), to keep the numbers honest.
UNTUNED = [
    "Ring ⟦phone|0207 946 0958⟧ before noon.", "Fax: ⟦phone|+49-30-1234567⟧", "<a href=\"tel:⟦phone|+14155550123⟧\">",
    "Email: ⟦email|JOHN.DOE@EXAMPLE.COM⟧", "mailto:⟦email|kontakt@beispiel.de⟧", "IBAN ⟦iban|GB29NWBK60161331926819⟧",
    "ssn ⟦us_ssn|123456789⟧", "Authorization: Basic ⟦api_key|dXNlcjpwYXNzd29yZDEyMw==⟧",
    "DATABASE_URL=postgres://admin:⟦api_key|S3cr3tPassw0rd⟧@db.example.com:5432/app",
    "Bitte an ⟦email|m.schulz@stadtwerke-beispiel.de⟧ und ⟦phone|0341 1234-567⟧ melden.",
    "Release 2.0.1-rc.3 built 20240115.1", "Call 911 or 112 in an emergency.", "Account 12-345-6789 is closed.",
    "Reach 1,000,000 users by 2025.", "Shifts at 0800 1100 2200 every day.", "Room 020 7946, desk 12.",
    "Use the test card 4242 4242 4242 4242 only in staging.", "Checksum 0x1F2E3D4C, CRC 2882343476.",
    "Frame 000123 to 004567 of 009999.", "Coupon SAVE-2024-0099 expires 31.12.2024.",
]
NEG_FRAMES = [
    "Run {u} again tomorrow.", "The build {u} is green.", "Reference {u} in the changelog.",
]


def write() -> None:
    lines: list[str] = []
    for value in cards():
        lines.append(RNG.choice(["Please charge ⟦credit_card|{v}⟧ for the renewal.", "Karte: ⟦credit_card|{v}⟧, gültig bis 12/27",
                                 "My card number is ⟦credit_card|{v}⟧ exp 08/29 cvv 123", "carte bancaire ⟦credit_card|{v}⟧"]).format(v=value))
    for value in ibans():
        lines.append(RNG.choice(["Bitte überweisen an ⟦iban|{v}⟧ (Verwendungszweck: Miete).", "IBAN: ⟦iban|{v}⟧",
                                 "Wire the refund to ⟦iban|{v}⟧, BIC on request.", "Mon IBAN est ⟦iban|{v}⟧."]).format(v=value))
    for value in emails():
        lines.append(RNG.choice(["Write to ⟦email|{v}⟧ for access.", "Kontakt: ⟦email|{v}⟧",
                                 "cc ⟦email|{v}⟧ and me", "请发邮件到⟦email|{v}⟧获取报告", "E-mail: <⟦email|{v}⟧>"]).format(v=value))
    for value in PHONES:
        lines.append(RNG.choice(PHONE_FRAMES).format(v=value))
    for value in api_keys():
        lines.append(RNG.choice(KEY_FRAMES).format(v=value))
    for frame in ASSIGNED:
        for _ in range(2):
            lines.append(frame.format(t=rand_token(32, string.ascii_letters + string.digits + "-_."),
                                      s=rand_token(40, string.ascii_letters + string.digits + "/+"), w=rand_token(24)))
    lines.extend(POSITIVE_LINES)
    for _ in range(6):  # mixed lines with several kinds at once
        lines.append(f"Name: Max Mustermann, ⟦email|{RNG.choice(emails())}⟧, ⟦phone|{RNG.choice(PHONES)}⟧, "
                     f"IBAN ⟦iban|{RNG.choice(ibans())}⟧, order #{rand_digits(8)} from 2024-03-{RNG.randint(10, 28)}")
    lines.extend(NEGATIVES)
    lines.extend(UNTUNED)
    for _ in range(12):
        u = RNG.choice([f"{rand_token(8, '0123456789abcdef')}-{rand_token(4, '0123456789abcdef')}-4{rand_token(3, '0123456789abcdef')}"
                        f"-a{rand_token(3, '0123456789abcdef')}-{rand_token(12, '0123456789abcdef')}",
                        rand_token(40, "0123456789abcdef"), f"v{RNG.randint(1, 9)}.{RNG.randint(0, 30)}.{RNG.randint(0, 99)}",
                        f"2024-{RNG.randint(1, 12):02d}-{RNG.randint(1, 28):02d} {RNG.randint(0, 23):02d}:{RNG.randint(0, 59):02d}"])
        lines.append(RNG.choice(NEG_FRAMES).format(u=u))
    for _ in range(8):
        lines.append(f"Order {rand_digits(4)}-{rand_digits(4)}-{rand_digits(4)}-{rand_digits(4)} confirmed, "
                     f"card {luhn_broken('4', 16)} declined.")
    with OUT.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(_unmark(line), ensure_ascii=False) + "\n")


def _unmark(marked: str) -> dict[str, object]:
    text, spans, position = "", [], 0
    for match in MARK.finditer(marked):
        text += marked[position:match.start()]
        spans.append({"kind": match.group(1), "start": len(text), "end": len(text) + len(match.group(2))})
        text += match.group(2)
        position = match.end()
    return {"text": text + marked[position:], "spans": spans}


if __name__ == "__main__":
    write()
