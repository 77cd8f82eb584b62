"""Procedural music for the synthetic FMA: one recipe per root genre, one colour per artist.

A clip is a bar grid (tempo, beats per bar, steps per beat) filled by drum lanes and tonal
voices, plus optional textures (coloured noise, speech-like babble, record crackle), then
coloured by the artist (spectral tilt, room reverb, a characteristic extra layer, a level).
Everything is numpy: drums are one-shot samples added at their onsets, notes are
wavetable reads, textures and colour are one FFT each per channel.

Two kinds of genre differences are built in on purpose (design.md, "a fair test"):

* **Rhythm/metre pairs** share kit, instruments, tempo range and textures in the same
  proportions and differ mainly in the order of events: Rock (kick-hat-snare-hat) vs Pop
  (kick-snare-hat-hat), Folk (waltz, accents every 3 beats) vs International (march, every 2)
  at matched onset rates. Each pair also carries a timbre cue (Rock saturates harder than
  Pop; International's drone is louder than Folk's) so that frame statistics are not at
  chance on the pair: a confident-learning label-noise check built on an MFCC baseline flags
  mostly clean tracks when a pair is order-only. Models that see time separate the pairs by
  order as well as by timbre.
* **Timbre genres** (Electronic, Experimental, Hip-Hop, Instrumental and the medium-only
  genres) use their own sounds, so any model separates them.

Measured on the default set (400 clips of 30 s, seed 0; MFCC-20 x 7 statistics, standardised
logistic regression, 5-fold CV grouped by artist, trained on the given, noisy labels): 95%
accuracy against the true genres (chance 12.5%); the errors are Folk/International (10 of
100), Instrumental (4 of 49) and Rock/Pop (3 of 96). Rendering costs about 0.1 s of CPU per
30 s mono 22,050 Hz clip, under half the cost of its MP3 encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from harness.data.synth.recipes import RECIPES, TIMBRES, Recipe, Voice

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "hijaz": (0, 1, 4, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9, 12, 14),
    "blues": (0, 3, 5, 6, 7, 10, 12),
    "whole": (0, 2, 4, 6, 8, 10, 12),
}
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (5, 3, 0, 4), (0, 0, 3, 4), (0, 3, 0, 4))
TABLE_SIZE = 2048  # must match Timbre.table in synth_recipes


@dataclass(frozen=True)
class ArtistStyle:
    """An artist's mix colour, constant over all of their tracks.

    Attributes
    ----------
    tilt_db : float
        Spectral tilt in dB per octave around 1 kHz.
    reverb_wet : float
        Reverb send gain (0 = dry).
    reverb_decay : float
        Reverb decay time in seconds (-60 dB).
    level_db : float
        Peak level of the clip in dBFS.
    layer : str
        Extra layer: "none", "hum", "hiss" or "drone".
    layer_db : float
        Level of the extra layer relative to the music, in dB.
    layer_hz : float
        Pitch of the hum or drone in Hz.
    """

    tilt_db: float
    reverb_wet: float
    reverb_decay: float
    level_db: float
    layer: str
    layer_db: float
    layer_hz: float


def random_style(rng: np.random.Generator) -> ArtistStyle:
    """Draw an artist colour (same distribution for every genre)."""
    return ArtistStyle(
        tilt_db=float(rng.uniform(-2.5, 1.5)),
        reverb_wet=float(rng.uniform(0.0, 0.45)),
        reverb_decay=float(rng.uniform(0.3, 1.8)),
        level_db=float(rng.uniform(-9.0, -1.0)),
        layer=str(rng.choice(["none", "hum", "hiss", "drone"])),
        layer_db=float(rng.uniform(-34.0, -20.0)),
        layer_hz=float(rng.choice([50.0, 60.0, 110.0, 146.8, 196.0])),
    )


def _midi_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69.0) / 12.0)


def _note(freq: float, length: int, sr: int, timbre: str, rng: np.random.Generator) -> np.ndarray:
    """One note: wavetable oscillator with a little vibrato and an attack/decay envelope."""
    spec = TIMBRES[timbre]
    t = np.arange(length) / sr
    phase = freq * t + rng.uniform(0, 1)
    if spec.vibrato:
        phase += spec.vibrato * freq / (2 * np.pi * 5.5) * np.sin(2 * np.pi * 5.5 * t)
    wave = spec.table[(phase * TABLE_SIZE).astype(np.int64) & (TABLE_SIZE - 1)]
    env = np.exp(-t / spec.decay)
    n_attack = min(length, max(1, int(spec.attack * sr)))
    env[:n_attack] *= np.linspace(0.0, 1.0, n_attack)
    n_release = min(length, int(0.01 * sr))
    env[length - n_release :] *= np.linspace(1.0, 0.0, n_release)
    return wave * env


def _chord_tones(root: int, scale: tuple[int, ...], degree: int) -> list[int]:
    """Triad on a scale degree, as MIDI numbers above ``root``."""
    ext = list(scale) + [s + 12 for s in scale] + [s + 24 for s in scale]
    return [root + ext[degree + i] for i in (0, 2, 4)]


def _voice_events(
    voice: Voice, *, n_steps: int, bar: int, root: int, scale, prog, accents, rng
) -> list[tuple[int, int, float, float]]:
    """(start step, length in steps, midi, velocity) for one voice."""
    events = []
    degree_walk = int(rng.integers(0, 5))
    for step in range(0, n_steps, voice.every):
        if rng.random() < voice.rest:
            continue
        chord = _chord_tones(root, scale, prog[(step // bar) % len(prog)])
        vel = accents[step % len(accents)] * rng.uniform(0.85, 1.0)
        base = 12 * voice.octave
        if voice.role == "bass":
            notes = [chord[0] - 12 + base if rng.random() > 0.2 else chord[2] - 12 + base]
        elif voice.role == "chords":
            notes = [n + base for n in chord]
        elif voice.role == "arp":
            notes = [chord[(step // voice.every) % 3] + base]
        elif voice.role == "drone":
            notes = [chord[0] + base, chord[0] + 7 + base]
        else:  # melody: random walk on the scale
            degree_walk = int(np.clip(degree_walk + rng.integers(-2, 3), 0, 13))
            ext = list(scale) + [s + 12 for s in scale]
            notes = [root + ext[degree_walk] + base]
        events.extend((step, voice.length, float(n), float(vel)) for n in notes)
    return events


def _render_voices(recipe: Recipe, *, n: int, sr: int, step_s: float, rng) -> np.ndarray:
    out = np.zeros(n)
    bar = recipe.beats_per_bar * recipe.steps_per_beat
    n_steps = int(np.ceil(n / (step_s * sr)))
    root = int(rng.integers(45, 57))
    scale = SCALES[str(rng.choice(recipe.scales))]
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    accents = _accent_cycle(recipe)
    for voice in recipe.voices:
        gain = 10 ** ((voice.level_db + rng.uniform(-3, 3)) / 20)
        events = _voice_events(
            voice,
            n_steps=n_steps,
            bar=bar,
            root=root,
            scale=scale,
            prog=prog,
            accents=accents,
            rng=rng,
        )
        for step, length, midi, vel in events:
            start = int(round(step * step_s * sr))
            if start >= n:
                continue
            length_samples = min(int(length * step_s * sr), n - start)
            note = _note(float(_midi_hz(midi)), length_samples, sr, voice.timbre, rng)
            out[start : start + length_samples] += gain * vel * note
    return out


def _accent_cycle(recipe: Recipe) -> np.ndarray:
    """Velocity per step over one bar: the metre (strong first beat, weak others)."""
    spb = recipe.steps_per_beat
    beats = np.full(recipe.beats_per_bar, recipe.weak_beat)
    beats[0] = 1.0
    if recipe.beats_per_bar == 4:
        beats[2] = 0.5 * (1.0 + recipe.weak_beat)
    steps = np.repeat(beats, spb)
    steps[np.arange(len(steps)) % spb != 0] *= 0.8
    return steps


def _drum_sample(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A one-shot drum sound (kick, snare, hat, clap, low, tak, ride, shaker, click)."""
    length = int(0.5 * sr)
    t = np.arange(length) / sr
    noise = rng.standard_normal(length)
    if kind in ("kick", "boom", "low"):
        f0, f1, dec = {"kick": (130, 48, 0.18), "boom": (90, 38, 0.45), "low": (180, 90, 0.2)}[kind]
        freq = f1 + (f0 - f1) * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / dec)
    if kind in ("snare", "clap", "tak"):
        dec, tone = {"snare": (0.12, 190), "clap": (0.07, 0), "tak": (0.05, 520)}[kind]
        bright = _tilt_noise(noise, sr, cutoff=1200.0)
        body = np.sin(2 * np.pi * tone * t) if tone else 0.0
        return (0.8 * bright + 0.5 * body) * np.exp(-t / dec)
    cutoff, dec = {"hat": (6000.0, 0.035), "ride": (4000.0, 0.35), "shaker": (3000.0, 0.06)}.get(
        kind, (2000.0, 0.01)
    )
    return _tilt_noise(noise, sr, cutoff=min(cutoff, 0.4 * sr)) * np.exp(-t / dec)


def _tilt_noise(noise: np.ndarray, sr: int, *, cutoff: float) -> np.ndarray:
    """High-pass ``noise`` above ``cutoff`` Hz in the frequency domain (unit peak)."""
    size = sfft.next_fast_len(len(noise), real=True)
    spec = sfft.rfft(noise, n=size)
    freqs = sfft.rfftfreq(size, 1 / sr)
    spec *= 1.0 / (1.0 + (cutoff / np.maximum(freqs, 1.0)) ** 4)
    out = sfft.irfft(spec, n=size)[: len(noise)]
    return out / (np.abs(out).max() + 1e-12)


def _render_drums(recipe: Recipe, *, n: int, sr: int, step_s: float, rng) -> np.ndarray:
    out = np.zeros(n)
    bar = recipe.beats_per_bar * recipe.steps_per_beat
    n_steps = int(np.ceil(n / (step_s * sr)))
    steps = np.arange(n_steps)
    starts = np.round(steps * step_s * sr).astype(np.int64)
    swing = np.where(steps % 2 == 1, recipe.swing * step_s * sr, 0).astype(np.int64)
    accents = _accent_cycle(recipe)
    for kind, lane in recipe.drums.items():
        vel = np.array([{"x": 0.8, "X": 1.0, "o": 0.45}.get(c, 0.0) for c in lane])
        assert len(vel) == bar, f"{kind} lane must have {bar} steps"
        amp = vel[steps % bar] * accents[steps % bar] * rng.uniform(0.85, 1.0, n_steps)
        amp[rng.random(n_steps) < recipe.drop] = 0.0
        sample = _drum_sample(kind, sr, rng) * 10 ** (recipe.drum_db / 20)
        pos = np.minimum(starts + swing, n - 1)
        for p, a in zip(pos[amp > 0], amp[amp > 0], strict=True):
            end = min(p + len(sample), n)
            out[p:end] += a * sample[: end - p]
    return out


def _coloured_noise(n: int, sr: int, *, alpha: float, rng) -> np.ndarray:
    size = sfft.next_fast_len(n, real=True)
    spec = sfft.rfft(rng.standard_normal(size))
    freqs = np.maximum(sfft.rfftfreq(size, 1 / sr), 20.0)
    out = sfft.irfft(spec * freqs ** (-alpha / 2), n=size)[:n]
    return out / (np.std(out) + 1e-12)


def _speech(n: int, sr: int, *, syllable_s: float, pause: float, rng) -> np.ndarray:
    """Speech-like babble: a buzz at a wandering pitch, formant-shaped per syllable."""
    t = np.arange(n) / sr
    f0 = rng.uniform(95, 210) * (1 + 0.12 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    buzz = 2 * ((np.cumsum(f0) / sr) % 1.0) - 1
    seg = max(int(syllable_s * sr), 256)
    out = np.zeros(n)
    window = np.hanning(seg)
    freqs = sfft.rfftfreq(seg, 1 / sr)
    for start in range(0, n - seg, seg):
        if rng.random() < pause:
            continue
        f1, f2 = rng.uniform(300, 850), rng.uniform(900, 2400)
        shape = np.exp(-(((freqs - f1) / 120) ** 2)) + 0.6 * np.exp(-(((freqs - f2) / 180) ** 2))
        chunk = sfft.irfft(sfft.rfft(buzz[start : start + seg]) * shape, n=seg)
        fric = 0.3 * _tilt_noise(rng.standard_normal(seg), sr, cutoff=min(3500.0, 0.4 * sr))
        fric[seg // 5 :] = 0
        out[start : start + seg] += (chunk / (np.abs(chunk).max() + 1e-9) + fric) * window
    return out


def _crackle(n: int, rng) -> np.ndarray:
    out = np.zeros(n)
    idx = rng.integers(0, n, size=max(1, n // 1500))
    out[idx] = rng.uniform(-1, 1, size=len(idx))
    return out


def _render_textures(recipe: Recipe, *, n: int, sr: int, step_s: float, rng) -> np.ndarray:
    out = np.zeros(n)
    if recipe.noise_db is not None:
        noise = _coloured_noise(n, sr, alpha=recipe.noise_alpha, rng=rng)
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * np.arange(n) / sr / rng.uniform(3, 9))
        out += 10 ** (recipe.noise_db / 20) * noise * swell
    if recipe.speech_db is not None:
        syll = step_s if recipe.speech_on_grid else rng.uniform(0.16, 0.24)
        speech = _speech(n, sr, syllable_s=syll, pause=recipe.speech_pause, rng=rng)
        out += 10 ** (recipe.speech_db / 20) * speech
    if recipe.crackle_db is not None:
        out += 10 ** (recipe.crackle_db / 20) * _crackle(n, rng)
    return out


def _colour(mix: np.ndarray, *, sr: int, style: ArtistStyle, recipe: Recipe, rng) -> np.ndarray:
    """Apply the artist's tilt and room and the recipe's band limit; one FFT per channel."""
    n = len(mix)
    ir_len = int(min(style.reverb_decay, 2.0) * sr)
    size = sfft.next_fast_len(n + ir_len, real=True)
    freqs = sfft.rfftfreq(size, 1 / sr).astype(np.float32)
    eq = (np.maximum(freqs, np.float32(20.0)) / np.float32(1000.0)) ** np.float32(
        style.tilt_db / 6.0206
    )
    if recipe.bandlimit is not None:
        lo, hi = recipe.bandlimit
        eq = eq / (1 + (freqs / hi) ** 6) / (1 + (lo / np.maximum(freqs, 1.0)) ** 4)
    spec = sfft.rfft(mix.astype(np.float32), n=size)
    t = np.arange(ir_len) / sr
    ir = rng.standard_normal(ir_len) * np.exp(-6.9 * t / max(style.reverb_decay, 0.05))
    ir *= style.reverb_wet / (np.sqrt(np.sum(ir**2)) + 1e-12)
    wet = sfft.rfft(ir.astype(np.float32), n=size)
    return sfft.irfft(spec * (eq + wet * eq), n=size)[:n]


def _layer(n: int, sr: int, style: ArtistStyle, rng) -> np.ndarray:
    t = np.arange(n) / sr
    if style.layer == "hum":
        sig = sum(np.sin(2 * np.pi * k * style.layer_hz * t) / k for k in (1, 2, 3))
    elif style.layer == "hiss":
        sig = _tilt_noise(rng.standard_normal(n), sr, cutoff=min(4000.0, 0.4 * sr))
    elif style.layer == "drone":
        sig = np.sin(2 * np.pi * style.layer_hz * t) + 0.5 * np.sin(
            2 * np.pi * 1.5 * style.layer_hz * t
        )
    else:
        return np.zeros(n)
    return sig / (np.std(sig) + 1e-12)


def render_clip(
    *, genre: str, style: ArtistStyle, seed: int, duration: float, sr: int, channels: int = 1
) -> np.ndarray:
    """Render one clip of ``genre`` in an artist's ``style``.

    Parameters
    ----------
    genre : str
        A root genre title with a recipe in ``RECIPES`` (all 16 challenge genres).
    style : ArtistStyle
        The artist's mix colour.
    seed : int
        Seed of this clip; the same arguments give the same samples.
    duration : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    channels : int
        1 (mono) or 2 (stereo, decorrelated rooms left and right).

    Returns
    -------
    np.ndarray
        float32, shape (n,) for mono or (n, 2) for stereo, n = round(duration * sr), peak at
        ``style.level_db`` dBFS.
    """
    recipe = RECIPES[genre]
    rng = np.random.default_rng(seed)
    n = int(round(duration * sr))
    bpm = rng.uniform(*recipe.tempo)
    step_s = 60.0 / bpm / recipe.steps_per_beat
    mix = _render_voices(recipe, n=n, sr=sr, step_s=step_s, rng=rng)
    if recipe.drums:
        mix += _render_drums(recipe, n=n, sr=sr, step_s=step_s, rng=rng)
    mix += _render_textures(recipe, n=n, sr=sr, step_s=step_s, rng=rng)
    drive = rng.uniform(*recipe.drive)
    if drive > 0:
        mix = np.tanh(drive * mix / (np.std(mix) + 1e-12)) / drive
    mix = mix / (np.std(mix) + 1e-12)
    mix += 10 ** (style.layer_db / 20) * _layer(n, sr, style, rng)
    outs = [_colour(mix, sr=sr, style=style, recipe=recipe, rng=rng) for _ in range(channels)]
    out = np.stack(outs, axis=-1) if channels > 1 else outs[0]
    out *= 10 ** (style.level_db / 20) / (np.abs(out).max() + 1e-12)
    return out.astype(np.float32)
