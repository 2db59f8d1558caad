"""Operator actions over the ledger: plan, status, history, replay, skip.

Each is one module with one job, built on the same table preparation a run
uses (`loadstar.run.prepare`), so what ``plan`` and ``status`` show is what
``run`` does. They reach the warehouse only through `loadstar.warehouse.Warehouse`;
they may import ``run`` and everything below it, never the entry points or ``dev``.
"""
