"""`stellwerk bench`: a load generator and report for any OpenAI-compatible chat endpoint.

Modules, one job each: `lengths` (token-length distributions), `prompts` (synthetic / file / built-in
prompt sets), `schedule` (load steps and arrival times), `client` (one timed streamed request), `runner`
(drives the steps), `metrics` (per-step summaries, vLLM's definitions), `results` (the JSON document),
`plots` (PNGs), `report` (Markdown), `guidellm` and `compare` (the peer tool, side by side), `session`
(all of it in order), `fake_server` (a fast fake endpoint for trying it out). Importing this package
imports none of them, so the CLI stays quick to start.
"""
