"""`quart-template import-legacy`: a Flask Template database moved into this one.

`source` reads the old insert-only tables, `mapping` turns an entity's versions into a current
row and its history here, `writer` stores a batch in one transaction, `report` says what
happened, and `command` runs it all batch by batch.
"""
