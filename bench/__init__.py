"""loadstar's benchmark: ``make bench`` (``python -m bench.run``)."""
