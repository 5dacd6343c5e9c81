"""Speed benchmark suite: perceiver-hf against transformers' Perceiver, same weights, one process.

Run it with `python benchmarks/run_speed.py` (full size) or `python benchmarks/run_speed.py --smoke`.
"""
