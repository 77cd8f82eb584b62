"""The style map: how the clips a model has heard sit in its embedding space, against the genres.

Reads ``<run_dir>/embeddings/<source>.npz`` (one per neural model, ``mfcc-140`` and each
pretrained network the run embedded its clips with (``musicnn-msd``: its penultimate layer), the
baselines' standardised input; the format is in :mod:`harness.run.embeddings`) and gives
one result per source, computed on the labelled clips in the embedding space (never on the
t-SNE coordinates, which only draw the figure):

- **kNN purity**: for each clip, the share of its ``K_NEIGHBOURS`` nearest other labelled clips
  (cosine distance, leave-one-out) that carry its genre; per genre and overall, beside chance:
  a genre's chance is its frequency among the other clips, ``(n_g - 1) / (n - 1)``, the overall
  chance the mean of that over the clips (about the sum of the squared class frequencies).
  "held-out" averages over the validation and test clips only (neighbours from every split):
  for a neural model, training clips were fitted, so their purity flatters it;
- **silhouette** by genre (cosine);
- **clusters without labels**: k-means with one cluster per genre on the unit-length
  standardised embeddings (cosine geometry), seeded, ``KMEANS_INIT`` starts, scored against the
  genres with the adjusted Rand index and normalised mutual information;
- the figure: the stored t-SNE map coloured by genre, unlabelled clips as grey crosses, and a
  second panel coloured by year when the metadata has dates.

Every distance is taken on the embedding standardised over all the source's clips (each
dimension z-scored): the dimensions of a penultimate layer, and MFCC statistics even more, come
in very different scales, and a handful of loud dimensions would otherwise decide every
neighbour. Cosine on top of it compares directions: the final layer is linear, so a genre is a
direction in this space, while an embedding's norm mostly follows the input's level.

Verdict: PASS when the overall purity is clearly above chance, i.e. its lift
``(purity - chance) / (1 - chance)`` (0: chance, 1: every neighbour agrees) is at least
``MIN_LIFT``; WARN below that (the space barely groups clips by genre); SKIP with the reason when
the source has no embeddings file, no map, or too few labelled clips. Multi-label runs are
coloured and scored by each track's ``genre_top`` where the tracks table has one.

``unlabelled_neighbours`` lists every unlabelled clip (the challenge clips; in a multi-label
run also the tracks without a genre_top) with the two genres most common among its
``K_NEIGHBOURS`` nearest labelled clips, for each source, and writes all rows to
``embeddings/unlabelled_neighbours.csv``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from harness.checks.base import CheckResult, skip
from harness.checks.runs.style_figures import style_map_figure
from harness.errors import HarnessError
from harness.registry import get_entry, pretrained_inputs
from harness.run_layout import IN_RUN, RunLayout, run_config
from harness.scoring.submission.score import read_answers

FAMILY = "style map"
MFCC_SOURCE = "mfcc-140"  # the baselines' input, standardised
#: The layer of a pretrained network written to ``embeddings/<source>.npz`` (per 3 s patch):
#: musicnn's penultimate layer, or an ``hf:`` source's mean hidden state (per 5 s window).
PRETRAINED_LAYERS = ("penultimate", "hidden_mean")
# embeddings/<source>.skipped.json (RunLayout.embedding_skipped): {"reason": why that source has
# no embeddings file}; one file per source, as models trained side by side may skip at once
K_NEIGHBOURS = 10
MIN_LIFT = 0.2  # purity must close this share of the gap between chance and 1 to PASS
MIN_MAP_CLIPS = 10  # fewer clips: no t-SNE map, and a SKIP
KMEANS_INIT = 10
SILHOUETTE_SAMPLE = 5000  # silhouette is O(n^2): a seeded sample above this many clips
HELD_OUT = ("validation", "test")
# Up to this many clips the scores and the t-SNE map run on one thread: the OpenMP threads of
# k-means and Barnes-Hut t-SNE spin-wait on each other, and on 2 busy cores (or next to torch's
# threads) they took 1.9 s for these scores and 44 s for a 20-clip map, against 0.06 s and
# 0.2 s on one thread (400 clips; the 480-clip map: 6.6 s against 2.0 s).
SERIAL_CLIPS = 5000
SCALARS = ("source", "label_note", "year_source", "map_note", "map_metric")


def standardised(X: np.ndarray) -> np.ndarray:
    """Each column z-scored over the rows (a constant column becomes 0): float64 (n, D)."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def one_thread_below(n: int) -> threadpool_limits:
    """A context running BLAS and OpenMP on one thread for ``n`` <= ``SERIAL_CLIPS`` clips."""
    return threadpool_limits(limits=1 if n <= SERIAL_CLIPS else None)


def load_embedding(path: Path) -> dict[str, np.ndarray | str]:
    """The arrays of one ``<source>.npz``; the scalar entries (``SCALARS``) as str."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for name in SCALARS:
        if name in arrays:
            arrays[name] = str(arrays[name])
    return arrays


def expected_sources(config: dict) -> list[str]:
    """The run's neural models (registry order as given), ``mfcc-140``, then the pretrained
    sources its embeddings models read (their penultimate layer)."""
    neural, pretrained = [], []
    for name in config.get("models", []):
        try:
            entry = get_entry(name)
            if entry.is_neural:
                neural.append(name)
            params = (config.get("params") or {}).get(name)
            pretrained += [source for source, _ in pretrained_inputs(entry, params)]
        except HarnessError:  # a model no longer installed: no embedding expected of it
            continue
    return [*neural, MFCC_SOURCE, *dict.fromkeys(pretrained)]


def missing_reason(run_dir: Path, source: str, config: dict) -> str:
    """Why ``source`` has no embeddings file, as a SKIP finding."""
    if config.get("style_map") is False:
        return f"{source}: style map off for this run (--no-style-map or style_map = false)"
    path = RunLayout(Path(run_dir)).embedding_skipped(source)
    if path.exists():
        return f"{source}: no embeddings ({json.loads(path.read_text('utf-8'))['reason']})"
    return (
        f"{source}: no embeddings file {IN_RUN.embedding(source)} (the model failed, or the "
        "run predates the style map)"
    )


def leave_one_out_neighbours(X: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each row's ``k`` nearest other rows (cosine distance)."""
    n = len(X)
    found = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(X)
    index = found.kneighbors(X, return_distance=False)
    own = index == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True  # self not among them (exact ties): drop the farthest
    return index[~own].reshape(n, k)


def knn_purity(X: np.ndarray, labels: np.ndarray, *, k: int = K_NEIGHBOURS) -> np.ndarray:
    """Per clip: the share of its ``k`` nearest other clips with its label, float (n,)."""
    neighbours = leave_one_out_neighbours(X, k)
    return (labels[neighbours] == labels[:, None]).mean(axis=1)


def purity_table(labels: np.ndarray, purity: np.ndarray, held_out: np.ndarray) -> pd.DataFrame:
    """Per genre and ``all``: clips, kNN purity, chance, held-out purity (rounded to 3)."""
    n = len(labels)
    genres, counts = np.unique(labels, return_counts=True)
    rows = []
    for genre, count in zip(genres, counts, strict=True):
        mine = labels == genre
        rows.append(
            {
                "genre": str(genre),
                "clips": int(count),
                "kNN purity": purity[mine].mean(),
                "chance": (count - 1) / (n - 1),
                "held-out purity": _mean(purity[mine & held_out]),
            }
        )
    chance = float(np.sum(counts * (counts - 1)) / (n * (n - 1)))
    rows.append(
        {
            "genre": "all",
            "clips": n,
            "kNN purity": purity.mean(),
            "chance": chance,
            "held-out purity": _mean(purity[held_out]),
        }
    )
    return pd.DataFrame(rows).set_index("genre").round(3)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def lift(purity: float, chance: float) -> float:
    """``(purity - chance) / (1 - chance)``: 0 at chance, 1 when every neighbour agrees."""
    return (purity - chance) / (1 - chance) if chance < 1 else 0.0


def cluster_agreement(X: np.ndarray, labels: np.ndarray, *, seed: int) -> tuple[float, float]:
    """(ARI, NMI) of k-means (one cluster per genre, on unit-length rows) against ``labels``."""
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    n_clusters = len(np.unique(labels))
    clusters = KMeans(n_clusters=n_clusters, n_init=KMEANS_INIT, random_state=seed).fit_predict(
        unit
    )
    return adjusted_rand_score(labels, clusters), normalized_mutual_info_score(labels, clusters)


def genre_silhouette(X: np.ndarray, labels: np.ndarray, *, seed: int) -> float:
    """Mean silhouette of the clips by genre, cosine (a seeded sample above 5000 clips)."""
    sample = SILHOUETTE_SAMPLE if len(X) > SILHOUETTE_SAMPLE else None
    return float(
        silhouette_score(X, labels, metric="cosine", sample_size=sample, random_state=seed)
    )


def style_scores(X: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, seed: int) -> dict:
    """Every number of a source's result on its labelled clips ``X`` (standardised, (n, D)).

    Returns
    -------
    dict
        ``table`` (:func:`purity_table`), ``purity``, ``chance``, ``held_out``, ``lift``,
        ``silhouette``, ``ari``, ``nmi``, ``k``.
    """
    k = min(K_NEIGHBOURS, len(X) - 1)
    with one_thread_below(len(X)):
        table = purity_table(labels, knn_purity(X, labels, k=k), np.isin(groups, HELD_OUT))
        ari, nmi = cluster_agreement(X, labels, seed=seed)
        silhouette = genre_silhouette(X, labels, seed=seed)
    overall = table.loc["all"]
    return {
        "table": table,
        "purity": float(overall["kNN purity"]),
        "chance": float(overall["chance"]),
        "held_out": float(overall["held-out purity"]),
        "lift": lift(float(overall["kNN purity"]), float(overall["chance"])),
        "silhouette": silhouette,
        "ari": float(ari),
        "nmi": float(nmi),
        "k": k,
    }


def source_result(source: str, arrays: dict, *, seed: int) -> CheckResult:
    """The style map result of one source (see the module docstring for the verdict)."""
    labels = arrays["labels"].astype(str)
    labelled = labels != ""
    genres = np.unique(labels[labelled])
    if "map" not in arrays:
        return skip(FAMILY, source, f"{source}: no map ({arrays.get('map_note') or 'not stored'})")
    if not labelled.any():
        return skip(FAMILY, source, f"{source}: no genre to colour by ({arrays['label_note']})")
    if labelled.sum() <= K_NEIGHBOURS or len(genres) < 2:
        return skip(
            FAMILY,
            source,
            f"{source}: {labelled.sum()} labelled clips in {len(genres)} "
            f"genres; the scores need more than {K_NEIGHBOURS} clips and two genres",
        )
    X = standardised(arrays["embedding"])
    scores = style_scores(X[labelled], labels[labelled], arrays["groups"][labelled], seed=seed)
    years = arrays["year"].astype(float)
    dated = bool(np.isfinite(years).any())
    figure = style_map_figure(arrays["map"], labels, years if dated else None, title=source)
    finding = (
        f"{source}: kNN purity {scores['purity']:.3f} (chance {scores['chance']:.3f}, held-out "
        f"{scores['held_out']:.3f}), silhouette {scores['silhouette']:.3f}, k-means vs genres "
        f"ARI {scores['ari']:.3f} NMI {scores['nmi']:.3f}; {int(labelled.sum())} labelled "
        f"clips, {int((~labelled).sum())} unlabelled placed on the map ({arrays['label_note']}; "
        + (
            f"year panel from {arrays['year_source']})"
            if dated
            else "no dates in the metadata: no year panel)"
        )
    )
    near_chance = scores["lift"] < MIN_LIFT
    return CheckResult(
        FAMILY,
        source,
        "WARN" if near_chance else "PASS",
        finding,
        evidence=scores["table"],
        action=f"kNN purity closes less than {MIN_LIFT:.0%} of the gap between chance and 1: "
        "this space barely groups clips by genre. For a model: it learned little about style "
        "(too few epochs, an input problem, labels that do not follow the audio); compare with "
        f"{MFCC_SOURCE}'s map and the learning curves"
        if near_chance
        else "",
        figures=[figure],
    )


def neighbour_genres(
    X: np.ndarray, labels: np.ndarray, query: np.ndarray, *, k: int = K_NEIGHBOURS
) -> pd.DataFrame:
    """The two genres most common among each query row's ``k`` nearest labelled rows.

    Parameters
    ----------
    X : np.ndarray, shape (n, D)
        Standardised embeddings of every clip.
    labels : np.ndarray of str, shape (n,)
        Genre per clip, "" for the unlabelled ones (the candidate neighbours are the others).
    query : np.ndarray of bool, shape (n,)
        The rows to describe.

    Returns
    -------
    pd.DataFrame
        One row per query row: genre_1, share_1, genre_2, share_2 (shares of the k votes; the
        second genre empty when all k agree); ties go to the genre with the nearer neighbour.
    """
    labelled = labels != ""
    k = min(k, int(labelled.sum()))
    found = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute")
    with one_thread_below(len(X)):
        index = found.fit(X[labelled]).kneighbors(X[query], return_distance=False)
    votes = labels[labelled][index]
    rows = []
    for row in votes:
        top = Counter(row).most_common(2) + [("", 0)] * 2  # ties: first seen, i.e. nearer
        rows.append(
            {
                "genre_1": top[0][0],
                "share_1": top[0][1] / k,
                "genre_2": top[1][0],
                "share_2": top[1][1] / k,
            }
        )
    return pd.DataFrame(rows, columns=["genre_1", "share_1", "genre_2", "share_2"])


def from_run(run_dir: Path) -> list[CheckResult]:
    """One result per source the run should have embedded, then ``unlabelled_neighbours``."""
    run_dir = Path(run_dir)
    config = run_config(run_dir)
    seed = int(config.get("seed", 0))
    results, loaded = [], {}
    for source in expected_sources(config):
        path = RunLayout(run_dir).embedding(source)
        if not path.exists():
            results.append(skip(FAMILY, source, missing_reason(run_dir, source, config)))
            continue
        loaded[source] = load_embedding(path)
        results.append(source_result(source, loaded[source], seed=seed))
    return [*results, unlabelled_result(run_dir, loaded, answers_of(config))]


def answers_of(config: dict) -> dict[str, str]:
    """The challenge answer key the run scored against (file_id -> genre), or empty."""
    path = config.get("answer_key")
    return read_answers(path) if path and Path(path).is_file() else {}


def unlabelled_table(loaded: dict[str, dict]) -> pd.DataFrame:
    """All sources' neighbour genres of their unlabelled clips, long: source, key, group,
    genre_1, share_1, genre_2, share_2."""
    frames = []
    for source, arrays in loaded.items():
        labels = arrays["labels"].astype(str)
        query = labels == ""
        if not query.any() or query.all():
            continue
        found = neighbour_genres(standardised(arrays["embedding"]), labels, query)
        found.insert(0, "group", arrays["groups"][query].astype(str))
        found.insert(0, "key", arrays["keys"][query].astype(str))
        found.insert(0, "source", source)
        frames.append(found)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def unlabelled_result(run_dir: Path, loaded: dict[str, dict], answers: dict) -> CheckResult:
    """The unlabelled clips with their nearest genres per source (the CSV holds every row)."""
    table = unlabelled_table(loaded)
    if table.empty:
        return skip(
            FAMILY,
            "unlabelled_neighbours",
            "no unlabelled clip with a labelled neighbour in any embedding",
        )
    if answers:
        table["answer"] = table["key"].map(answers).fillna("")
    path = RunLayout(Path(run_dir)).unlabelled_neighbours
    tmp = path.with_name(path.name + ".tmp")
    table.round(3).to_csv(tmp, index=False)
    tmp.replace(path)
    table["nearest genres"] = [
        f"{g1} {s1:.1f}" + (f", {g2} {s2:.1f}" if g2 else "")
        for g1, s1, g2, s2 in table[["genre_1", "share_1", "genre_2", "share_2"]].to_numpy()
    ]
    wide = table.pivot(index=["key", "group"], columns="source", values="nearest genres")
    wide = wide[[s for s in loaded if s in wide.columns]].fillna("")
    sentences = []
    if answers:
        keys = table.drop_duplicates("key").set_index("key")["answer"]
        wide.insert(0, "answer", keys.reindex(wide.index.get_level_values("key")).to_numpy())
        for source, rows in table[table["answer"] != ""].groupby("source", sort=False):
            hits = int((rows["genre_1"] == rows["answer"]).sum())
            sentences.append(f"{source} {hits}/{len(rows)}")
    finding = (
        f"{wide.shape[0]} unlabelled clips placed among the labelled ones; each with the two "
        f"genres most common among its {K_NEIGHBOURS} nearest labelled clips"
        + (
            f"; the nearest genre is the answer key's for {', '.join(sentences)}"
            if sentences
            else ""
        )
        + f"; every row in {IN_RUN.unlabelled_neighbours}"
    )
    return CheckResult(FAMILY, "unlabelled_neighbours", "PASS", finding, evidence=wide)
