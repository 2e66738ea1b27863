"""The estimators. Every class follows :class:`recsys.models.base.Recommender`.

Importing this package registers every model by class name, which ``Recommender.load`` and
the benchmark configs use to find them.
"""

from recsys.models.als import ALS
from recsys.models.base import MODELS, Recommender, register
from recsys.models.baseline import Baseline, GlobalMean, Popularity
from recsys.models.bpr import BPR
from recsys.models.content import ContentKNN
from recsys.models.ease import EASE
from recsys.models.hybrid import Hybrid
from recsys.models.ials import ImplicitALS
from recsys.models.knn import ItemKNN, UserKNN
from recsys.models.mf import FunkSVD
from recsys.models.svdpp import SVDpp

__all__ = [
    "MODELS", "Recommender", "register",
    "GlobalMean", "Popularity", "Baseline", "FunkSVD", "SVDpp", "ALS",
    "ItemKNN", "UserKNN", "ContentKNN", "Hybrid", "BPR", "ImplicitALS", "EASE",
]
