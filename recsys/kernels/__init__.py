"""Numba kernels: ``@njit(cache=True)`` functions on arrays and scalars, nothing else.

The Python layer above them (the models, :mod:`recsys.similarity`, :mod:`recsys.topk`)
checks and converts the inputs (float32 values, int32 indices, int64 offsets) and plans
threads; each kernel has a slow NumPy oracle in ``tests/test_kernels_<topic>.py``.

- :mod:`~recsys.kernels.splitmix`: the one random stream (SplitMix64);
- :mod:`~recsys.kernels.topk`: the one bounded heap, top-k per row;
- :mod:`~recsys.kernels.linalg`: the one Cholesky solve;
- :mod:`~recsys.kernels.scoring`: biased-MF scores and the one clipped squared error;
- :mod:`~recsys.kernels.similarity`, :mod:`~recsys.kernels.knn`: neighbourhoods;
- :mod:`~recsys.kernels.rp3beta`, :mod:`~recsys.kernels.slim`: the sparse item-item weights
  of RP3beta and SLIM;
- :mod:`~recsys.kernels.sgd`, :mod:`~recsys.kernels.baseline`, :mod:`~recsys.kernels.als`,
  :mod:`~recsys.kernels.ials`, :mod:`~recsys.kernels.svdpp`, :mod:`~recsys.kernels.bpr`:
  the training loops of the models.
"""
