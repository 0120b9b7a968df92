"""A router process with tenancy on, over fake engines: for tests that kill it (ledger durability).

    python -m tests.tenancy_server --database URL --tenants FILE --port PORT

Fake chat engines echo with a small per-word delay, so requests overlap; every other part (keys,
policies, the ledger writer, HTTP) is the real router.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from router.hot_reload import ConfigHolder
from router.store import Database
from router.tenancy.config import load_tenants_config
from router.tenancy.service import TenancyService
from tests.fakes import FakeChatEngine, build_fake_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--tenants", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    db = Database.open(args.database, default_path=Path("unused.db"))
    tenancy = TenancyService(ConfigHolder(args.tenants, load_tenants_config), db)
    chat = [FakeChatEngine(model, delay_s=0.005) for model in ("gemma-3-270m", "openai/gpt-4o-mini")]
    fake = build_fake_app(chat, tenancy=tenancy)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
