"""The routing decision's latency and CPU cost under open-loop load (`python -m benchmarks.decision`).

Drives the real `RoutingService.decide` (built as `router.routing.build` builds it: shipped routing
configuration, quality table and catalogue, the packaged classifier heads) with prompts from the
routing prompt index at a fixed arrival rate, once per embedder (torch reference vs the ONNX encoder),
and reports per-decision latency percentiles, CPU per decision, the two embedders' agreement and
the machine and its other load during the run.
"""
