"""The cost model: what a local model's tokens cost on rented or owned hardware, against the API prices.

- `hardware`: hardware prices ($/GPU-hour, $/node-hour) with their date and source (`hardware.yaml`).
- `tokens`: cost per 1M input/output/blended tokens for a performance profile at a stated utilisation.
- `compare`: the local-vs-API table over the catalogue.
"""
