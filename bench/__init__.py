"""Benchmarks (not tests): run them as modules, e.g. ``python -m bench.pipeline_bench --jobs 50``."""
