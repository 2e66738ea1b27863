"""recsys: recommender-system algorithms from scratch in NumPy and Numba.

The package is organised by purpose:

- :mod:`recsys.data`       MovieLens loaders, downloader and cache, synthetic generator.
- :mod:`recsys.dataset`    :class:`Dataset`, contiguous indices over a ratings table.
- :mod:`recsys.preprocess` k-core filtering, centering, binarization, item features.
- :mod:`recsys.split`      seeded train/test splitters.
- :mod:`recsys.metrics`    rating and ranking metrics.
- :mod:`recsys.evaluation` the top-N evaluation routine.
- :mod:`recsys.models`     the estimators; their hot loops live in :mod:`recsys.kernels`.
"""

__version__ = "0.1.0"

from recsys.dataset import Dataset  # noqa: E402

__all__ = ["Dataset", "__version__"]
