"""`stellwerk keys|policy|costs|audit` on a real SQLite database (the same code runs on PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.store import Database, KeyStore, LedgerRecord, LedgerWriter, hash_secret
from router.tenancy.directory import Directory
from stellwerk_cli.main import main


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_create_list_revoke(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keys", "create", "--tenant", "acme", "--name", "ci", "--database", db_url)
    assert code == 0
    secret = out.split("secret (shown once, store it now): ")[1].strip()
    key_id = out.split()[2]

    code, out, _ = run(capsys, "keys", "list", "--json", "--database", db_url)
    listed = json.loads(out)
    assert [(k["id"], k["tenant"], k["revoked_at"]) for k in listed] == [(key_id, "acme", None)]
    assert secret not in out

    db = Database.open(db_url, default_path=Path("unused"))
    directory = Directory(db)
    directory.refresh()
    assert directory.lookup(secret) is not None
    assert run(capsys, "keys", "revoke", key_id, "--database", db_url)[0] == 0
    directory.refresh()
    assert directory.lookup(secret) is None
    assert hash_secret(secret) not in {k.id for k in KeyStore(db).list()}
    db.close()

    code, _, err = run(capsys, "keys", "revoke", "nosuchkey", "--database", db_url)
    assert code == 2 and "no key 'nosuchkey'" in err


def test_policy_ban_lift_and_the_audit_log(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "policy", "ban", "provider:openai", "--reason", "regulator order", "--database",
               db_url)[0] == 0
    code, out, _ = run(capsys, "policy", "bans", "--json", "--database", db_url)
    assert [(b["kind"], b["target"], b["reason"]) for b in json.loads(out)] == [
        ("provider", "openai", "regulator order")]
    code, out, _ = run(capsys, "policy", "lift", "provider:openai", "--database", db_url)
    assert "lifted" in out
    code, out, _ = run(capsys, "policy", "lift", "provider:openai", "--database", db_url)
    assert "was not banned" in out
    code, _, err = run(capsys, "policy", "ban", "openai", "--database", db_url)
    assert code == 2 and "provider:<name>" in err

    code, out, _ = run(capsys, "audit", "--json", "--database", db_url)
    actions = [(e["action"], e["details"].get("target")) for e in json.loads(out)]
    assert actions == [("ban.lift", "openai"), ("ban.add", "openai")]
    assert all(e["actor"].startswith("cli:") for e in json.loads(out))


async def test_costs_report_with_savings_against_the_frontier(db_url: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    db = Database.open(db_url, default_path=Path("unused"))
    writer = LedgerWriter(db)
    writer.start()
    now = datetime.now(UTC)
    for tenant, model, provider, cost in (("acme", "gemma-3-270m", "stellwerk-local", 0.0),
                                          ("acme", "openai/gpt-4o-mini", "openai", 0.0009),
                                          ("globex", "openai/gpt-4o-mini", "openai", 0.0009)):
        await writer.record(LedgerRecord(now, f"r-{tenant}-{model}", tenant, None, "chat", model, provider,
                                         1000, 1000, cost, "USD", 12.0, "cheapest", "balanced", 200, None))
    writer.close()
    db.close()

    code, out, _ = run(capsys, "costs", "--json", "--database", db_url)
    report = json.loads(out)
    # Baseline: gpt-6.2-astra at $8 / $40 per million: 1000 + 1000 tokens cost $0.048 per request.
    assert report["baseline"]["model"] == "openai/gpt-6.2-astra"
    acme = report["tenants"]["acme"]
    assert (acme["requests"], acme["cost"], acme["baseline_cost"]) == (2, 0.0009, 0.096)
    assert acme["savings"] == pytest.approx(0.0951) and acme["savings_pct"] == 99.1

    code, out, _ = run(capsys, "costs", "--tenant", "globex", "--baseline", "openai/gpt-4.1",
                       "--database", db_url)
    assert code == 0 and "globex: 1 requests" in out and "acme" not in out
    assert "all on openai/gpt-4.1 it would have cost 0.010000" in out
    code, _, err = run(capsys, "costs", "--baseline", "nope", "--database", db_url)
    assert code == 2 and "not in the catalogue" in err


def test_serve_refuses_an_invalid_tenants_file_before_starting_anything(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "tenants.yaml"
    bad.write_text("tenants:\n  acme:\n    policy: {deny_provider: [openai]}\n")
    done = subprocess.run([sys.executable, "-m", "stellwerk_cli.main", "serve", "--tenants", str(bad),
                           "--database", f"sqlite:///{tmp_path / 'db.sqlite'}", "--port", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "line 3: tenants.acme.policy.deny_provider: Extra inputs are not permitted" in done.stderr
    assert "Traceback" not in done.stderr
