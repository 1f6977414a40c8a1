"""Built-in loss terms; imported inside the hook because they need torch (see optimizers)."""

from nst_engine.hookspecs import hookimpl


@hookimpl
def register_losses(register):
    from nst_engine.losses import ContentLoss, GramLoss, MeanStdLoss, TotalVariationLoss
    from nst_engine.losses.auxiliary import CombinedImageLoss, StyledContentLoss
    from nst_engine.losses.mmd import MMDLoss
    from nst_engine.losses.multiscale import MultiScaleLoss
    from nst_engine.losses.temporal import TemporalLoss

    register("content", ContentLoss)
    register("gram", GramLoss)
    register("mean-std", MeanStdLoss)
    register("tv", TotalVariationLoss)
    register("mmd", MMDLoss)
    register("styled-content", StyledContentLoss)
    register("combined-image", CombinedImageLoss)
    register("multiscale", MultiScaleLoss)
    register("temporal", TemporalLoss)
