"""Genre recipes and instrument timbres for the procedural music generator (synth_music.py).

A :class:`Recipe` fixes a genre's tempo range, metre (beats per bar, steps per beat, how weak
the off-beats are), drum lanes (one string per drum over one bar: ``x`` hit, ``X`` accent,
``o`` ghost, ``-`` rest), tonal voices, scales and textures. Pairs meant to differ only in
rhythm are built from one shared base with :func:`dataclasses.replace`, so nothing but the
drum order (Rock vs Pop) or the metre (Folk vs International) changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Timbre:
    """A wavetable instrument: harmonic amplitudes, attack and decay (s), vibrato depth."""

    harmonics: tuple[float, ...]
    attack: float
    decay: float
    vibrato: float = 0.0
    table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = 2048
        phase = np.arange(size) / size
        k = np.arange(1, len(self.harmonics) + 1)[:, None]
        tab = (np.asarray(self.harmonics)[:, None] * np.sin(2 * np.pi * k * phase)).sum(axis=0)
        object.__setattr__(self, "table", tab / np.abs(tab).max())


def _saw(n: int, power: float = 1.0) -> tuple[float, ...]:
    return tuple(1.0 / k**power for k in range(1, n + 1))


TIMBRES: dict[str, Timbre] = {
    "sine": Timbre((1.0,), 0.005, 0.6),
    "bass": Timbre((1.0, 0.5, 0.2), 0.005, 0.5),
    "guitar": Timbre(_saw(10), 0.003, 0.6, 0.002),
    "pluck": Timbre(_saw(8, 1.5), 0.002, 0.3),
    "square": Timbre(tuple(1.0 / k if k % 2 else 0.0 for k in range(1, 12)), 0.01, 0.8),
    "saw": Timbre(_saw(12), 0.005, 1.0),
    "pad": Timbre(_saw(8), 0.3, 3.0, 0.004),
    "strings": Timbre(_saw(10), 0.15, 2.0, 0.006),
    "piano": Timbre((1.0, 0.6, 0.35, 0.25, 0.15, 0.1, 0.05), 0.002, 0.7),
    "epiano": Timbre((1.0, 0.1, 0.3, 0.05, 0.1), 0.003, 1.0),
    "organ": Timbre((1.0, 1.0, 0.0, 0.6, 0.0, 0.4, 0.0, 0.3), 0.02, 4.0),
    "reed": Timbre((1.0, 0.2, 0.7, 0.1, 0.5, 0.1, 0.35), 0.03, 1.5, 0.006),
    "bell": Timbre((1.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.3), 0.002, 1.2),
    "flute": Timbre((1.0, 0.15, 0.05), 0.06, 2.0, 0.008),
}


@dataclass(frozen=True)
class Voice:
    """A tonal part: role (bass|chords|arp|drone|melody), timbre, octave shift, a note every
    ``every`` steps lasting ``length`` steps, level in dB, probability of a rest."""

    role: str
    timbre: str
    octave: int = 0
    every: int = 2
    length: int = 2
    level_db: float = 0.0
    rest: float = 0.0


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a genre's sound; see the module docstring."""

    tempo: tuple[float, float]
    beats_per_bar: int
    steps_per_beat: int
    voices: tuple[Voice, ...]
    drums: dict[str, str] = field(default_factory=dict)
    scales: tuple[str, ...] = ("major", "minor")
    weak_beat: float = 0.6
    swing: float = 0.0
    drum_db: float = 0.0
    drop: float = 0.02
    noise_db: float | None = None
    noise_alpha: float = 1.0
    speech_db: float | None = None
    speech_on_grid: bool = False
    speech_pause: float = 0.2
    crackle_db: float | None = None
    drive: tuple[float, float] = (0.0, 0.0)
    bandlimit: tuple[float, float] | None = None


_BAND = Recipe(
    tempo=(100, 140),
    beats_per_bar=4,
    steps_per_beat=2,
    voices=(
        Voice("bass", "bass", every=1, length=1, level_db=-2),
        Voice("chords", "guitar", every=2, length=2, level_db=-6),
        Voice("melody", "square", octave=1, every=2, length=2, level_db=-9, rest=0.4),
    ),
    scales=("major", "mixolydian", "minor"),
    drive=(0.6, 1.4),
    drum_db=4.0,
)
_STRINGBAND = Recipe(
    tempo=(90, 130),
    beats_per_bar=3,
    steps_per_beat=2,
    voices=(
        Voice("arp", "pluck", every=1, length=2, level_db=-3),
        Voice("drone", "reed", octave=-1, every=12, length=12, level_db=-10),
        Voice("melody", "flute", octave=1, every=2, length=2, level_db=-6, rest=0.3),
    ),
    scales=("major", "dorian", "hijaz"),
    weak_beat=0.45,
    drum_db=4.0,
)

RECIPES: dict[str, Recipe] = {
    # Rhythm pair: same kit, voices, tempo and saturation; only the drum order differs.
    "Rock": replace(_BAND, drums={"kick": "x---x---", "hat": "-x-x-x-x", "snare": "--x---x-"}),
    "Pop": replace(_BAND, drums={"kick": "x---x---", "snare": "-x---x--", "hat": "--xx--xx"}),
    # Metre pair: waltz vs march accents at the same onset rate (one drum hit per beat).
    "Folk": replace(_STRINGBAND, beats_per_bar=3, drums={"low": "x-----", "tak": "--o-o-"}),
    "International": replace(_STRINGBAND, beats_per_bar=2, drums={"low": "x---", "tak": "--o-"}),
    "Electronic": Recipe(
        tempo=(120, 132),
        beats_per_bar=4,
        steps_per_beat=4,
        voices=(
            Voice("bass", "sine", octave=-1, every=2, length=2, level_db=0, rest=0.3),
            Voice("arp", "saw", octave=1, every=1, length=1, level_db=-8),
            Voice("chords", "pad", every=16, length=16, level_db=-10),
        ),
        drums={"kick": "X---x---x---x---", "hat": "--x---x---x---x-", "clap": "----x-------x---"},
        scales=("minor", "dorian"),
    ),
    "Hip-Hop": Recipe(
        tempo=(82, 98),
        beats_per_bar=4,
        steps_per_beat=4,
        voices=(
            Voice("bass", "sine", octave=-1, every=4, length=3, level_db=-2, rest=0.3),
            Voice("chords", "epiano", every=8, length=8, level_db=-9),
        ),
        drums={"boom": "x-------x-x-----", "snare": "----x-------x---", "hat": "o-o-o-o-o-o-o-o-"},
        scales=("minor", "dorian"),
        swing=0.12,
        speech_db=-3.0,
        speech_on_grid=True,
        speech_pause=0.25,
        crackle_db=-30.0,
    ),
    "Experimental": Recipe(
        tempo=(60, 160),
        beats_per_bar=4,
        steps_per_beat=2,
        voices=(
            Voice("drone", "organ", octave=-1, every=32, length=32, level_db=-6),
            Voice("melody", "bell", octave=1, every=3, length=4, level_db=-4, rest=0.5),
        ),
        scales=("whole", "hijaz"),
        noise_db=-4.0,
        noise_alpha=1.0,
    ),
    "Instrumental": Recipe(
        tempo=(60, 90),
        beats_per_bar=4,
        steps_per_beat=2,
        voices=(
            Voice("chords", "piano", every=4, length=4, level_db=-6),
            Voice("chords", "strings", every=8, length=8, level_db=-10),
            Voice("melody", "piano", octave=1, every=2, length=2, level_db=-3, rest=0.3),
            Voice("bass", "sine", octave=-1, every=4, length=4, level_db=-4),
        ),
    ),
    "Blues": Recipe(
        tempo=(70, 100),
        beats_per_bar=4,
        steps_per_beat=3,
        voices=(
            Voice("chords", "organ", every=6, length=6, level_db=-8),
            Voice("melody", "guitar", every=3, length=3, level_db=-3, rest=0.3),
            Voice("bass", "bass", octave=-1, every=3, length=3, level_db=-3),
        ),
        drums={"kick": "x-----x-----", "snare": "---x-----x--", "hat": "x-xx-xx-xx-x"},
        scales=("blues",),
        drum_db=-4.0,
    ),
    "Classical": Recipe(
        tempo=(60, 110),
        beats_per_bar=3,
        steps_per_beat=2,
        voices=(
            Voice("chords", "strings", every=6, length=6, level_db=-6),
            Voice("melody", "strings", octave=1, every=2, length=2, level_db=-2, rest=0.15),
            Voice("bass", "strings", octave=-1, every=6, length=6, level_db=-6),
        ),
    ),
    "Country": Recipe(
        tempo=(100, 140),
        beats_per_bar=4,
        steps_per_beat=2,
        voices=(
            Voice("arp", "pluck", octave=1, every=1, length=1, level_db=-4),
            Voice("melody", "strings", octave=1, every=2, length=2, level_db=-5, rest=0.3),
            Voice("bass", "bass", octave=-1, every=2, length=2, level_db=-3),
        ),
        drums={"kick": "x---x---", "snare": "oxoxoxox"},
        drum_db=-4.0,
    ),
    "Easy Listening": Recipe(
        tempo=(70, 100),
        beats_per_bar=4,
        steps_per_beat=2,
        voices=(
            Voice("chords", "epiano", every=4, length=4, level_db=-4),
            Voice("chords", "pad", every=8, length=8, level_db=-10),
            Voice("melody", "flute", octave=1, every=2, length=3, level_db=-4, rest=0.3),
            Voice("bass", "sine", octave=-1, every=4, length=4, level_db=-4),
        ),
        drums={"shaker": "x-x-x-x-"},
        drum_db=-14.0,
    ),
    "Jazz": Recipe(
        tempo=(110, 180),
        beats_per_bar=4,
        steps_per_beat=3,
        voices=(
            Voice("bass", "bass", octave=-1, every=3, length=3, level_db=-2),
            Voice("chords", "piano", every=6, length=4, level_db=-7, rest=0.4),
            Voice("melody", "reed", octave=1, every=3, length=3, level_db=-5, rest=0.25),
        ),
        drums={"ride": "x--x-xx--x-x", "hat": "---x-----x--"},
        scales=("dorian", "mixolydian"),
        drum_db=-6.0,
    ),
    "Old-Time / Historic": Recipe(
        tempo=(90, 120),
        beats_per_bar=2,
        steps_per_beat=2,
        voices=(
            Voice("melody", "reed", octave=1, every=1, length=1, level_db=-3, rest=0.2),
            Voice("arp", "pluck", every=2, length=2, level_db=-6),
            Voice("bass", "reed", octave=-1, every=2, length=2, level_db=-6),
        ),
        drums={"low": "x---", "tak": "--x-"},
        drum_db=-8.0,
        noise_db=-22.0,
        noise_alpha=0.0,
        crackle_db=-16.0,
        bandlimit=(300.0, 3500.0),
    ),
    "Soul-RnB": Recipe(
        tempo=(70, 100),
        beats_per_bar=4,
        steps_per_beat=4,
        voices=(
            Voice("chords", "organ", every=8, length=8, level_db=-8),
            Voice("bass", "bass", octave=-1, every=2, length=2, level_db=-2, rest=0.3),
        ),
        drums={"kick": "x-----x-x-------", "snare": "----x-------x---", "hat": "x-x-x-x-x-x-x-x-"},
        speech_db=-6.0,
        speech_pause=0.1,
    ),
    "Spoken": Recipe(
        tempo=(100, 100),
        beats_per_bar=4,
        steps_per_beat=2,
        voices=(),
        speech_db=0.0,
        speech_pause=0.2,
        noise_db=-32.0,
        noise_alpha=0.5,
    ),
}
