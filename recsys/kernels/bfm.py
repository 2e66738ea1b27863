"""Gibbs sampling for a second-order factorization machine on relational feature blocks.

The model (Rendle, "Factorization Machines", ICDM 2010, eq. 1) of a row ``x`` is::

    y_hat(x) = w0 + sum_j w_j x_j + sum_{j < l} <v_j, v_l> x_j x_l
             = w0 + sum_j w_j x_j + 1/2 sum_f [(sum_j v_jf x_j)^2 - sum_j v_jf^2 x_j^2]

with a Gaussian likelihood ``y ~ N(y_hat, 1/alpha)`` and the Normal-Gamma hierarchy of libFM's
MCMC (Freudenthaler, Schmidt-Thieme & Rendle, "Bayesian Factorization Machines", NIPS workshop
2011; Rendle, "Factorization Machines with libFM", ACM TIST 2012, the MCMC section):
``w_j ~ N(mu_w[g], 1/lambda_w[g])`` and ``v_jf ~ N(mu_v[f, g], 1/lambda_v[f, g])`` for the group
``g`` of feature ``j``, ``mu ~ N(mu_0, 1/(gamma_0 lambda))``, ``lambda ~ Gamma(alpha_0/2,
beta_0/2)``, ``alpha ~ Gamma(alpha_0/2, beta_0/2)``, ``w0 ~ N(0, 1/reg_0)``.

Every parameter ``theta`` enters ``y_hat`` linearly, ``y_hat_i = g_i + theta h_i``, so its full
conditional is normal::

    precision = alpha sum_i h_i^2 + lambda_theta
    mean      = (alpha sum_i (e_i + theta h_i) h_i + lambda_theta mu_theta) / precision

where ``e_i = y_i - y_hat_i`` is kept for every training row and updated in place after each
draw (libFM's residual caching). For ``w_j`` the gradient is ``h_i = x_ij``; for ``v_jf`` it is
``h_i = x_ij (q_if - v_jf x_ij)`` with ``q_if = sum_l v_lf x_il``, also cached.

Relational blocks (Rendle, "Scaling Factorization Machines to Relational Data", VLDB 2013).
The columns are split into relations: users (b = 0), items (b = 1) and, with a time block,
time bins (b = 2); the notes below are written for two, and with three ``o_i`` is the sum over
both other keys. A training row
``i`` has one key ``r = k_b(i)`` in each, and its features in relation ``b`` are the row ``r``
of that relation's design matrix ``B_b`` (the user relation's row holds the user's one-hot
column and the normalised set of items they rated; every rating of the user shares it).
With ``Q[f, r] = sum_j B_b[r, j] v_jf`` (and ``L[r] = sum_j B_b[r, j] w_j``, ``T[f, r] = sum_j
B_b[r, j]^2 v_jf^2``) cached per key, ``q_if = Q[f, k_0(i)] + Q[f, k_1(i)]``. Updating the
columns of relation ``b`` for factor ``f`` needs, per key ``r`` of ``b``, sums over its ``n_r``
rows, with ``o_i = Q[f, s]`` the part of ``q_if`` held by the row's key ``s`` in the other
relation::

    S1_r = sum o_i,  S2_r = sum o_i^2,  E_r = sum e_i,  EQ_r = sum e_i o_i

after which a column's conditional costs O(nnz of its column of ``B_b``): with ``c = Q[f, r] -
v_jf x`` (``x = B_b[r, j]``)::

    sum_i h_i^2 = sum_r x^2 (n_r c^2 + 2 c S1_r + S2_r),    sum_i h_i e_i = sum_r x (c E_r + EQ_r)

and a draw changing ``v_jf`` by ``d`` updates ``E_r -= d x (n_r c + S1_r)``, ``EQ_r -= d x (c S1_r
+ S2_r)``, ``Q[f, r] += d x``. The rows' ``e_i`` learn of the block's draws from the change of
``1/2 (Q^2 - T) + Q o_i`` per key, in the next block's pass over the rows, which then sums
for its own relation (key by key of it, so every sum stays in a register). A sweep makes
``2 (k + 1) + 1`` passes over the rows and two over the design's nonzeros per factor: it costs
``O(k (n + nnz(B)))`` instead of ``O(k sum_i nnz(x_i))``, so the implicit-feedback blocks grow
with the number of distinct users and items, not with ratings times set size.

Order of one sweep (as myFM's Gibbs trainer, which follows libFM): alpha, w0, (lambda_w,
mu_w) per group, every w_j relation by relation, (lambda_v, mu_v) per group and factor, then
for each factor f every v_jf relation by relation, columns ascending. The hyperprior draws are
libFM's: ``lambda ~ Gamma((alpha_0 + m_g + 1)/2, (beta_0 + gamma_0 (mu - mu_0)^2 + sum (theta -
mu)^2)/2)`` then ``mu ~ N((sum theta + gamma_0 mu_0)/(m_g + gamma_0), 1/((m_g + gamma_0)
lambda))``, over the ``m_g`` active columns of the group (a column no training row touches is
left out of the model: it stays 0 and is not drawn).

Random numbers come from one SplitMix64 stream (:mod:`recsys.kernels.splitmix`), drawn by
:mod:`recsys.kernels.draws` (Marsaglia & Tsang's ziggurat normals and squeeze gammas).
Single-threaded: the sweep is sequential by nature, and one seed gives one chain on any
machine. ``noise = 0`` replaces every draw by its mean (normal: the conditional mean; gamma:
shape / rate), a deterministic sweep the tests compare with a slow NumPy transcription.

Dtypes: float64 for every parameter, cache and design value (sums over tens of thousands of
rows; the conditional's precision), int32 keys and column indices, int64 offsets.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from recsys.kernels.draws import gamma_draw, standard_normal

#: Positions in the ``priors`` array every sweep takes.
ALPHA_0, BETA_0, GAMMA_0, MU_0, REG_0 = 0, 1, 2, 3, 4
#: libFM's and myFM's defaults: alpha_0 = beta_0 = gamma_0 = 1, mu_0 = 0; myFM's reg_0 = 1.
DEFAULT_PRIORS = np.array([1.0, 1.0, 1.0, 0.0, 1.0])


# ---------------------------------------------------------------------- draws
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
    w : float64 (C,); V : float64 (k, C)
    L : float64 (K,) <- ``sum_j x_rj w_j``; Q, T : float64 (k, K) <- ``sum_j x_rj v_jf`` and
    ``sum_j x_rj^2 v_jf^2``.
    """
    k = V.shape[0]
    for r in range(len(key_indptr) - 1):
        L[r] = 0.0
        for f in range(k):
            Q[f, r] = 0.0
            T[f, r] = 0.0
        for p in range(key_indptr[r], key_indptr[r + 1]):
            j = key_cols[p]
            x = key_vals[p]
            L[r] += x * w[j]
            for f in range(k):
                xv = x * V[f, j]
                Q[f, r] += xv
                T[f, r] += xv * xv


@nb.njit(cache=True)
def fm_rows(row_keys, key_offset, w0, L, Q, T, out):
    """FM predictions (float64, into ``out`` (n,)) of rows given by their keys.

    row_keys : int32 (R, n), the key of each row in each relation (local to the relation);
    key_offset : int64 (R + 1,), where each relation's keys start in L, Q, T; w0 : float.
    ``y_hat = w0 + sum_b L[r_b] + 1/2 sum_f ((sum_b Q[f, r_b])^2 - sum_b T[f, r_b])``.
    """
    n_rel, n = row_keys.shape
    k = Q.shape[0]
    for i in range(n):
        s = w0
        for b in range(n_rel):
            s += L[key_offset[b] + row_keys[b, i]]
        for f in range(k):
            q = 0.0
            t = 0.0
            for b in range(n_rel):
                r = key_offset[b] + row_keys[b, i]
                q += Q[f, r]
                t += T[f, r]
            s += 0.5 * (q * q - t)
        out[i] = s


# ---------------------------------------------------------------------- row passes
#: Columns of the per-key work array W (K, 8) of the block being drawn.
_S1, _S2, _E, _EQ, _Q, _T, _N = 0, 1, 2, 3, 4, 5, 6
#: The residual update a row pass applies before its sums (the previous block's): none,
#: ``e_i -= shift`` (w0), ``e_i -= dA[s]`` (the other relation's w), ``e_i -= dB[s] + dA[s]
#: Q[pf, r]`` (the other relation's v_pf), with ``s`` the row's key in the other relation and
#: ``r`` its key in the pass's relation (whose Q[pf] is the o_i of that block).
NONE, SHIFT, LINEAR, PAIR = 0, 1, 2, 3


@nb.njit(cache=True)
def _row_pass(b, f, pend, pf, shift, e, key_offset, key_row_ptr, rows_by_key, other_keys, Q,
              dA, dB, W):
    # One pass over the rows, key by key of relation b: first the pending update of each
    # e_i (the previous block's, always of another relation: the row's last other key),
    # then the sums of the block into W: E only (f < 0, a w block), or S1, S2, E, EQ (f >= 0,
    # a v block; o_i is Q[f, s] summed over the row's keys s in the other relations). With
    # two relations each combination is its own loop: a loop that branches on them row by
    # row runs several times slower; with more, one general loop.
    n_other = other_keys.shape[1]
    last = n_other - 1
    for r in range(key_offset[b], key_offset[b + 1]):
        lo, hi = key_row_ptr[r], key_row_ptr[r + 1]
        se = 0.0
        if f < 0:
            if pend == SHIFT:
                for q in range(lo, hi):
                    i = rows_by_key[q]
                    ei = e[i] - shift
                    e[i] = ei
                    se += ei
            elif pend == LINEAR:
                for q in range(lo, hi):
                    i = rows_by_key[q]
                    ei = e[i] - dA[other_keys[q, last]]
                    e[i] = ei
                    se += ei
            else:
                for q in range(lo, hi):
                    se += e[rows_by_key[q]]
            W[r, _E] = se
            continue
        s1 = 0.0
        s2 = 0.0
        seq = 0.0
        if n_other == 2 and pend == PAIR:
            # Three relations (the time block's), each case unrolled as for two.
            for q in range(lo, hi):
                i = rows_by_key[q]
                s0 = other_keys[q, 0]
                s = other_keys[q, 1]
                ei = e[i] - (dB[s] + dA[s] * (Q[pf, r] + Q[pf, s0]))
                e[i] = ei
                o = Q[f, s0] + Q[f, s]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        elif n_other == 2 and pend == LINEAR:
            for q in range(lo, hi):
                i = rows_by_key[q]
                s = other_keys[q, 1]
                ei = e[i] - dA[s]
                e[i] = ei
                o = Q[f, other_keys[q, 0]] + Q[f, s]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        elif n_other == 2:
            for q in range(lo, hi):
                ei = e[rows_by_key[q]]
                o = Q[f, other_keys[q, 0]] + Q[f, other_keys[q, 1]]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        elif n_other > 2:
            # Four or more relations: o_i and the pending pair update sum over several
            # other keys (the previous block's relation is the last, see _row_keys).
            for q in range(lo, hi):
                i = rows_by_key[q]
                ei = e[i]
                if pend == PAIR:
                    s = other_keys[q, last]
                    qsum = Q[pf, r]
                    for m in range(last):
                        qsum += Q[pf, other_keys[q, m]]
                    ei -= dB[s] + dA[s] * qsum
                    e[i] = ei
                elif pend == LINEAR:
                    ei -= dA[other_keys[q, last]]
                    e[i] = ei
                o = 0.0
                for m in range(n_other):
                    o += Q[f, other_keys[q, m]]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        elif pend == PAIR:
            qr = Q[pf, r]
            for q in range(lo, hi):
                i = rows_by_key[q]
                s = other_keys[q, 0]
                ei = e[i] - (dB[s] + dA[s] * qr)
                e[i] = ei
                o = Q[f, s]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        elif pend == LINEAR:
            for q in range(lo, hi):
                i = rows_by_key[q]
                s = other_keys[q, 0]
                ei = e[i] - dA[s]
                e[i] = ei
                o = Q[f, s]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        else:
            for q in range(lo, hi):
                ei = e[rows_by_key[q]]
                o = Q[f, other_keys[q, 0]]
                s1 += o
                s2 += o * o
                se += ei
                seq += ei * o
        W[r, _S1] = s1
        W[r, _S2] = s2
        W[r, _E] = se
        W[r, _EQ] = seq


@nb.njit(cache=True)
def _finish_pair(pf, e, key_offset, key_row_ptr, rows_by_key, other_keys, Q, dA, dB):
    # The last block's update (the last relation, factor pf) of every e_i, key by key of
    # relation 0 (whose listed rows have that relation's key last).
    last = other_keys.shape[1] - 1
    for r in range(key_offset[0], key_offset[1]):
        qr = Q[pf, r]
        for q in range(key_row_ptr[r], key_row_ptr[r + 1]):
            s = other_keys[q, last]
            qsum = qr
            for m in range(last):
                qsum += Q[pf, other_keys[q, m]]
            e[rows_by_key[q]] -= dB[s] + dA[s] * qsum


@nb.njit(cache=True, inline="always")
def _w_moments(j, col_indptr, col_keys, col_vals, W):
    # (sum_i h_i e_i, sum_i h_i^2) of w_j, h_i = x_ij.
    s1 = 0.0
    s2 = 0.0
    for p in range(col_indptr[j], col_indptr[j + 1]):
        r = col_keys[p]
        x = col_vals[p]
        s1 += x * W[r, _E]
        s2 += x * x * W[r, _N]
    return s1, s2


@nb.njit(cache=True, inline="always")
def _v_moments(j, v_old, col_indptr, col_keys, col_vals, W):
    # (sum_i h_i e_i, sum_i h_i^2) of v_jf, h_i = x_ij (q_if - v_jf x_ij); W holds Q[f].
    s1 = 0.0
    s2 = 0.0
    for p in range(col_indptr[j], col_indptr[j + 1]):
        r = col_keys[p]
        x = col_vals[p]
        c = W[r, _Q] - v_old * x
        s1 += x * (c * W[r, _E] + W[r, _EQ])
        s2 += x * x * (W[r, _N] * c * c + 2.0 * c * W[r, _S1] + W[r, _S2])
    return s1, s2


@nb.njit(cache=True, inline="always")
def _posterior(theta, s1, s2, alpha, mu, lam):
    # (mean, precision) of the normal full conditional (module notes).
    precision = alpha * s2 + lam
    return (alpha * (s1 + theta * s2) + lam * mu) / precision, precision


# ---------------------------------------------------------------------- column phases
@nb.njit(cache=True)
def _draw_w(b, state, noise, col_indptr, col_keys, col_vals, relation_cols, col_group,
            col_active, key_offset, w, alpha, mu_w, lam_w, L, dA, W):
    # Draw every w_j of relation b from W's sums; L updated, the rows' update left in dA.
    for r in range(key_offset[b], key_offset[b + 1]):
        dA[r] = 0.0
    for j in range(relation_cols[b], relation_cols[b + 1]):
        if not col_active[j]:
            continue
        g = col_group[j]
        s1, s2 = _w_moments(j, col_indptr, col_keys, col_vals, W)
        mean, precision = _posterior(w[j], s1, s2, alpha, mu_w[g], lam_w[g])
        state, new = _normal_draw(state, mean, precision, noise)
        d = new - w[j]
        w[j] = new
        for p in range(col_indptr[j], col_indptr[j + 1]):
            r = col_keys[p]
            x = col_vals[p]
            W[r, _E] -= d * x * W[r, _N]
            dA[r] += d * x
    for r in range(key_offset[b], key_offset[b + 1]):
        L[r] += dA[r]
    return state


@nb.njit(cache=True)
def _draw_v(b, f, state, noise, col_indptr, col_keys, col_vals, relation_cols, col_group,
            col_active, key_offset, V, alpha, mu_v, lam_v, Q, T, dA, dB, W):
    # Draw every v_jf of relation b from W's sums; Q[f], T[f] updated, the rows' update
    # left in dA (change of Q) and dB (change of 1/2 (Q^2 - T)).
    for r in range(key_offset[b], key_offset[b + 1]):
        W[r, _Q] = Q[f, r]
        W[r, _T] = T[f, r]
    for j in range(relation_cols[b], relation_cols[b + 1]):
        if not col_active[j]:
            continue
        g = col_group[j]
        old = V[f, j]
        s1, s2 = _v_moments(j, old, col_indptr, col_keys, col_vals, W)
        mean, precision = _posterior(old, s1, s2, alpha, mu_v[f, g], lam_v[f, g])
        state, new = _normal_draw(state, mean, precision, noise)
        d = new - old
        V[f, j] = new
        dsq = new * new - old * old
        for p in range(col_indptr[j], col_indptr[j + 1]):
            r = col_keys[p]
            x = col_vals[p]
            c = W[r, _Q] - old * x
            W[r, _E] -= d * x * (W[r, _N] * c + W[r, _S1])
            W[r, _EQ] -= d * x * (c * W[r, _S1] + W[r, _S2])
            W[r, _Q] += d * x
            W[r, _T] += dsq * x * x
    for r in range(key_offset[b], key_offset[b + 1]):
        q_new, t_new = W[r, _Q], W[r, _T]
        q_old, t_old = Q[f, r], T[f, r]
        dA[r] = q_new - q_old
        dB[r] = 0.5 * ((q_new * q_new - t_new) - (q_old * q_old - t_old))
        Q[f, r] = q_new
        T[f, r] = t_new
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


# ---------------------------------------------------------------------- the sweep
@nb.njit(cache=True)
def gibbs_sweep(key_offset, key_count, key_row_ptr, rows_by_key, other_keys, col_indptr,
                col_keys, col_vals, relation_cols, col_group, col_active, group_size, priors,
                scalars, w, V, mu_w, lam_w, mu_v, lam_v, e, L, Q, T, state, noise):
    """One Gibbs sweep over every parameter and hyperparameter (module notes), in place.

    Parameters
    ----------
    key_offset : int64 (R + 1,)
        Relation b (0 .. R - 1, R >= 2) has the global keys ``key_offset[b] ..
        key_offset[b + 1] - 1``.
    key_count : float64 (K,)
        Number of training rows of each global key (``n_r``).
    key_row_ptr : int64 (K + 1,); rows_by_key : int32 (R n,)
        The rows of each key: ``rows_by_key[key_row_ptr[r]:key_row_ptr[r + 1]]``; each
        relation lists every row once, relation 0 first.
    other_keys : int32 (R n, R - 1)
        ``other_keys[q, m]``: the global key of the row ``rows_by_key[q]`` in relation
        ``(b + 1 + m) % R``, b the relation that lists it: the previous relation (the one
        whose block was drawn just before b's) is last.
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
    w : float64 (C,); V : float64 (k, C)
    mu_w, lam_w : float64 (G,); mu_v, lam_v : float64 (k, G)
    e : float64 (n,)
        ``y - y_hat``, consistent with the parameters on entry; kept so.
    L : float64 (K,); Q, T : float64 (k, K)
        :func:`relation_caches` of the parameters on entry; kept so.
    state : uint64
        SplitMix64 state.
    noise : float
        1.0 to sample; 0.0 replaces every draw by its mean.

    Returns
    -------
    uint64 : the stream's state after the sweep.
    """
    n = e.shape[0]
    k = V.shape[0]
    n_keys = key_count.shape[0]
    W = np.zeros((n_keys, 8))
    W[:, _N] = key_count
    dA = np.zeros(n_keys)
    dB = np.zeros(n_keys)
    # alpha | e, then w0 (h_i = 1, prior N(0, 1/reg_0)); its shift is the first pending.
    sse = 0.0
    total = 0.0
    for i in range(n):
        sse += e[i] * e[i]
        total += e[i]
    state, scalars[1] = _gamma_or_mean(state, 0.5 * (priors[ALPHA_0] + n),
                                       0.5 * (priors[BETA_0] + sse), noise)
    alpha = scalars[1]
    w0 = scalars[0]
    mean, precision = _posterior(w0, total, float(n), alpha, 0.0, priors[REG_0])
    state, scalars[0] = _normal_draw(state, mean, precision, noise)
    pend, pf, shift = SHIFT, 0, scalars[0] - w0
    state = _group_hypers(state, noise, w, col_group, col_active, group_size, mu_w, lam_w,
                          priors)
    n_rel = key_offset.shape[0] - 1
    for b in range(n_rel):
        _row_pass(b, -1, pend, pf, shift, e, key_offset, key_row_ptr, rows_by_key,
                  other_keys, Q, dA, dB, W)
        state = _draw_w(b, state, noise, col_indptr, col_keys, col_vals, relation_cols,
                        col_group, col_active, key_offset, w, alpha, mu_w, lam_w, L, dA, W)
        pend = LINEAR
    for f in range(k):
        state = _group_hypers(state, noise, V[f], col_group, col_active, group_size,
                              mu_v[f], lam_v[f], priors)
    for f in range(k):
        for b in range(n_rel):
            _row_pass(b, f, pend, pf, shift, e, key_offset, key_row_ptr, rows_by_key,
                      other_keys, Q, dA, dB, W)
            state = _draw_v(b, f, state, noise, col_indptr, col_keys, col_vals,
                            relation_cols, col_group, col_active, key_offset, V, alpha, mu_v,
                            lam_v, Q, T, dA, dB, W)
            pend, pf = PAIR, f
    _finish_pair(pf, e, key_offset, key_row_ptr, rows_by_key, other_keys, Q, dA, dB)
    return state


# ---------------------------------------------------------------------- test hook
@nb.njit(cache=True)
def coordinate_conditional(b, j, f, e, key_offset, key_count, key_row_ptr, rows_by_key,
                           other_keys, col_indptr, col_keys, col_vals, w, V, Q, T, alpha, mu,
                           lam):
    """(mean, variance) of the full conditional of ``w_j`` (``f < 0``) or ``v_jf`` (``f >=
    0``), column ``j`` of relation ``b``, from the caches, with prior ``N(mu, 1/lam)``: the
    row pass and moments :func:`gibbs_sweep` uses, exposed for the oracle tests."""
    n_keys = key_count.shape[0]
    W = np.zeros((n_keys, 8))
    W[:, _N] = key_count
    unused = np.zeros(n_keys)
    _row_pass(b, f, NONE, 0, 0.0, e, key_offset, key_row_ptr, rows_by_key, other_keys, Q,
              unused, unused, W)
    if f < 0:
        s1, s2 = _w_moments(j, col_indptr, col_keys, col_vals, W)
        mean, precision = _posterior(w[j], s1, s2, alpha, mu, lam)
    else:
        for r in range(n_keys):
            W[r, _Q] = Q[f, r]
            W[r, _T] = T[f, r]
        s1, s2 = _v_moments(j, V[f, j], col_indptr, col_keys, col_vals, W)
        mean, precision = _posterior(V[f, j], s1, s2, alpha, mu, lam)
    return mean, 1.0 / precision
