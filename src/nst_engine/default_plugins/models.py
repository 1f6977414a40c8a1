"""Built-in feed-forward models; imported inside the hook because they need torch (see optimizers)."""

from nst_engine.hookspecs import hookimpl


@hookimpl
def register_models(register):
    from nst_engine.models import adain, johnson

    register("johnson", johnson)
    register("adain", adain)
