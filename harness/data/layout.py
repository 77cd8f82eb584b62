"""Where things live on disk: the FMA directory layout and the harness's own output folders.

The real FMA download and the synthetic set share one layout::

    ROOT/fma_metadata/tracks.csv, genres.csv, [features.csv]
    ROOT/fma_<subset>/NNN/NNNNNN.mp3 and ROOT/fma_<subset>/checksums
    ROOT/crowdai_fma_test/<uuid>.mp3                (challenge-style test folder)
    ROOT/crowdai_fma_test_answers.csv              (answer key, synthetic only, kept apart)
    ROOT/synthetic_truth.csv                       (what the generator planted, synthetic only)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUBSETS = ("small", "medium", "large", "full")
DEFAULT_SYNTH_ROOT = Path("data/synthetic")
DEFAULT_CACHE_DIR = Path(".cache/features")
DEFAULT_RUNS_DIR = Path("runs")
DEFAULT_SUBMISSIONS_DIR = Path("submissions")


@dataclass(frozen=True)
class FmaLayout:
    """Paths inside one FMA root directory (real or synthetic)."""

    root: Path

    @property
    def metadata_dir(self) -> Path:
        return self.root / "fma_metadata"

    @property
    def tracks_csv(self) -> Path:
        return self.metadata_dir / "tracks.csv"

    @property
    def genres_csv(self) -> Path:
        return self.metadata_dir / "genres.csv"

    @property
    def features_csv(self) -> Path:
        return self.metadata_dir / "features.csv"

    def audio_dir(self, subset: str) -> Path:
        return self.root / f"fma_{subset}"

    @property
    def test_dir(self) -> Path:
        return self.root / "crowdai_fma_test"

    @property
    def answers_csv(self) -> Path:
        return self.root / "crowdai_fma_test_answers.csv"

    @property
    def truth_csv(self) -> Path:
        return self.root / "synthetic_truth.csv"
