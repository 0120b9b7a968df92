"""The capacity planner behind `stellwerk plan`.

- `profiles`: performance profiles (throughput and latency per concurrency for one model on one
  hardware unit): shipped YAML under benchmarks/profiles/, or built from `stellwerk bench` results
  (`from_bench`).
- `traffic`: the traffic profile (requests/s per hour of the day, length mix, task mix, SLOs).
- `capacity`: per-replica capacity at the SLO, and interpolation between measured points.
- `routing`: the share of each category that Stellwerk's objective sends to each model.
- `plan`: replicas per model, spill at peak under a GPU cap, monthly cost, break-even.
- `report` / `plot`: JSON, Markdown and PNG; `validate`: predicted vs measured bench steps.
"""
