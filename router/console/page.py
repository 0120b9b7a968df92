"""The console's HTML: the login form and the page shell that console.js fills from the router's APIs."""

from __future__ import annotations

from html import escape

__all__ = ["console_page", "login_page"]

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><link rel="stylesheet" href="/console/static/console.css"></head>"""


def login_page(*, error: str | None = None, disabled: bool = False) -> str:
    if disabled:
        body = ("<p class=error>The console is off: start the router with the admin key in the environment "
                "variable named by <code>--admin-key-env</code> (STELLWERK_ADMIN_KEY by default).</p>")
    else:
        message = f'<p class=error id=login-error>{escape(error)}</p>' if error else ""
        body = f"""{message}
<form method=post action="/console/login" class=login>
  <label>Admin key
    <input type=password name=key id=key autocomplete=current-password required autofocus></label>
  <label>Your name (for the audit log) <input name=operator id=operator value="operator" maxlength=64></label>
  <button type=submit id=login>Log in</button>
</form>"""
    return (_HEAD.format(title="Stellwerk console — log in")
            + f"<body class=narrow><h1>Stellwerk console</h1>{body}</body></html>")


def console_page(operator: str) -> str:
    return _HEAD.format(title="Stellwerk console") + f"""
<body>
<header><h1>Stellwerk console</h1>
  <span id=updated class=muted>loading…</span>
  <form method=post action="/console/logout"><span class=muted>{escape(operator)}</span>
    <button type=submit>Log out</button></form>
</header>
<main>
<section id=fleet><h2>Fleet</h2>
  <p id=router-state class=muted></p>
  <table id=models><thead><tr><th>model</th><th>health</th><th>engine queue</th><th>KV cache</th>
    <th>replicas</th><th>routing</th></tr></thead><tbody></tbody></table>
  <table id=gpus><thead><tr><th>GPU</th><th>name</th><th>busy</th><th>memory</th><th>power</th>
    <th>temperature</th></tr></thead><tbody></tbody></table>
</section>
<section id=decisions><h2>Latest routing decisions</h2>
  <table><thead><tr><th>time</th><th>chosen</th><th>reason</th><th>objective</th><th>category</th>
    <th>why</th><th>trace</th></tr></thead><tbody></tbody></table>
</section>
<section id=spend><h2>Spend by tenant and model</h2>
  <label>Window <select id=window><option value=hour>last hour, per minute</option>
    <option value=day>last 24 hours, per hour</option><option value=month>last 30 days, per day</option>
  </select></label>
  <div id=spend-chart></div>
  <table id=spend-tenants><thead><tr><th>tenant</th><th>requests</th><th>tokens in/out</th><th>cost</th>
    <th>all-frontier baseline</th><th>savings</th></tr></thead><tbody></tbody></table>
</section>
<section id=bans><h2>Bans</h2>
  <form id=ban-form><input id=ban-target placeholder="provider:openai or model:ID" required>
    <input id=ban-reason placeholder="reason (audited)" maxlength=500>
    <button type=submit id=ban-set>Ban</button></form>
  <p id=ban-message class=muted></p>
  <table><thead><tr><th>target</th><th>reason</th><th>by</th><th>since</th><th></th></tr></thead>
    <tbody></tbody></table>
</section>
<section id=keys><h2>API keys</h2>
  <form id=key-form><input id=key-tenant placeholder="tenant" required>
    <input id=key-name placeholder="name" required>
    <button type=submit id=key-create>Create key</button></form>
  <p id=key-secret class=secret></p>
  <table><thead><tr><th>id</th><th>tenant</th><th>name</th><th>created</th><th>revoked</th><th></th></tr>
    </thead><tbody></tbody></table>
</section>
<section id=audit><h2>Audit log</h2><table><thead><tr><th>time</th><th>actor</th><th>action</th>
  <th>details</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="/console/static/console.js"></script>
</body></html>"""
