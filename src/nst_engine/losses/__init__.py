"""Loss terms and their functional forms."""

from .terms import ContentLoss, GramLoss, LayerLoss, Loss, MeanStdLoss, TotalVariationLoss

__all__ = ["Loss", "LayerLoss", "ContentLoss", "GramLoss", "MeanStdLoss", "TotalVariationLoss"]
