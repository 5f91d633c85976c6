"""Where a home keeps its data, and how it is written: atomic files, generations, the writer lock."""
