"""Built-in color transfers, registered through the same hook a third party uses.

Imported inside the hook: scipy and scikit-image take most of a second, which listing
commands (``nst --help``) need not pay.
"""

from nst_engine.hookspecs import hookimpl


@hookimpl
def register_color_transfers(register):
    from nst_engine.color import cholesky, histogram, idt, luminance, mean_std, mkl, pca, reinhard

    register("reinhard", reinhard, description="Mean and std in lαβ (Reinhard et al. 2001)")
    register(
        "idt",
        idt,
        description="Iterative distribution transfer, optional regrain (Pitié et al. 2005/2007)",
    )
    register("mkl", mkl, description="Monge-Kantorovich linear mapping (Pitié & Kokaram 2007)")
    register(
        "luminance",
        luminance,
        description="Reference's luminance statistics, source's chroma (Gatys et al. 2016)",
    )
    register("histogram", histogram, description="Per-channel exact CDF matching")
    register(
        "cholesky", cholesky, description="Covariance match, Cholesky factors (Gatys et al. 2016)"
    )
    register("pca", pca, description="Covariance match, symmetric square roots (Gatys et al. 2016)")
    register("mean-std", mean_std, description="Per-channel mean and std in RGB")
