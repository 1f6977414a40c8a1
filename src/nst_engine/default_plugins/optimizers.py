"""Built-in optimizers, registered through the same hook a third party uses.

Imported inside the hook: the optimizers need torch, which listing commands or color
transfers must not import (the host collects one kind of entry at a time).
"""

from nst_engine.hookspecs import hookimpl


@hookimpl
def register_optimizers(register):
    from nst_engine.optimizers import adam, lbfgs, sgd

    register("lbfgs", lbfgs)
    register("adam", adam)
    register("sgd", sgd)
