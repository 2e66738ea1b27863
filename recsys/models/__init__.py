"""The estimators. Every class follows :class:`recsys.models.base.Recommender`.

Importing this package registers every model by class name, which ``Recommender.load`` and
the benchmark configs use to find them.
"""

from recsys.models.base import MODELS, Recommender, register

__all__ = ["MODELS", "Recommender", "register"]
from recsys.models.bpr import BPR  # noqa: E402,F401
from recsys.models.ials import ImplicitALS  # noqa: E402,F401
from recsys.models.ease import EASE  # noqa: E402,F401
from recsys.models.svdpp import SVDpp  # noqa: E402,F401
from recsys.models.als import ALS  # noqa: E402,F401
from recsys.models.baseline import Baseline, GlobalMean, Popularity  # noqa: E402,F401
from recsys.models.mf import FunkSVD  # noqa: E402,F401
from recsys.models.knn import ItemKNN, UserKNN  # noqa: E402,F401
from recsys.models.content import ContentKNN  # noqa: E402,F401
from recsys.models.hybrid import Hybrid  # noqa: E402,F401
