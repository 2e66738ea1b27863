"""The estimators. Every class follows :class:`recsys.models.base.Recommender` and is found by
name through :mod:`recsys.models.registry`.
"""

from recsys.models.als import ALS
from recsys.models.base import Recommender
from recsys.models.baseline import Baseline, GlobalMean, Popularity
from recsys.models.bfm import BayesianFM
from recsys.models.bpr import BPR
from recsys.models.content import ContentKNN
from recsys.models.ease import EASE
from recsys.models.hybrid import Hybrid
from recsys.models.ials import ImplicitALS
from recsys.models.knn import ItemKNN, UserKNN
from recsys.models.mf import FunkSVD
from recsys.models.rank_fusion import RankFusion
from recsys.models.registry import build_model, model_class, model_names, register
from recsys.models.rp3beta import RP3beta
from recsys.models.slim import SLIM
from recsys.models.svdpp import SVDpp
from recsys.models.timesvdpp import TimeBaseline, TimeSVDpp

__all__ = [
    "Recommender", "register", "model_class", "model_names", "build_model",
    "GlobalMean", "Popularity", "Baseline", "FunkSVD", "SVDpp", "ALS",
    "ItemKNN", "UserKNN", "ContentKNN", "Hybrid", "BPR", "ImplicitALS", "EASE",
    "RP3beta", "SLIM", "RankFusion",
    "TimeBaseline", "TimeSVDpp",
    "BayesianFM",
]
