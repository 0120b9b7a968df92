"""`stellwerk keys|policy|costs|audit`: keys, bans, the audit log and costs, straight on the database.

These commands work on the router's database (`--database URL`, else $STELLWERK_DATABASE_URL, else the
default SQLite file), so they work whether or not a router is running; running routers pick changes up
within a second. Every change is audited with the operator's user name.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.store import Database

__all__ = ["DEFAULT_DATABASE_PATH", "add_parser", "database_url"]

DEFAULT_DATABASE_PATH = Path.home() / ".local" / "share" / "stellwerk" / "stellwerk.db"


def database_url(arg: str | None) -> str | None:
    """`--database`, else $STELLWERK_DATABASE_URL, else None (the default SQLite file)."""
    return arg or os.environ.get("STELLWERK_DATABASE_URL") or None


def _database_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=None, metavar="URL",
                        help="sqlite:///path or postgresql://user@host/db (default: $STELLWERK_DATABASE_URL, "
                             f"else {DEFAULT_DATABASE_PATH})")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke tenants' API keys",
                          description="API keys map to tenants; the database keeps only their hash.")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key (its secret is printed once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'ci' or 'alice laptop'")
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", default=None)
    listing.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", help="revoke a key (routers refuse it within a second)")
    revoke.add_argument("key_id")
    for p in (create, listing, revoke):
        _database_arg(p)
    keys.set_defaults(handler=_keys)

    policy = sub.add_parser("policy", help="ban or unban a provider or model on every router",
                            description="A ban takes effect on every router within a second, without a "
                                        "restart; streams already running finish.")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    ban = policy_sub.add_parser("ban", help="ban provider:<name> or model:<id>")
    ban.add_argument("target", help="provider:<name> or model:<id>")
    ban.add_argument("--reason", default="", help="why (shown in refusals and the audit log)")
    lift = policy_sub.add_parser("lift", help="lift a ban")
    lift.add_argument("target", help="provider:<name> or model:<id>")
    bans = policy_sub.add_parser("bans", help="list the bans in force")
    bans.add_argument("--json", action="store_true")
    for p in (ban, lift, bans):
        _database_arg(p)
    policy.set_defaults(handler=_policy)

    costs = sub.add_parser("costs", help="cost per tenant, model and day, and savings vs the frontier",
                           description="What the ledger says was spent, and what the same tokens would have "
                                       "cost on one frontier model (the most expensive remote chat model of "
                                       "the catalogue, or --baseline).")
    costs.add_argument("--tenant", default=None)
    costs.add_argument("--since", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    costs.add_argument("--until", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    costs.add_argument("--baseline", default=None, metavar="MODEL", help="catalogue id of the baseline model")
    costs.add_argument("--json", action="store_true")
    _database_arg(costs)
    costs.set_defaults(handler=_costs)

    audit = sub.add_parser("audit", help="the append-only audit log of key and ban changes")
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--json", action="store_true")
    _database_arg(audit)
    audit.set_defaults(handler=_audit)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _open(args: argparse.Namespace) -> Database:
    from router.store import Database

    return Database.open(database_url(args.database), default_path=DEFAULT_DATABASE_PATH)


def _keys(args: argparse.Namespace) -> int:
    from router.store import KeyStore

    db = _open(args)
    try:
        store = KeyStore(db)
        if args.keys_command == "create":
            key, secret = store.create(args.tenant, args.name, actor=_actor())
            print(f"created key {key.id} for tenant {key.tenant} ({key.name})")
            print(f"secret (shown once, store it now): {secret}")
        elif args.keys_command == "list":
            keys = store.list(args.tenant)
            if args.json:
                print(json.dumps([{"id": k.id, "tenant": k.tenant, "name": k.name,
                                   "created_at": k.created_at.isoformat(),
                                   "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                                  for k in keys], indent=2))
            for k in [] if args.json else keys:
                state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
                print(f"{k.id}  {k.tenant:20} {k.name:24} created {k.created_at:%Y-%m-%d %H:%M}  {state}")
        else:
            try:
                key = store.revoke(args.key_id, actor=_actor())
            except KeyError:
                print(f"stellwerk: no key {args.key_id!r}", file=sys.stderr)
                return 2
            print(f"revoked key {key.id} of tenant {key.tenant}")
    finally:
        db.close()
    return 0


def _policy(args: argparse.Namespace) -> int:
    from router.store import BanStore
    from router.tenancy.directory import parse_ban_target

    db = _open(args)
    try:
        store = BanStore(db)
        if args.policy_command == "bans":
            bans = store.active()
            if args.json:
                print(json.dumps([{"kind": b.kind, "target": b.target, "reason": b.reason, "actor": b.actor,
                                   "created_at": b.created_at.isoformat()} for b in bans], indent=2))
            elif not bans:
                print("no bans in force")
            for b in [] if args.json else bans:
                print(f"{b.kind}:{b.target}  since {b.created_at:%Y-%m-%d %H:%M:%S} by {b.actor}"
                      + (f"  ({b.reason})" if b.reason else ""))
            return 0
        try:
            kind, target = parse_ban_target(args.target)
        except ValueError as exc:
            print(f"stellwerk: {exc}", file=sys.stderr)
            return 2
        if args.policy_command == "ban":
            store.ban(kind, target, reason=args.reason, actor=_actor())
            print(f"banned {kind} {target!r}: routers refuse it within a second")
        elif store.lift(kind, target, actor=_actor()):
            print(f"lifted the ban on {kind} {target!r}")
        else:
            print(f"{kind} {target!r} was not banned")
    finally:
        db.close()
    return 0


def _costs(args: argparse.Namespace) -> int:
    from models.catalogue import load_catalogue
    from router.store import CostQueries
    from router.tenancy.costs import cost_report, default_baseline

    catalogue = load_catalogue(args.catalogue)
    if args.baseline is None:
        baseline = default_baseline(catalogue.models)
    else:
        baseline = catalogue.get(args.baseline)
        if baseline is None:
            print(f"stellwerk: baseline model {args.baseline!r} is not in the catalogue", file=sys.stderr)
            return 2
    db = _open(args)
    try:
        report = cost_report(CostQueries(db), baseline=baseline, tenant=args.tenant, since=args.since,
                             until=args.until)
    finally:
        db.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_costs(report)
    return 0


def _print_costs(report: dict[str, Any]) -> None:
    if not report["rows"]:
        print("no requests in the ledger for this selection")
        return
    print(f"{'day':10}  {'tenant':16} {'model':32} {'requests':>8} {'tokens in':>10} {'cached':>10} "
          f"{'tokens out':>10} {'reasoning':>10} {'cost':>12}")
    for r in report["rows"]:
        print(f"{r['day']:10}  {r['tenant']:16} {r['model']:32} {r['requests']:>8} {r['prompt_tokens']:>10} "
              f"{r['cached_tokens']:>10} {r['completion_tokens']:>10} {r['reasoning_tokens']:>10} "
              f"{r['cost']:>12.6f} {r['currency']}")
    base = report["baseline"]
    print()
    for tenant, t in sorted(report["tenants"].items()):
        line = f"{tenant}: {t['requests']} requests, cost {t['cost']:.6f}"
        if base is not None:
            pct = "" if t["savings_pct"] is None else f" ({t['savings_pct']:.1f} %)"
            line += (f"; all on {base['model']} it would have cost {t['baseline_cost']:.6f}, "
                     f"saved {t['savings']:.6f}{pct}")
        print(line)


def _audit(args: argparse.Namespace) -> int:
    from router.store import AuditLog

    db = _open(args)
    try:
        entries = AuditLog(db).entries(limit=args.limit)
    finally:
        db.close()
    if args.json:
        print(json.dumps([{"id": e.id, "ts": e.ts.isoformat(), "actor": e.actor, "action": e.action,
                           "details": dict(e.details)} for e in entries], indent=2))
        return 0
    for e in entries:
        print(f"{e.ts:%Y-%m-%d %H:%M:%S}  {e.actor:24} {e.action:12} {json.dumps(dict(e.details))}")
    return 0
