"""Gibbs sampling for a second-order factorization machine on relational feature blocks.

The model (Rendle, "Factorization Machines", ICDM 2010, eq. 1) of a row ``x`` is::

    y_hat(x) = w0 + sum_j w_j x_j + sum_{j < l} <v_j, v_l> x_j x_l
             = w0 + sum_j w_j x_j + 1/2 sum_f [(sum_j v_jf x_j)^2 - sum_j v_jf^2 x_j^2]

with a Gaussian likelihood ``y ~ N(y_hat, 1/alpha)`` and the Normal-Gamma hierarchy of libFM's
MCMC (Freudenthaler, Schmidt-Thieme & Rendle, "Bayesian Factorization Machines", NIPS workshop
2011; Rendle, "Factorization Machines with libFM", ACM TIST 2012, section 4.3 and Algorithm 3):
``w_j ~ N(mu_w[g], 1/lambda_w[g])`` and ``v_jf ~ N(mu_v[g, f], 1/lambda_v[g, f])`` for the group
``g`` of feature ``j``, ``mu ~ N(mu_0, 1/(gamma_0 lambda))``, ``lambda ~ Gamma(alpha_0/2,
beta_0/2)``, ``alpha ~ Gamma(alpha_0/2, beta_0/2)``, ``w0 ~ N(0, 1/reg_0)``.

Every parameter ``theta`` enters ``y_hat`` linearly, ``y_hat_i = g_i + theta h_i`` (TIST 2012,
eq. 28), so its full conditional is normal (eq. 35)::

    precision = alpha sum_i h_i^2 + lambda_theta
    mean      = (alpha sum_i (e_i + theta h_i) h_i + lambda_theta mu_theta) / precision

where ``e_i = y_i - y_hat_i`` is kept for every training row and updated in place after each
draw (libFM's residual caching, TIST 2012 section 4.4). For ``w_j`` the gradient is
``h_i = x_ij``; for ``v_jf`` it is ``h_i = x_ij (q_if - v_jf x_ij)`` with ``q_if = sum_l v_lf
x_il``, also cached.

Relational blocks (Rendle, "Scaling Factorization Machines to Relational Data", VLDB 2013).
The columns are split into ``R`` relations. A training row ``i`` has one key ``r = k_b(i)`` in
each relation ``b``, and its features in relation ``b`` are the row ``r`` of that relation's
design matrix ``B_b`` (e.g. relation "user": keys are users, ``B`` holds the user's one-hot
column and the normalised set of items they rated; every rating of the user shares it). With
``Q_b[r, f] = sum_j B_b[r, j] v_jf`` (and ``L_b[r] = sum_j B_b[r, j] w_j``, ``T_b[r, f] = sum_j
B_b[r, j]^2 v_jf^2``) cached per key, ``q_if = sum_b Q_b[k_b(i), f]``. Updating the columns of
relation ``b`` for factor ``f`` needs, per key ``r`` of ``b``, sums over the rows with that key
(``n_r`` rows, ``o_i = q_if - Q_b[r, f]`` the other relations' part)::

    S1_r = sum o_i,  S2_r = sum o_i^2,  E_r = sum e_i,  EQ_r = sum e_i o_i

after which a column's conditional costs O(nnz of its column of ``B_b``): with ``c = Q_b[r, f] -
v_jf x`` (``x = B_b[r, j]``)::

    sum_i h_i^2 = sum_r x^2 (n_r c^2 + 2 c S1_r + S2_r),    sum_i h_i e_i = sum_r x (c E_r + EQ_r)

and a draw changing ``v_jf`` by ``d`` updates ``E_r -= d x (n_r c + S1_r)``, ``EQ_r -= d x (c S1_r
+ S2_r)``, ``Q_b[r, f] += d x``. The rows' ``e_i`` are brought up to date once per relation and
factor, from the change of ``1/2 (Q^2 - T) + Q o_i``. A sweep costs ``O(k R (R n + nnz(B)))``
instead of ``O(k sum_i nnz(x_i))``: the implicit-feedback blocks grow with the number of
distinct users and items, not with ratings times set size. A plain (non-relational) block is
a relation whose key is the row.

Order of one sweep (as myFM's Gibbs trainer, which follows libFM): alpha, w0, (lambda_w,
mu_w) per group, every w_j relation by relation, (lambda_v, mu_v) per group and factor, then
for each factor f every v_jf relation by relation, columns ascending. The hyperprior draws are
libFM's: ``lambda ~ Gamma((alpha_0 + m_g + 1)/2, (beta_0 + gamma_0 (mu - mu_0)^2 + sum (theta -
mu)^2)/2)`` then ``mu ~ N((sum theta + gamma_0 mu_0)/(m_g + gamma_0), 1/((m_g + gamma_0)
lambda))``, over the ``m_g`` active columns of the group (a column no training row touches is
left out of the model: it stays 0 and is not drawn).

Random numbers come from one SplitMix64 stream (:mod:`recsys.kernels.splitmix`): normals by
Box-Muller, gammas by Marsaglia & Tsang (ACM TOMS 2000). Single-threaded: the sweep is
sequential by nature, and one seed gives one chain on any machine. ``noise = 0`` replaces
every draw by its mean (normal: the conditional mean; gamma: shape / rate), a deterministic
sweep the tests compare with a slow NumPy transcription.

Dtypes: float64 for every parameter, cache and design value (sums over tens of thousands of
rows; the conditional's precision), int32 keys and column indices, int64 offsets.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from recsys.kernels.splitmix import next_unit

#: Positions in the ``priors`` array every sweep takes.
ALPHA_0, BETA_0, GAMMA_0, MU_0, REG_0 = 0, 1, 2, 3, 4
#: libFM's and myFM's defaults: alpha_0 = beta_0 = gamma_0 = 1, mu_0 = 0; myFM's reg_0 = 1.
DEFAULT_PRIORS = np.array([1.0, 1.0, 1.0, 0.0, 1.0])

_TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------- random draws
@nb.njit(cache=True, inline="always")
def standard_normal(state):
    """``(state, z)``: one N(0, 1) draw by Box-Muller (the cosine half) from two uniforms."""
    state, u1 = next_unit(state)
    state, u2 = next_unit(state)
    return state, math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)


@nb.njit(cache=True)
def gamma_draw(state, shape, rate):
    """``(state, g)``: one Gamma(shape, rate) draw (mean shape / rate), shape > 0, rate > 0.

    Marsaglia & Tsang (2000) for shape >= 1; below 1, their boost ``G(a) = G(a+1) U^(1/a)``.
    """
    boost = 1.0
    if shape < 1.0:
        state, u = next_unit(state)
        boost = (1.0 - u) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, x = standard_normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = next_unit(state)
        u = 1.0 - u  # in (0, 1]
        if u < 1.0 - 0.0331 * x * x * x * x:
            break
        if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            break
    return state, d * v * boost / rate


@nb.njit(cache=True, inline="always")
def _normal_draw(state, mean, precision, noise):
    # N(mean, 1/precision), or its mean when noise is 0.
    if noise == 0.0:
        return state, mean
    state, z = standard_normal(state)
    return state, mean + noise * z / math.sqrt(precision)


@nb.njit(cache=True, inline="always")
def _gamma_or_mean(state, shape, rate, noise):
    if noise == 0.0:
        return state, shape / rate
    return gamma_draw(state, shape, rate)


# ---------------------------------------------------------------------- caches and predictions
@nb.njit(cache=True)
def relation_caches(key_indptr, key_cols, key_vals, w, V, L, Q, T):
    """Per-key sums of every relation from scratch, in place.

    key_indptr : int64 (K + 1,); key_cols : int32 (nnz,); key_vals : float64 (nnz,)
        The relations' design rows stacked, CSR by global key.
    w : float64 (C,); V : float64 (C, k)
    L : float64 (K,) <- ``sum_j x_rj w_j``; Q, T : float64 (K, k) <- ``sum_j x_rj v_jf`` and
    ``sum_j x_rj^2 v_jf^2``.
    """
    k = V.shape[1]
    for r in range(len(key_indptr) - 1):
        L[r] = 0.0
        for f in range(k):
            Q[r, f] = 0.0
            T[r, f] = 0.0
        for p in range(key_indptr[r], key_indptr[r + 1]):
            j = key_cols[p]
            x = key_vals[p]
            L[r] += x * w[j]
            for f in range(k):
                xv = x * V[j, f]
                Q[r, f] += xv
                T[r, f] += xv * xv


@nb.njit(cache=True)
def fm_rows(row_keys, key_offset, w0, L, Q, T, out):
    """FM predictions (float64, into ``out`` (n,)) of rows given by their keys.

    row_keys : int32 (R, n), the key of each row in each relation (local to the relation);
    key_offset : int64 (R + 1,), where each relation's keys start in L, Q, T; w0 : float.
    ``y_hat = w0 + sum_b L[r_b] + 1/2 sum_f ((sum_b Q[r_b, f])^2 - sum_b T[r_b, f])``.
    """
    n_rel, n = row_keys.shape
    k = Q.shape[1]
    for i in range(n):
        s = w0
        for b in range(n_rel):
            s += L[key_offset[b] + row_keys[b, i]]
        for f in range(k):
            q = 0.0
            t = 0.0
            for b in range(n_rel):
                r = key_offset[b] + row_keys[b, i]
                q += Q[r, f]
                t += T[r, f]
            s += 0.5 * (q * q - t)
        out[i] = s


# ---------------------------------------------------------------------- per-relation sums
@nb.njit(cache=True)
def _key_residuals(b, e, row_keys, key_offset, E):
    # E_r = sum of e_i over the rows whose key in relation b is r.
    for r in range(key_offset[b], key_offset[b + 1]):
        E[r] = 0.0
    off = key_offset[b]
    for i in range(e.shape[0]):
        E[off + row_keys[b, i]] += e[i]


@nb.njit(cache=True, inline="always")
def _others(b, f, i, row_keys, key_offset, Q):
    # o_i: the part of q_if that the relations other than b hold.
    o = 0.0
    for c in range(row_keys.shape[0]):
        if c != b:
            o += Q[key_offset[c] + row_keys[c, i], f]
    return o


@nb.njit(cache=True)
def _key_sums(b, f, e, row_keys, key_offset, Q, S1, S2, E, EQ):
    # S1, S2, E, EQ of every key of relation b for factor f (module notes).
    for r in range(key_offset[b], key_offset[b + 1]):
        S1[r] = 0.0
        S2[r] = 0.0
        E[r] = 0.0
        EQ[r] = 0.0
    off = key_offset[b]
    for i in range(e.shape[0]):
        r = off + row_keys[b, i]
        o = _others(b, f, i, row_keys, key_offset, Q)
        S1[r] += o
        S2[r] += o * o
        E[r] += e[i]
        EQ[r] += e[i] * o


@nb.njit(cache=True, inline="always")
def _w_moments(j, col_indptr, col_keys, col_vals, key_count, E):
    # (sum_i h_i e_i, sum_i h_i^2) of w_j, h_i = x_ij.
    s1 = 0.0
    s2 = 0.0
    for p in range(col_indptr[j], col_indptr[j + 1]):
        r = col_keys[p]
        x = col_vals[p]
        s1 += x * E[r]
        s2 += x * x * key_count[r]
    return s1, s2


@nb.njit(cache=True, inline="always")
def _v_moments(j, f, v_old, col_indptr, col_keys, col_vals, key_count, Q, S1, S2, E, EQ):
    # (sum_i h_i e_i, sum_i h_i^2) of v_jf, h_i = x_ij (q_if - v_jf x_ij).
    s1 = 0.0
    s2 = 0.0
    for p in range(col_indptr[j], col_indptr[j + 1]):
        r = col_keys[p]
        x = col_vals[p]
        c = Q[r, f] - v_old * x
        s1 += x * (c * E[r] + EQ[r])
        s2 += x * x * (key_count[r] * c * c + 2.0 * c * S1[r] + S2[r])
    return s1, s2


@nb.njit(cache=True, inline="always")
def _posterior(theta, s1, s2, alpha, mu, lam):
    # (mean, precision) of the normal full conditional (module notes).
    precision = alpha * s2 + lam
    return (alpha * (s1 + theta * s2) + lam * mu) / precision, precision


# ---------------------------------------------------------------------- sweeps
@nb.njit(cache=True)
def _sweep_w(b, state, noise, e, row_keys, key_offset, key_count, col_indptr, col_keys,
             col_vals, relation_cols, col_group, col_active, w, alpha, mu_w, lam_w, L, E, D):
    # Draw every w_j of relation b; L and e kept up to date.
    _key_residuals(b, e, row_keys, key_offset, E)
    for r in range(key_offset[b], key_offset[b + 1]):
        D[r] = 0.0
    for j in range(relation_cols[b], relation_cols[b + 1]):
        if not col_active[j]:
            continue
        g = col_group[j]
        s1, s2 = _w_moments(j, col_indptr, col_keys, col_vals, key_count, E)
        mean, precision = _posterior(w[j], s1, s2, alpha, mu_w[g], lam_w[g])
        state, new = _normal_draw(state, mean, precision, noise)
        d = new - w[j]
        w[j] = new
        for p in range(col_indptr[j], col_indptr[j + 1]):
            r = col_keys[p]
            x = col_vals[p]
            E[r] -= d * x * key_count[r]
            D[r] += d * x
    off = key_offset[b]
    for r in range(key_offset[b], key_offset[b + 1]):
        L[r] += D[r]
    for i in range(e.shape[0]):
        e[i] -= D[off + row_keys[b, i]]
    return state


@nb.njit(cache=True)
def _sweep_v(b, f, state, noise, e, row_keys, key_offset, key_count, col_indptr, col_keys,
             col_vals, relation_cols, col_group, col_active, V, alpha, mu_v, lam_v, Q, T,
             S1, S2, E, EQ, Q_old, T_old):
    # Draw every v_jf of relation b for factor f; Q, T and e kept up to date.
    _key_sums(b, f, e, row_keys, key_offset, Q, S1, S2, E, EQ)
    for r in range(key_offset[b], key_offset[b + 1]):
        Q_old[r] = Q[r, f]
        T_old[r] = T[r, f]
    for j in range(relation_cols[b], relation_cols[b + 1]):
        if not col_active[j]:
            continue
        g = col_group[j]
        old = V[j, f]
        s1, s2 = _v_moments(j, f, old, col_indptr, col_keys, col_vals, key_count, Q, S1, S2,
                            E, EQ)
        mean, precision = _posterior(old, s1, s2, alpha, mu_v[g, f], lam_v[g, f])
        state, new = _normal_draw(state, mean, precision, noise)
        d = new - old
        V[j, f] = new
        for p in range(col_indptr[j], col_indptr[j + 1]):
            r = col_keys[p]
            x = col_vals[p]
            c = Q[r, f] - old * x
            E[r] -= d * x * (key_count[r] * c + S1[r])
            EQ[r] -= d * x * (c * S1[r] + S2[r])
            Q[r, f] += d * x
            T[r, f] += (new * new - old * old) * x * x
    # The rows' residuals: y_hat changed by the change of 1/2 (Q^2 - T) + Q o_i.
    off = key_offset[b]
    for i in range(e.shape[0]):
        r = off + row_keys[b, i]
        o = _others(b, f, i, row_keys, key_offset, Q)
        q_new = Q[r, f]
        q_old = Q_old[r]
        e[i] -= (0.5 * ((q_new * q_new - T[r, f]) - (q_old * q_old - T_old[r]))
                 + (q_new - q_old) * o)
    return state


@nb.njit(cache=True)
def _group_hypers(state, noise, theta, col_group, col_active, group_size, mu, lam, priors):
    # lambda then mu of every group, from the active columns' values theta (C,).
    n_groups = mu.shape[0]
    total = np.zeros(n_groups)
    for j in range(theta.shape[0]):
        if col_active[j]:
            total[col_group[j]] += theta[j]
    sq = np.zeros(n_groups)
    for j in range(theta.shape[0]):
        if col_active[j]:
            dev = theta[j] - mu[col_group[j]]
            sq[col_group[j]] += dev * dev
    gamma_0, mu_0 = priors[GAMMA_0], priors[MU_0]
    for g in range(n_groups):
        m = group_size[g]
        dev0 = mu[g] - mu_0
        shape = 0.5 * (priors[ALPHA_0] + m + 1.0)
        rate = 0.5 * (priors[BETA_0] + gamma_0 * dev0 * dev0 + sq[g])
        state, lam[g] = _gamma_or_mean(state, shape, rate, noise)
        precision = (m + gamma_0) * lam[g]
        state, mu[g] = _normal_draw(state, (total[g] + gamma_0 * mu_0) / (m + gamma_0),
                                    precision, noise)
    return state


@nb.njit(cache=True)
def gibbs_sweep(y, row_keys, key_offset, key_count, col_indptr, col_keys, col_vals,
                relation_cols, col_group, col_active, group_size, priors, scalars, w, V,
                mu_w, lam_w, mu_v, lam_v, e, L, Q, T, state, noise):
    """One Gibbs sweep over every parameter and hyperparameter (module notes), in place.

    Parameters
    ----------
    y : float64 (n,)
        Training targets.
    row_keys : int32 (R, n); key_offset : int64 (R + 1,)
        Each row's key in each relation; relation b's keys are global keys
        ``key_offset[b] .. key_offset[b + 1] - 1``.
    key_count : float64 (K,)
        Number of training rows of each global key (``n_r``).
    col_indptr : int64 (C + 1,); col_keys : int32 (nnz,); col_vals : float64 (nnz,)
        The stacked design matrices by column: global keys and values of column j.
    relation_cols : int64 (R + 1,)
        Relation b owns the columns ``relation_cols[b] .. relation_cols[b + 1] - 1``.
    col_group : int32 (C,); col_active : bool (C,); group_size : float64 (G,)
        Group of each column, whether any training row touches it, active columns per group.
    priors : float64 (5,)
        alpha_0, beta_0, gamma_0, mu_0, reg_0 (:data:`DEFAULT_PRIORS`).
    scalars : float64 (2,)
        ``[w0, alpha]``, updated.
    w : float64 (C,); V : float64 (C, k)
    mu_w, lam_w : float64 (G,); mu_v, lam_v : float64 (G, k)
    e : float64 (n,)
        ``y - y_hat``, consistent with the parameters on entry; kept so.
    L : float64 (K,); Q, T : float64 (K, k)
        :func:`relation_caches` of the parameters on entry; kept so.
    state : uint64
        SplitMix64 state.
    noise : float
        1.0 to sample; 0.0 replaces every draw by its mean.

    Returns
    -------
    uint64 : the stream's state after the sweep.
    """
    n = y.shape[0]
    n_rel = row_keys.shape[0]
    k = V.shape[1]
    n_keys = key_count.shape[0]
    # alpha | e
    sse = 0.0
    for i in range(n):
        sse += e[i] * e[i]
    state, scalars[1] = _gamma_or_mean(state, 0.5 * (priors[ALPHA_0] + n),
                                       0.5 * (priors[BETA_0] + sse), noise)
    alpha = scalars[1]
    # w0: h_i = 1, prior N(0, 1/reg_0)
    w0 = scalars[0]
    total = 0.0
    for i in range(n):
        total += e[i]
    mean, precision = _posterior(w0, total, float(n), alpha, 0.0, priors[REG_0])
    state, new = _normal_draw(state, mean, precision, noise)
    for i in range(n):
        e[i] -= new - w0
    scalars[0] = new
    # Work arrays, per global key.
    S1 = np.empty(n_keys)
    S2 = np.empty(n_keys)
    E = np.empty(n_keys)
    EQ = np.empty(n_keys)
    Q_old = np.empty(n_keys)
    T_old = np.empty(n_keys)
    state = _group_hypers(state, noise, w, col_group, col_active, group_size, mu_w, lam_w,
                          priors)
    for b in range(n_rel):
        state = _sweep_w(b, state, noise, e, row_keys, key_offset, key_count, col_indptr,
                         col_keys, col_vals, relation_cols, col_group, col_active, w, alpha,
                         mu_w, lam_w, L, E, S1)
    for f in range(k):
        state = _group_hypers(state, noise, V[:, f], col_group, col_active, group_size,
                              mu_v[:, f], lam_v[:, f], priors)
    for f in range(k):
        for b in range(n_rel):
            state = _sweep_v(b, f, state, noise, e, row_keys, key_offset, key_count,
                             col_indptr, col_keys, col_vals, relation_cols, col_group,
                             col_active, V, alpha, mu_v, lam_v, Q, T, S1, S2, E, EQ, Q_old,
                             T_old)
    return state


# ---------------------------------------------------------------------- test hook
@nb.njit(cache=True)
def coordinate_conditional(b, j, f, e, row_keys, key_offset, key_count, col_indptr, col_keys,
                           col_vals, w, V, Q, alpha, mu, lam):
    """(mean, variance) of the full conditional of ``w_j`` (``f < 0``) or ``v_jf`` (``f >=
    0``), column ``j`` of relation ``b``, from the caches, with prior ``N(mu, 1/lam)``: the
    sums and formulas :func:`gibbs_sweep` uses, exposed for the oracle tests."""
    n_keys = key_count.shape[0]
    S1 = np.zeros(n_keys)
    S2 = np.zeros(n_keys)
    E = np.zeros(n_keys)
    EQ = np.zeros(n_keys)
    if f < 0:
        _key_residuals(b, e, row_keys, key_offset, E)
        s1, s2 = _w_moments(j, col_indptr, col_keys, col_vals, key_count, E)
        mean, precision = _posterior(w[j], s1, s2, alpha, mu, lam)
    else:
        _key_sums(b, f, e, row_keys, key_offset, Q, S1, S2, E, EQ)
        s1, s2 = _v_moments(j, f, V[j, f], col_indptr, col_keys, col_vals, key_count, Q, S1,
                            S2, E, EQ)
        mean, precision = _posterior(V[j, f], s1, s2, alpha, mu, lam)
    return mean, 1.0 / precision
