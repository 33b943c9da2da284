"""Tools that drive shopsync from outside, shared by its tests and its benchmarks (as flask.testing is).

`processes`: the real web, worker and scheduler processes, a Redis of one's own, waiting for
them; `databases`: a database of a run's own; `tcp_proxy`: a connection that can be cut. Tests
and benchmarks both import from here, never from each other.
"""
