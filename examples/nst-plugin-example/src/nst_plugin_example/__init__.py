"""nst-plugin-example: a sliced optimal transport color transfer and an ``nst`` subcommand.

napari-nst finds this module through the ``nst_engine`` entry point in ``pyproject.toml``
and calls the hooks below, each with a ``register`` bound to this plugin. The transfer's
signature is its option schema: ``nst color -p projections=8``, ``nst plugins --options``
and the options form in napari's Color Transfer widget all come from it.
"""

from nst_engine import hookimpl

from .sliced_ot import sliced_ot

__all__ = ["NST_ENGINE_API", "sliced_ot", "register_color_transfers", "register_commands"]

#: The oldest plugin API this plugin works with: a napari-nst whose API is older (or of
#: another major version) refuses to load it and says which versions are involved.
NST_ENGINE_API = "1.0"


@hookimpl
def register_color_transfers(register):
    """Add ``sliced-ot`` to the color transfers."""
    register("sliced-ot", sliced_ot, description="Sliced optimal transport (Pitié et al. 2007; Rabin et al. 2011)")


@hookimpl
def register_commands(cli):
    """Add ``nst sliced-ot-demo``; imported here so that loading the plugin stays cheap."""
    from .commands import sliced_ot_demo

    cli.add_command(sliced_ot_demo)
