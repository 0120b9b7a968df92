"""Router overhead benchmark: what the Stellwerk router adds in front of a fast fake upstream, against
the fake directly and the LiteLLM proxy, in one run (issue #7, item 2).

    python -m benchmarks.overhead            # or: stellwerk bench-overhead

Processes: the fake upstream (fake_upstream.py), the Stellwerk router (router_server.py) and the
LiteLLM proxy (litellm_peer.py, its own venv) each run as one uvicorn process; this process is the
open-loop load generator (schedule.py, steps.py, client.py). sweep.py drives the rates, stats.py
defines the statistics, hotspots.py profiles with py-spy, report.py writes JSON, Markdown and a plot.
"""
