"""timeSVD++ kernels: time-aware biases and SVD++ factors, trained by SGD over users.

The model (Koren, "Collaborative Filtering with Temporal Dynamics", KDD 2009: the
time-changing baseline predictor, the linear drift of the user factors and the timeSVD++
prediction rule)::

    r_hat(u, i, t) = mu + b_i + b_{i,Bin(t)} + b_u + alpha_u * dev_u(t) + b_{u,t}
                     + q_i . (p_u + a_u * dev_u(t) + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    dev_u(t) = sign(t - t_u) * |t - t_u|^beta

with ``t`` in days, ``t_u`` the mean day of ``u``'s training ratings, ``Bin(t)`` one of
``n_bins`` equal slices of the training period, ``b_{u,t}`` one bias per (user, day)
the training data holds (0 for any other day), and ``a_u`` the linear drift of the user
factors (Koren's ``alpha_uk``; zero-width arrays or a zero learning rate leave it out). With
zero-width factor arrays (k = 0) the same kernels train the time-aware baseline alone.

Per rating ``(u, i, t, r)`` with error ``e = r - r_hat``, every parameter takes its own step
``x <- x + lr_x * (e * d r_hat / d x - reg_x * x)`` with the values from before the step
(the convention of Koren 2008 and of :mod:`recsys.kernels.svdpp`; the BellKor learning rates
are for this form)::

    b_u       += lr_bu  * (e           - reg_bu  * b_u)
    b_i       += lr_bi  * (e           - reg_bi  * b_i)
    alpha_u   += lr_al  * (e * dev     - reg_al  * alpha_u)
    b_{i,bin} += lr_bin * (e           - reg_bin * b_{i,bin})
    b_{u,t}   += lr_day * (e           - reg_day * b_{u,t})
    p_u       += lr_f   * (e * q_i     - reg_f   * p_u)
    a_u       += lr_a   * (e * dev q_i - reg_a   * a_u)
    q_i       += lr_f   * (e * (p_u + dev a_u + z_u) - reg_f * q_i)
    y_j       += lr_y   * (e * |N(u)|^-1/2 q_i - reg_y * y_j)    for every j in N(u)

(TimeSVDpp passes its ``lr_factors`` as both ``lr_f`` and ``lr_y``, as Koren 2008 does.)

The y_j steps are batched per user exactly as in :mod:`recsys.kernels.svdpp`, with its
``start_implicit`` / ``accumulate_implicit`` / ``apply_implicit``: ``z_u`` computed once per
user and updated in closed form, the y_j steps accumulated in a k-vector and a decay and
applied when the user's turn ends. In exact arithmetic that gives the same parameters as the
literal per-rating loop over the same order. Users are visited in ``user_order``, each
user's ratings in ``order`` (both reshuffled by the caller every epoch), on one thread:
deterministic.

Layout: CSR by user (``indptr`` int64, ``indices`` int32, ratings and per-rating ``devs`` of
the parameters' dtype, ``bins`` int32, ``slots`` int64 into the (user, day) table); days are
int64 counted from the first training day. The learning rates and penalties travel as two
8-tuples in the order of :data:`TERMS`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.svdpp import accumulate_implicit, apply_implicit, start_implicit

#: Order of the learning rates and penalties in the ``rates`` / ``regs`` tuples.
TERMS = ("user_bias", "item_bias", "user_drift", "item_bin", "user_day", "factors",
         "implicit", "factor_drift")


# ---------------------------------------------------------------------- time features
@nb.njit(cache=True, inline="always")
def deviation(delta, beta):
    """``sign(delta) * |delta|^beta`` (Koren 2009's ``dev_u``), float64; 0 at ``delta == 0``."""
    if delta > 0:
        return delta ** beta
    if delta < 0:
        return -((-delta) ** beta)
    return 0.0


@nb.njit(cache=True)
def deviations(days, means, beta):
    """``dev_u(t)`` elementwise: float64 (n,) from days int64 (n,) and ``t_u`` float64 (n,)."""
    out = np.empty(days.shape[0], dtype=np.float64)
    for j in range(days.shape[0]):
        out[j] = deviation(np.float64(days[j]) - means[j], beta)
    return out


@nb.njit(cache=True, inline="always")
def day_bin(day, n_bins, n_days):
    """``Bin(t)``: ``floor(day * n_bins / n_days)`` clamped to ``[0, n_bins)``, so a day
    before or after the training period falls in the first or last bin."""
    b = (day * n_bins) // n_days
    if b < 0:
        return 0
    if b >= n_bins:
        return n_bins - 1
    return b


@nb.njit(cache=True)
def day_bins(days, n_bins, n_days):
    """:func:`day_bin` of every day: int32 (n,) from int64 (n,)."""
    out = np.empty(days.shape[0], dtype=np.int32)
    for j in range(days.shape[0]):
        out[j] = day_bin(days[j], n_bins, n_days)
    return out


@nb.njit(cache=True)
def user_day_table(indptr, days):
    """The sparse (user, day) table of the day-specific user biases ``b_{u,t}``.

    Parameters
    ----------
    indptr : int64 (n_users + 1,)
        CSR row pointers of the training ratings by user.
    days : int64 (nnz,)
        Day of each rating, in the same CSR order.

    Returns
    -------
    table_indptr : int64 (n_users + 1,)
    table_days : int64 (n_slots,)
        ``table_days[table_indptr[u]:table_indptr[u+1]]`` are the distinct days of ``u``'s
        ratings, ascending.
    slots : int64 (nnz,)
        The table position of each rating's (user, day).
    """
    n_users = indptr.shape[0] - 1
    table_indptr = np.zeros(n_users + 1, dtype=np.int64)
    uniq = np.empty(days.shape[0], dtype=np.int64)
    n = 0
    for u in range(n_users):
        lo, hi = indptr[u], indptr[u + 1]
        if hi > lo:
            row = np.unique(days[lo:hi])
            uniq[n:n + row.shape[0]] = row
            n += row.shape[0]
        table_indptr[u + 1] = n
    table_days = uniq[:n].copy()
    slots = np.empty(days.shape[0], dtype=np.int64)
    for u in range(n_users):
        for p in range(indptr[u], indptr[u + 1]):
            slots[p] = find_day(table_indptr, table_days, u, days[p])
    return table_indptr, table_days, slots


@nb.njit(cache=True, inline="always")
def find_day(table_indptr, table_days, u, day):
    """Position of (u, day) in the table of :func:`user_day_table`, -1 if absent."""
    lo = table_indptr[u]
    hi = table_indptr[u + 1]
    while lo < hi:  # binary search in u's ascending days
        mid = (lo + hi) // 2
        if table_days[mid] < day:
            lo = mid + 1
        else:
            hi = mid
    if lo < table_indptr[u + 1] and table_days[lo] == day:
        return lo
    return -1


@nb.njit(cache=True)
def day_biases(table_indptr, table_days, user_day_bias, users, days):
    """``b_{u,t}`` of (user, day) pairs, float64 (n,): 0 for an unknown user (-1) or a day
    not in the table of :func:`user_day_table`."""
    out = np.zeros(users.shape[0], dtype=np.float64)
    for j in range(users.shape[0]):
        if users[j] >= 0:
            slot = find_day(table_indptr, table_days, users[j], days[j])
            if slot >= 0:
                out[j] = user_day_bias[slot]
    return out


# ---------------------------------------------------------------------- training
@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def _user_turn(u, csr, order, mu, biases, factors, rates, regs, z, g):
    # One user's ratings in `order`, then the batched y_j update. Kept in one loop nest (not
    # split into helpers) so LLVM vectorises the k-loop; returns the sum of squared errors.
    indptr, indices, ratings, bins, slots, devs = csr
    user_bias, item_bias, user_drift, item_bin_bias, user_day_bias = biases
    user_factors, item_factors, implicit_factors, factor_drift = factors
    lr_bu, lr_bi, lr_al, lr_bin, lr_day, lr_f, lr_y, lr_a = rates
    reg_bu, reg_bi, reg_al, reg_bin, reg_day, reg_f, reg_y, reg_a = regs
    lo = indptr[u]
    hi = indptr[u + 1]
    if hi == lo:
        return 0.0
    k = user_factors.shape[1]
    drift = factor_drift.shape[1] == k and k > 0
    one = user_factors.dtype.type(1.0)
    norm = start_implicit(lo, hi, indices, implicit_factors, z, g)
    shrink_y = one - lr_y * reg_y
    decay = one
    sse = 0.0
    for t in range(lo, hi):
        p = order[t]
        i = indices[p]
        b = bins[p]
        s = slots[p]
        dev = devs[p]
        dot = user_factors.dtype.type(0.0)
        for f in range(k):
            pu = user_factors[u, f] + z[f]
            if drift:
                pu += dev * factor_drift[u, f]
            dot += item_factors[i, f] * pu
        err = ratings[p] - (mu + item_bias[i] + item_bin_bias[i, b] + user_bias[u]
                            + user_drift[u] * dev + user_day_bias[s] + dot)
        sse += float(err) * float(err)
        user_bias[u] += lr_bu * (err - reg_bu * user_bias[u])
        item_bias[i] += lr_bi * (err - reg_bi * item_bias[i])
        user_drift[u] += lr_al * (err * dev - reg_al * user_drift[u])
        item_bin_bias[i, b] += lr_bin * (err - reg_bin * item_bin_bias[i, b])
        user_day_bias[s] += lr_day * (err - reg_day * user_day_bias[s])
        for f in range(k):
            puf = user_factors[u, f]
            qif = item_factors[i, f]
            put = puf + z[f]
            if drift:
                auf = factor_drift[u, f]
                put += dev * auf
                factor_drift[u, f] = auf + lr_a * (err * dev * qif - reg_a * auf)
            user_factors[u, f] = puf + lr_f * (err * qif - reg_f * puf)
            item_factors[i, f] = qif + lr_f * (err * put - reg_f * qif)
            accumulate_implicit(f, lr_y * err * qif, norm, shrink_y, z, g)
        decay *= shrink_y
    apply_implicit(lo, hi, indices, implicit_factors, decay, g)
    return sse


@nb.njit(cache=True)
def timesvdpp_epoch(csr, user_order, order, mu, biases, factors, rates, regs):
    """One deterministic SGD epoch of timeSVD++ (or, with k = 0, the time-aware baseline).

    Parameters
    ----------
    csr : tuple (indptr, indices, ratings, bins, slots, devs)
        The training ratings by user: indptr int64 (n_users + 1,), indices int32 (nnz,),
        ratings (nnz,), bins int32 (nnz,) ``Bin(t)``, slots int64 (nnz,) positions in the
        (user, day) table, devs (nnz,) ``dev_u(t)`` of each rating.
    user_order : int32 (m,)
        Users to visit, in this order.
    order : int64 (nnz,)
        ``order[indptr[u]:indptr[u+1]]``: a permutation of that range, the visiting order of
        ``u``'s ratings.
    mu : float
        Global mean.
    biases : tuple (user_bias (n_users,), item_bias (n_items,), user_drift (n_users,),
        item_bin_bias (n_items, n_bins), user_day_bias (n_slots,)), updated in place.
    factors : tuple (user_factors (n_users, k), item_factors (n_items, k), implicit_factors
        (n_items, k), factor_drift (n_users, k) or (n_users, 0) for no drift), in place.
    rates, regs : 8-tuples of floats
        Learning rates and penalties in the order of :data:`TERMS`. Every float array and
        scalar has one dtype (float32 or float64).

    Returns
    -------
    float
        Sum of squared errors of the ratings, each measured just before its update.
    """
    k = factors[0].shape[1]
    z = np.empty(k, dtype=factors[0].dtype)
    g = np.empty(k, dtype=factors[0].dtype)
    sse = 0.0
    for t in range(user_order.shape[0]):
        sse += _user_turn(user_order[t], csr, order, mu, biases, factors, rates, regs, z, g)
    return sse


# ---------------------------------------------------------------------- prediction
@nb.njit(cache=True)
def timesvdpp_predict(users, items, days, mu, biases, factors, table, time_axis, out):
    """Scores of (user, item, day) triples into ``out`` (float64 (n,)), by the module's rule.

    Parameters
    ----------
    users, items : int64 (n,)
        -1 for an unknown user or item: its terms are left out, so an unknown user scores
        ``mu + b_i + b_{i,Bin(t)}``, an unknown item ``mu + b_u + alpha_u dev_u(t) +
        b_{u,t}``, both ``mu``.
    days : int64 (n,)
        Days counted from the first training day (any integer: ``Bin`` clamps, ``b_{u,t}`` is
        0 for a day not in the table).
    mu : float
    biases : tuple (user_bias, item_bias, user_drift, item_bin_bias, user_day_bias)
        As for :func:`timesvdpp_epoch`.
    factors : tuple (user_vectors (n_users, k), item_factors (n_items, k), factor_drift
        (n_users, k) or (n_users, 0))
        ``user_vectors`` is ``p_u + |N(u)|^-1/2 sum y_j`` (the implicit sum included).
    table : tuple (table_indptr int64 (n_users + 1,), table_days int64 (n_slots,))
        The (user, day) table of :func:`user_day_table`.
    time_axis : tuple (user_mean_day float64 (n_users,), beta float, n_bins int, n_days int)
    """
    user_bias, item_bias, user_drift, item_bin_bias, user_day_bias = biases
    user_vectors, item_factors, factor_drift = factors
    table_indptr, table_days = table
    user_mean_day, beta, n_bins, n_days = time_axis
    k = user_vectors.shape[1]
    drift = factor_drift.shape[1] == k and k > 0
    for j in range(users.shape[0]):
        u = users[j]
        i = items[j]
        d = days[j]
        s = np.float64(mu)
        dev = 0.0
        if u >= 0:
            dev = deviation(np.float64(d) - user_mean_day[u], beta)
            s += user_bias[u] + user_drift[u] * dev
            slot = find_day(table_indptr, table_days, u, d)
            if slot >= 0:
                s += user_day_bias[slot]
        if i >= 0:
            s += item_bias[i] + item_bin_bias[i, day_bin(d, n_bins, n_days)]
        if u >= 0 and i >= 0:
            dot = 0.0
            for f in range(k):
                v = np.float64(user_vectors[u, f])
                if drift:
                    v += dev * factor_drift[u, f]
                dot += v * item_factors[i, f]
            s += dot
        out[j] = s
