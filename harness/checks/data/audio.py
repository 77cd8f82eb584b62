"""Audio checks: decode status of every clip, durations, sample rates, channels, the track ids
FMA's maintainers list as broken, and the clips that decode but carry a warning (clipping, DC
offset, content that is not what the extension says).

They read the decode status table (:func:`harness.data.audio.decode_status_table`, or the status
table :func:`harness.features.extract` returns): index key, columns ``status``, ``duration``
(s), ``native_sr`` (Hz), ``channels``, ``error``, ``warnings`` (absent from a table built from
the official features.csv), ``path``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checks.base import CheckResult, figure_png, id_list, new_figure
from harness.checks.registry import DataInputs
from harness.data.audio import CLIP_FRACTION, CLIP_LEVEL, DC_OFFSET, WARNINGS, warning_flags
from harness.features.extracted import FAILED_STATUSES

FAMILY = "audio"

# Track ids whose clips have no audio or are shorter than 30 s in the FMA download ("wrong
# durations from the source API"; mdeff/fma README and issues). The ids of fma_small among them
# are 99134, 108925, 133297 (no audio) and 98565, 98567, 98569 (short).
KNOWN_NO_AUDIO_IDS: tuple[int, ...] = (
    1486,
    5574,
    65753,
    80391,
    98558,
    98559,
    98560,
    98571,
    99134,
    105247,
    108925,
    126981,
    127336,
    133297,
    143992,
)
KNOWN_SHORT_IDS: tuple[int, ...] = (98565, 98566, 98567, 98568, 98569, 108924)
KNOWN_BAD_FMA_IDS: dict[int, str] = {
    **{i: "no audio" for i in KNOWN_NO_AUDIO_IDS},
    **{i: "shorter than 30 s" for i in KNOWN_SHORT_IDS},
}

# Statuses that make a clip unusable (no signal, NaN / inf samples, features that failed) and
# those that are usable with care.
UNUSABLE = FAILED_STATUSES
DEGRADED = ("short", "silent")
# What to do about each decode warning (harness.data.audio.WARNINGS).
WARNING_ACTIONS: dict[str, str] = {
    "clipping": f"clipping (> {100 * CLIP_FRACTION:g}% of samples at |x| >= {CLIP_LEVEL:g}): "
    "listen to them; a loud master is fine, a distorted rip is worth re-downloading or dropping",
    "dc_offset": f"DC offset (|mean| > {DC_OFFSET:g}): the clip's source or its decoding is "
    "faulty; it inflates the lowest frequency bins: re-download it or remove the mean",
    "extension_mismatch": "content not what the extension says (e.g. WAV bytes in a .mp3): it "
    "still decodes, but the file came through a broken pipeline: re-download or rename it",
}
# More unusable clips than this fraction is a FAIL rather than a WARN.
MAX_UNUSABLE_FRACTION = 0.02
# Durations of ok clips further than this from the median are reported.
DURATION_TOLERANCE_S = 1.0


def decode_status(*, status: pd.DataFrame) -> CheckResult:
    """Counts of each decode status, with the ids and errors of every clip that is not ok."""
    counts = status["status"].value_counts()
    bad = status[status["status"] != "ok"]
    columns = [c for c in ("group", "status", "duration", "error", "path") if c in bad.columns]
    evidence = bad[columns].copy()
    evidence["duration"] = evidence["duration"].astype(float).round(2)
    evidence = evidence.sort_values("status", kind="stable")
    parts = [f"{int(counts.get(s, 0))} {s}" for s in (*UNUSABLE, *DEGRADED) if counts.get(s, 0)]
    n = len(status)
    if bad.empty:
        return CheckResult(FAMILY, "decode_status", "PASS", f"all {n} clips decode and pass")
    unusable = int(bad["status"].isin(UNUSABLE).sum())
    verdict = "FAIL" if unusable > MAX_UNUSABLE_FRACTION * n else "WARN"
    by_status = "; ".join(
        f"{s}: {id_list(bad.index[bad['status'] == s], limit=6)}"
        for s in (*UNUSABLE, *DEGRADED)
        if counts.get(s, 0)
    )
    return CheckResult(
        FAMILY,
        "decode_status",
        verdict,
        f"{len(bad)} of {n} clips are not ok ({', '.join(parts)}) — {by_status}",
        evidence=evidence,
        action="missing/empty/corrupt/non_finite/failed clips are excluded from training and "
        "get the prior in a submission (non_finite: NaN or inf samples, a float file written "
        "from a broken signal: re-export it); silent clips are left out of training and "
        "predicted with the prior; short clips are zero-padded: re-download or drop them if "
        "they matter",
    )


def clip_warnings(*, status: pd.DataFrame) -> CheckResult:
    """Clips that decode and are used, but are clipped, DC-offset or not what their extension
    says (the ``warnings`` column, :data:`harness.data.audio.WARNINGS`)."""
    if "warnings" not in status.columns:
        return CheckResult(FAMILY, "clip_warnings", "SKIP", "no decode warnings recorded")
    text = status["warnings"].fillna("").astype(str)
    flagged = status[(text != "") & ~status["status"].isin(UNUSABLE)]
    if flagged.empty:
        return CheckResult(
            FAMILY,
            "clip_warnings",
            "PASS",
            f"no clip of {len(status)} is clipped, DC-offset or mislabelled by its extension",
        )
    flags = {k: warning_flags(v) for k, v in flagged["warnings"].items()}
    found = [w for w in WARNINGS if any(w in f for f in flags.values())]
    by_flag = "; ".join(
        f"{w}: {id_list([k for k, f in flags.items() if w in f], limit=6)}" for w in found
    )
    columns = [c for c in ("group", "status", "warnings", "path") if c in flagged.columns]
    return CheckResult(
        FAMILY,
        "clip_warnings",
        "WARN",
        f"{len(flagged)} of {len(status)} clips decode and are used but carry warnings — {by_flag}",
        evidence=flagged[columns].copy(),
        action="they stay in training and scoring; "
        + "; ".join(WARNING_ACTIONS.get(w, w) for w in found),
    )


def duration_distribution(*, status: pd.DataFrame, expected_s: float | None = None) -> CheckResult:
    """Distribution of decoded durations (s) of the clips that decoded."""
    durations = status.loc[status["status"].isin(("ok", "short", "silent")), "duration"]
    durations = durations.astype(float)
    if durations.empty:
        return CheckResult(FAMILY, "durations", "SKIP", "no clip decoded")
    median = float(durations.median())
    target = median if expected_s is None else expected_s
    off = durations[(durations - target).abs() > DURATION_TOLERANCE_S]
    quantiles = durations.quantile([0.0, 0.01, 0.5, 0.99, 1.0]).round(3)
    evidence = {
        f"p{int(100 * q)}" if 0 < q < 1 else ("min" if q == 0 else "max"): float(v)
        for q, v in quantiles.items()
    }
    evidence["clips"] = len(durations)
    evidence[f"off by > {DURATION_TOLERANCE_S:g} s"] = len(off)
    fig, ax = new_figure(width=6, height=2.8)
    ax.hist(durations.to_numpy(), bins=40)
    ax.set_xlabel("decoded duration (s)")
    ax.set_ylabel("clips")
    ax.set_title("Clip durations")
    figures = [figure_png(fig)]
    finding = (
        f"median {median:.2f} s over {len(durations)} clips; {len(off)} differ from "
        f"{target:.2f} s by more than {DURATION_TOLERANCE_S:g} s"
    )
    if len(off):
        finding += f": {id_list(off.index, limit=8)}"
    return CheckResult(
        FAMILY,
        "durations",
        "WARN" if len(off) else "PASS",
        finding,
        evidence=evidence,
        action="clips of unusual length are padded or cut to the model's input length"
        if len(off)
        else "",
        figures=figures,
    )


def sample_rates_and_channels(*, status: pd.DataFrame, target_sr: int = 22050) -> CheckResult:
    """Native sample rates and channel counts of the decoded clips."""
    decoded = status[status["status"].isin(("ok", "short", "silent"))]
    if decoded.empty:
        return CheckResult(FAMILY, "sample_rates_channels", "SKIP", "no clip decoded")
    table = (
        decoded.groupby(["native_sr", "channels"])
        .size()
        .rename("clips")
        .reset_index()
        .sort_values("clips", ascending=False)
        .reset_index(drop=True)
    )
    low = decoded[decoded["native_sr"].astype(int) < target_sr]
    finding = ", ".join(
        f"{int(r.clips)} at {int(r.native_sr)} Hz x {int(r.channels)} ch"
        for r in table.itertuples()
    )
    if len(low):
        return CheckResult(
            FAMILY,
            "sample_rates_channels",
            "WARN",
            f"{finding}; {len(low)} clips are below the {target_sr} Hz feature rate: "
            f"{id_list(low.index, limit=8)}",
            evidence=table,
            action="upsampled clips lack high frequencies; a model may learn the sample rate "
            "instead of the genre: compare their per-class scores",
        )
    return CheckResult(FAMILY, "sample_rates_channels", "PASS", finding, evidence=table)


def known_bad_ids(*, keys: pd.Index, status: pd.DataFrame | None = None) -> CheckResult:
    """FMA track ids documented as empty or short that are present in this data."""
    ints = {int(k) for k in keys if isinstance(k, (int, np.integer))}
    present = sorted(ints & set(KNOWN_BAD_FMA_IDS))
    if not present:
        return CheckResult(
            FAMILY,
            "known_bad_ids",
            "PASS",
            f"none of the {len(KNOWN_BAD_FMA_IDS)} FMA ids known to be empty or short is present",
        )
    evidence = pd.DataFrame(
        {"track_id": present, "documented": [KNOWN_BAD_FMA_IDS[i] for i in present]}
    )
    if status is not None:
        evidence["decoded status"] = status["status"].reindex(present).to_numpy()
    return CheckResult(
        FAMILY,
        "known_bad_ids",
        "WARN",
        f"{len(present)} FMA ids documented as broken are present: {id_list(present)}",
        evidence=evidence,
        action="expect them in the decode status list; exclude them from training",
    )


def audio_checks(*, status: pd.DataFrame, target_sr: int = 22050) -> list[CheckResult]:
    """Every audio check on one decode status table."""
    return [
        decode_status(status=status),
        duration_distribution(status=status),
        sample_rates_and_channels(status=status, target_sr=target_sr),
        known_bad_ids(keys=status.index, status=status),
    ]


def from_inputs(inputs: DataInputs) -> list[CheckResult]:
    """The audio family as a registered ``"data"`` check: :func:`audio_checks`, then
    :func:`clip_warnings`."""
    checks = audio_checks(status=inputs.status, target_sr=inputs.target_sr)
    return [*checks, clip_warnings(status=inputs.status)]
