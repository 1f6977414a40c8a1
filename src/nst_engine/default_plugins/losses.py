from nst_engine.hookspecs import hookimpl
from nst_engine.losses import ContentLoss, GramLoss, MeanStdLoss, TotalVariationLoss


@hookimpl
def register_losses(register):
    register("content", ContentLoss)
    register("gram", GramLoss)
    register("mean-std", MeanStdLoss)
    register("tv", TotalVariationLoss)
