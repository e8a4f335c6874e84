"""Benchmarks of leadowner: a seeded data generator, an HTTP load generator and `make bench`.

    python -m bench.generate --accounts 1000000 --seed 1   # fill lo_bench_1m_book by COPY
    python -m bench --scale 1m                              # every figure beside its floor
    python -m bench --scale 10k --quick                     # make bench-quick

See docs/performance.md for what the figures mean and what the profiles showed.
"""
