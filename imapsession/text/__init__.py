"""Text helpers every layer may use (the leaf of the import graph: it imports nothing of
ours), so that storage and mime need not import the protocol layer for them."""
