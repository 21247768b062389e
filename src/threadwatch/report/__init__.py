"""``threadwatch report``: files in, one verdict out.

``engine`` reads sources into tallies (in parallel where it pays; ``streams`` joins a run's
stdout and stderr captures), ``model`` judges them into a ``Report``, ``render`` draws it as a
table (and holds the style kit the live view shares).
"""
