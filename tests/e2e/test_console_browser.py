"""The operator console in a real browser: Debian's chromium (scripts/ensure_observability_tools.sh)
driven by Playwright, against a real router process over fake engines and GPUs. Log in, see the fleet
(models, queues, GPUs, the open breaker, the spilling model), the routing decisions and the spend; ban
the provider `auto` uses and watch the traffic move, then lift the ban. Screenshots are saved under
STELLWERK_ARTIFACTS (default: the test's tmp folder)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.observability_server import FAILING, OVERLOADED
from tests.observability_stack import ADMIN_KEY, RouterProcess, router_process

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MINI, HAIKU = "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    with router_process(tmp_path_factory.mktemp("console-router")) as r:
        yield r


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: run scripts/ensure_observability_tools.sh (make test does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("STELLWERK_ARTIFACTS", tmp_path)) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def auto_model(router: RouterProcess) -> str:
    reply = router.chat("acme")
    assert reply.status_code == 200, reply.text
    return reply.headers["x-stellwerk-model"]


def wait_for_model(router: RouterProcess, model: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := auto_model(router)) != model:
        assert time.monotonic() < deadline, f"auto still answers with {seen}, not {model}"
        time.sleep(0.2)


def log_in(page: Page, router: RouterProcess, key: str = ADMIN_KEY) -> None:
    page.goto(router.url + "/console")
    expect(page).to_have_url(router.url + "/console/login")
    page.fill("#key", key)
    page.fill("#operator", "alice")
    page.click("#login")


def test_console_fleet_ban_and_lift(router: RouterProcess, browser: Browser, artifacts: Path) -> None:
    for _ in range(4):  # traffic before the console opens: decisions, spend, the failing model's breaker
        assert auto_model(router) == MINI
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    log_in(page, router, key="wrong")
    expect(page.locator("#login-error")).to_contain_text("not the admin key")
    log_in(page, router)
    expect(page).to_have_url(router.url + "/console")

    models = page.locator("#models tbody")
    expect(models.locator(f'tr[data-model="{MINI}"]')).to_contain_text("ok")
    expect(models.locator(f'tr[data-model="{FAILING}"]')).to_contain_text("breaker open")
    expect(models.locator(f'tr[data-model="{OVERLOADED}"]')).to_contain_text("40 waiting")
    expect(models.locator(f'tr[data-model="{OVERLOADED}"]')).to_contain_text("spilling over")
    expect(page.locator("#gpus tbody tr")).to_have_count(2)
    expect(page.locator("#gpus tbody")).to_contain_text("NVIDIA H100")
    expect(page.locator("#decisions tbody tr").first).to_contain_text(MINI)
    expect(page.locator('#spend-tenants tr[data-tenant="acme"]')).to_contain_text("%")  # savings
    expect(page.locator("#spend-chart svg rect").first).to_be_visible()
    page.screenshot(path=str(artifacts / "1-fleet.png"), full_page=True)

    page.fill("#ban-target", "provider:openai")
    page.fill("#ban-reason", "regulator order 7")
    page.click("#ban-set")
    ban_row = page.locator('#bans tr[data-ban="provider:openai"]')
    expect(ban_row).to_contain_text("regulator order 7")
    expect(ban_row).to_contain_text("console:alice")
    wait_for_model(router, HAIKU)  # auto moved to the next allowed provider
    expect(page.locator("#decisions tbody tr").first).to_contain_text(HAIKU, timeout=10_000)
    page.screenshot(path=str(artifacts / "2-banned.png"), full_page=True)

    ban_row.locator("button.lift").click()
    expect(ban_row).to_have_count(0)
    wait_for_model(router, MINI)
    expect(page.locator("#audit tbody")).to_contain_text("console:alice")
    page.screenshot(path=str(artifacts / "3-lifted.png"), full_page=True)

    with router.admin() as admin:
        audit = admin.get("/admin/audit").json()["data"]
    actions = [(a["actor"], a["action"]) for a in audit if a["actor"] == "console:alice"]
    assert len(actions) == 2, audit  # the ban and the lift, through the audited admin path


def test_console_keys(router: RouterProcess, browser: Browser) -> None:
    page = browser.new_page()
    log_in(page, router)
    page.fill("#key-tenant", "acme")
    page.fill("#key-name", "from-the-console")
    page.click("#key-create")
    expect(page.locator("#key-secret")).to_contain_text("shown once")
    secret = page.locator("#key-secret").inner_text().rsplit(" ", 1)[-1]
    def ask() -> int:
        return httpx.post(router.url + "/v1/chat/completions", timeout=30,
                          headers={"authorization": f"Bearer {secret}"},
                          json={"model": MINI, "messages": [{"role": "user", "content": "hi"}]}).status_code

    assert ask() == 200
    row = page.locator("#keys tbody tr", has_text="from-the-console")
    row.locator("button.revoke").click()
    expect(row.locator("button.revoke")).to_have_count(0)
    assert ask() == 401


def test_console_needs_the_admin_key(router: RouterProcess) -> None:
    assert httpx.get(router.url + "/console").headers["location"] == "/console/login"
    assert httpx.get(router.url + "/console/api/decisions").status_code == 401
    with_key = httpx.get(router.url + "/console", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert with_key.status_code == 200 and "Stellwerk console" in with_key.text
    forged = httpx.get(router.url + "/console/api/decisions", cookies={"stellwerk_console": "alice.1.00"})
    assert forged.status_code == 401
    # A session cookie without the console header cannot change anything (CSRF).
    login = httpx.post(router.url + "/console/login", data={"key": ADMIN_KEY, "operator": "bob"})
    cookie = login.cookies["stellwerk_console"]
    blocked = httpx.post(router.url + "/admin/bans", cookies={"stellwerk_console": cookie},
                         json={"target": "provider:openai"})
    assert blocked.status_code == 401
    reads = httpx.get(router.url + "/console/api/decisions", cookies={"stellwerk_console": cookie})
    assert reads.status_code == 200
