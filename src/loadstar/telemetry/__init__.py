"""How loadstar speaks: JSON or console log lines with bound context, the EMF format,
and the terminal's progress line.

It knows the formats, not what a run measures (that is `loadstar.run.report`),
so every other package may use it; it imports nothing of loadstar's.
"""
