"""Draining ``iter_stylize`` as the engine tests do: every event, then the result."""


def drain(events):
    """The events ``events`` yields, in order, and the value it returns."""
    seen = []
    while True:
        try:
            seen.append(next(events))
        except StopIteration as done:
            return seen, done.value
