"""The Bradley-Terry fit's information and its cluster-robust (sandwich) covariance, for the
sampling rules in ``sampling.py``: the Fisher information (a weighted graph Laplacian), each
cluster's score outer products (one-way: Cameron & Miller, "A Practitioner's Guide to
Cluster-Robust Inference", J. Human Resources 2015; two-way: Cameron, Gelbach & Miller, JBES
2011) with the small-cluster correction G / (G - 1), Satterthwaite's degrees of freedom for a
variance whose excess is estimated from few clusters, and a Student-t statistic on the normal
scale. Pure NumPy/SciPy.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri, stdtr


def incidence(lo: np.ndarray, hi: np.ndarray, n_models: int) -> np.ndarray:
    """float[P, M]: e_lo - e_hi for every pair (the direction a vote's score moves)."""
    matrix = np.zeros((lo.size, n_models))
    matrix[np.arange(lo.size), lo] = 1.0
    matrix[np.arange(lo.size), hi] = -1.0
    return matrix


def cluster_meat(strength: np.ndarray, cluster_counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum_g S_g S_g' float[..., M, M], clusters with votes float[...]) for cluster counts
    float[..., G, P, 3]: S_g is the score of cluster g's votes, sum (y - p)(e_lo - e_hi)."""
    cluster_counts = np.asarray(cluster_counts, dtype=np.float64)
    n_models = strength.shape[-1]
    p = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))  # [..., P]
    won = cluster_counts[..., 0] + 0.5 * cluster_counts[..., 2]
    games = cluster_counts.sum(axis=-1)
    residual = won - games * p[..., None, :]  # [..., G, P]
    score = residual @ incidence(lo, hi, n_models)  # [..., G, M]
    meat = np.einsum("...gm,...gn->...mn", score, score)
    clusters = (games.sum(axis=-1) > 0).sum(axis=-1).astype(np.float64)
    return meat, clusters


def vote_meat(strength: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """sum over votes of s_v s_v' (each vote its own cluster), from counts float[..., P, 3]:
    the heteroskedasticity-robust meat, which two-way clustering subtracts when the (prompt,
    rater) cells are not at hand (each vote lies in one cell, so this subtracts no more than the
    cells would: conservative)."""
    p = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))
    squares = counts[..., 0] * (1.0 - p) ** 2 + counts[..., 1] * p**2 + counts[..., 2] * (0.5 - p) ** 2  # [..., P]
    u = incidence(lo, hi, strength.shape[-1])
    return np.einsum("...k,km,kn->...mn", squares, u, u)


def robust_covariance(strength, covariance, clustered, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """The cluster-robust (sandwich) covariance H^-1 B H^-1 with the small-cluster correction
    G / (G - 1) per term, summed with the terms' signs (two-way: Cameron, Gelbach & Miller 2011)
    and its negative eigenvalues set to zero; and the clusters of the fewest-cluster positive term."""
    total = np.zeros_like(covariance)
    fewest = None
    for cluster_counts, sign in clustered:
        if np.ndim(cluster_counts) == strength.ndim + 1:  # float[..., P, 3]: every vote its own cluster
            total = total + sign * vote_meat(strength, np.asarray(cluster_counts, dtype=np.float64), lo, hi)
            continue
        meat, clusters = cluster_meat(strength, cluster_counts, lo, hi)
        correction = np.where(clusters > 1, clusters / np.maximum(clusters - 1.0, 1.0), 1.0)
        total = total + sign * correction[..., None, None] * meat
        if sign > 0:
            fewest = clusters if fewest is None else np.minimum(fewest, clusters)
    robust = covariance @ total @ covariance
    if len(clustered) > 1:
        values, vectors = np.linalg.eigh(0.5 * (robust + np.swapaxes(robust, -1, -2)))
        robust = (vectors * np.maximum(values, 0.0)[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    return robust, fewest


def vote_information(strength: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fisher information of one vote on each pair, p (1 - p): float[..., P]."""
    p = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))
    return p * (1.0 - p)


def fisher_information(strength, games, lo, hi, n_models) -> np.ndarray:
    """The Bradley-Terry Fisher information (a weighted graph Laplacian): float[..., M, M]."""
    weight = games * vote_information(strength, lo, hi)
    lead = weight.shape[:-1]
    information = np.zeros((*lead, n_models, n_models))
    information[..., lo, hi] = -weight
    information[..., hi, lo] = -weight
    diagonal = np.arange(n_models)
    information[..., diagonal, diagonal] = -information.sum(axis=-1)
    return information


def t_to_z(z: np.ndarray, df: np.ndarray | None) -> np.ndarray:
    """A statistic that is Student-t with ``df`` degrees of freedom (broadcast with z), on the
    normal scale (the same tail probability); unchanged where df is None or infinite."""
    if df is None:
        return z
    df = np.maximum(np.asarray(df, dtype=np.float64), 1.0)
    tail = stdtr(np.minimum(df, 1e6), -np.abs(z))
    return np.where(df >= 1e6, z, np.sign(z) * -ndtri(np.maximum(tail, 1e-300)))


def effective_df(variance: np.ndarray, excess: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Degrees of freedom of a variance made of a model-based part (taken as known) and an excess
    estimated from ``clusters`` clusters (Satterthwaite): clusters - 1 when the excess is all of
    it, growing without bound as the excess vanishes (a homogeneous study pays no few-cluster
    penalty)."""
    clusters = np.asarray(clusters, dtype=np.float64)[..., None]
    share = np.maximum(excess, 0.0) / np.maximum(variance, 1e-300)
    return np.minimum((np.maximum(clusters, 2.0) - 1.0) / np.maximum(share, 1e-12) ** 2, 1e6)


def difference_variance(covariance: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Var(r_i - r_j) for index arrays i, j (broadcast over the leading axes)."""
    ii = np.take_along_axis(np.diagonal(covariance, axis1=-2, axis2=-1), i, axis=-1)
    jj = np.take_along_axis(np.diagonal(covariance, axis1=-2, axis2=-1), j, axis=-1)
    rows = np.take_along_axis(covariance, i[..., :, None], axis=-2)  # [..., K, M]
    ij = np.take_along_axis(rows, j[..., :, None], axis=-1)[..., 0]
    return np.maximum(ii + jj - 2.0 * ij, 1e-300)


def contrast_covariance(covariance: np.ndarray) -> np.ndarray:
    """J Sigma J, J = I - 11'/M: the covariance of the strengths minus their mean (the constant
    direction, which the data say nothing about, removed)."""
    n_models = covariance.shape[-1]
    centre = np.eye(n_models) - 1.0 / n_models
    return centre @ covariance @ centre
