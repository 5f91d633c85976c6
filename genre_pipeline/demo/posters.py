"""Small JPEG posters for the synthetic demo catalog (invented images, not real posters).

Each genre has a palette (motif colours and a background gradient) and a shape motif, both
from ``data/posters.json``. A motif is a *pattern* with parameters. The ``scatter``
pattern places a number of *stamps* (a disc, a diamond, a heart, ...), drawing the stamp's
integer parameters in the order the data lists them and then its colour; the other
patterns (diagonal lines, a grid, rings, a spiral, ...) each have their own routine.
"""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from genre_pipeline.demo.datafile import DemoDataError
from genre_pipeline.demo.vocabulary import RGB, GenreTable, MotifSpec, PosterStyle

__all__ = ["PATTERNS", "STAMPS", "Pattern", "PosterPainter", "Stamp"]

Colour = Callable[[], RGB]  # returns the next fill colour (a palette draw or a random one)
Size = tuple[int, int]


def _box(cx: float, cy: float, rx: float, ry: float | None = None) -> list[float]:
    """The bounding box of an ellipse (a circle when ``ry`` is None) around (cx, cy)."""
    ry = rx if ry is None else ry
    return [cx - rx, cy - ry, cx + rx, cy + ry]


def _inset_box(inset: int, size: Size) -> list[int]:
    w, h = size
    return [inset, inset, w - inset, h - inset]


# ---- stamps: one shape at drawn positions (params p, one colour c) --------------------


def _disc(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    d.ellipse(_box(p["cx"], p["cy"], p["r"]), fill=c)


def _oval(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    d.ellipse(_box(p["cx"], p["cy"], p["rx"], p["ry"]), fill=c)


def _triangle(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    base, cx, half = size[1] - p["drop"], p["cx"], p["half"]
    d.polygon([(cx - half, base), (cx + half, base), (cx, base - p["height"])], fill=c)


def _band(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    d.rectangle([0, p["y"], size[0], p["y"] + p["thickness"]], fill=c)


def _diamond(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    cx, cy, s = p["cx"], p["cy"], p["size"]
    d.polygon([(cx, cy - s), (cx + s, cy), (cx, cy + s), (cx - s, cy)], fill=c)


def _drip(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    x, length, width = p["x"], p["length"], p["width"]
    d.line([(x, 0), (x, length)], fill=c, width=width)
    d.ellipse(_box(x, length, width), fill=c)


def _heart(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    cx, cy, s = p["cx"], p["cy"], p["size"]
    d.ellipse(_box(cx - s, cy, s), fill=c)
    d.ellipse(_box(cx + s, cy, s), fill=c)
    d.polygon([(cx - 2 * s, cy + 1), (cx + 2 * s, cy + 1), (cx, cy + 2 * s + s // 2)], fill=c)


def _zigzag(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    y, amp, n = p["y"], p["amplitude"], p["points"]
    pts = [(k * size[0] / (n - 1), y + (amp if k % 2 else -amp)) for k in range(n)]
    d.line(pts, fill=c, width=3)


def _cross(d: ImageDraw.ImageDraw, p: dict[str, int], c: RGB, size: Size) -> None:
    cx, cy, s, t = p["cx"], p["cy"], p["size"], p["thickness"]
    d.rectangle([cx - s, cy - t, cx + s, cy + t], fill=c)
    d.rectangle([cx - t, cy - s, cx + t, cy + s], fill=c)


class Stamp(NamedTuple):
    draw: Callable[[ImageDraw.ImageDraw, dict[str, int], RGB, Size], None]
    params: frozenset[str]


#: Stamp name -> routine and the parameter names its ``draws`` must provide.
STAMPS: Mapping[str, Stamp] = {
    "disc": Stamp(_disc, frozenset({"cx", "cy", "r"})),
    "oval": Stamp(_oval, frozenset({"cx", "cy", "rx", "ry"})),
    "triangle": Stamp(_triangle, frozenset({"drop", "cx", "half", "height"})),
    "band": Stamp(_band, frozenset({"y", "thickness"})),
    "diamond": Stamp(_diamond, frozenset({"cx", "cy", "size"})),
    "drip": Stamp(_drip, frozenset({"x", "length", "width"})),
    "heart": Stamp(_heart, frozenset({"cx", "cy", "size"})),
    "zigzag": Stamp(_zigzag, frozenset({"y", "amplitude", "points"})),
    "cross": Stamp(_cross, frozenset({"cx", "cy", "size", "thickness"})),
}

# ---- patterns: a whole motif (spec parameters, rng, colour source) --------------------

Routine = Callable[[ImageDraw.ImageDraw, random.Random, Colour, MotifSpec, Size], None]


def _scatter(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
             size: Size) -> None:
    stamp = STAMPS[spec.stamp]
    for _ in range(rng.randint(*spec.params["count"])):
        params = {name: rng.randint(low, high) for name, low, high in spec.draws}
        stamp.draw(d, params, col(), size)


def _diagonal_lines(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
                    size: Size) -> None:
    p, h = spec.params, size[1]
    x = rng.randint(*p["start"])
    step, width = rng.randint(*p["step"]), rng.randint(*p["width"])
    for _ in range(rng.randint(*p["count"])):
        d.line([(x, h), (x + h, 0)], fill=col(), width=width)
        x += step


def _vertical_bars(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
                   size: Size) -> None:
    p, (w, h) = spec.params, size
    n = rng.randint(*p["count"])
    width = rng.randint(*p["width"])
    for k in range(n):
        x = int((k + 0.5) * w / n) + rng.randint(*p["wobble"])
        d.line([(x, 0), (x, h)], fill=col(), width=width)


def _grid(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
          size: Size) -> None:
    w, h = size
    step = rng.randint(*spec.params["step"])
    c = col()
    for x in range(rng.randint(0, step), w, step):
        d.line([(x, 0), (x, h)], fill=c, width=1)
    for y in range(rng.randint(0, step), h, step):
        d.line([(0, y), (w, y)], fill=c, width=1)


def _frame(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
           size: Size) -> None:
    p = spec.params
    inset, width = rng.randint(*p["inset"]), rng.randint(*p["width"])
    d.rectangle(_inset_box(inset, size), outline=col(), width=width)
    if rng.random() < p["double_chance"]:
        inner = inset + width + rng.randint(*p["gap"])
        d.rectangle(_inset_box(inner, size), outline=col(), width=max(1, width // 2))


def _rings(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
           size: Size) -> None:
    p = spec.params
    cx, cy = rng.randint(*p["cx"]), rng.randint(*p["cy"])
    step = rng.randint(*p["step"])
    for k in range(1, rng.randint(*p["count"]) + 1):
        d.ellipse(_box(cx, cy, k * step), outline=col(), width=2)


def _spiral(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
            size: Size) -> None:
    p = spec.params
    cx, cy = rng.randint(*p["cx"]), rng.randint(*p["cy"])
    a, turns = rng.uniform(*p["growth"]), rng.uniform(*p["turns"])
    theta = np.linspace(0.0, 2 * np.pi * turns, p["points"]) + rng.uniform(0, 2 * np.pi)
    radius = a * (theta - theta[0]) + 1.0
    pts = [(float(cx + r * np.cos(t)), float(cy + r * np.sin(t))) for r, t in zip(radius, theta)]
    d.line(pts, fill=col(), width=2)


def _rays(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
          size: Size) -> None:
    p = spec.params
    cx, cy = rng.randint(*p["cx"]), rng.randint(*p["cy"])
    c, length = col(), p["length"]
    angles = np.linspace(0, 2 * np.pi, rng.randint(*p["count"]), endpoint=False)
    for t in angles + rng.uniform(0, 1):
        d.line([(cx, cy), (cx + length * np.cos(t), cy + length * np.sin(t))], fill=c, width=1)
    d.ellipse(_box(cx, cy, rng.randint(*p["sun_radius"])), outline=col(), width=2)


def _screen(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
            size: Size) -> None:
    p, (w, h) = spec.params, size
    bw, bh = rng.randint(*p["width"]), rng.randint(*p["height"])
    x0, y0 = (w - bw) // 2 + rng.randint(*p["dx"]), (h - bh) // 2 + rng.randint(*p["dy"])
    d.rounded_rectangle([x0, y0, x0 + bw, y0 + bh], radius=p["corner"], fill=col(),
                        outline=col(), width=p["outline"])


def _horizon(d: ImageDraw.ImageDraw, rng: random.Random, col: Colour, spec: MotifSpec,
             size: Size) -> None:
    p, (w, h) = spec.params, size
    ground = int(h * rng.uniform(*p["ground"]))
    r = rng.randint(*p["sun_radius"])
    cx = rng.randint(r, w - r)
    d.ellipse([cx - r, ground - r - rng.randint(*p["sun_rise"]), cx + r, ground + r], fill=col())
    d.rectangle([0, ground, w, h], fill=col())


class Pattern(NamedTuple):
    draw: Routine
    params: frozenset[str]


#: Pattern name -> routine and the parameter names its motif spec must give.
PATTERNS: Mapping[str, Pattern] = {
    "scatter": Pattern(_scatter, frozenset({"count"})),
    "diagonal_lines": Pattern(_diagonal_lines, frozenset({"start", "step", "width", "count"})),
    "vertical_bars": Pattern(_vertical_bars, frozenset({"count", "width", "wobble"})),
    "grid": Pattern(_grid, frozenset({"step"})),
    "frame": Pattern(_frame, frozenset({"inset", "width", "double_chance", "gap"})),
    "rings": Pattern(_rings, frozenset({"cx", "cy", "step", "count"})),
    "spiral": Pattern(_spiral, frozenset({"cx", "cy", "growth", "turns", "points"})),
    "rays": Pattern(_rays, frozenset({"cx", "cy", "count", "length", "sun_radius"})),
    "screen": Pattern(_screen, frozenset({"width", "height", "dx", "dy", "corner", "outline"})),
    "horizon": Pattern(_horizon, frozenset({"ground", "sun_radius", "sun_rise"})),
}


def _check_motif(source: str, genre: str, spec: MotifSpec) -> None:
    """Raise :class:`DemoDataError` unless ``spec`` names a pattern (and stamp) it fits."""
    where = f"{source}: motifs.{genre}"
    pattern = PATTERNS.get(spec.pattern)
    if pattern is None:
        raise DemoDataError(f"{where}.pattern: unknown pattern {spec.pattern!r} "
                            f"(known: {', '.join(sorted(PATTERNS))})")
    if set(spec.params) != pattern.params:
        raise DemoDataError(f"{where}: pattern {spec.pattern!r} takes {sorted(pattern.params)}, "
                            f"got {sorted(spec.params)}")
    if spec.pattern != "scatter":
        if spec.stamp is not None or spec.draws:
            raise DemoDataError(f"{where}: only the scatter pattern takes a stamp and draws")
        return
    stamp = STAMPS.get(spec.stamp or "")
    if stamp is None:
        raise DemoDataError(f"{where}.stamp: unknown stamp {spec.stamp!r} "
                            f"(known: {', '.join(sorted(STAMPS))})")
    drawn = [name for name, _, _ in spec.draws]
    if sorted(drawn) != sorted(stamp.params):
        raise DemoDataError(f"{where}.draws: stamp {spec.stamp!r} takes {sorted(stamp.params)}, "
                            f"got {drawn}")


def _jitter(rng: random.Random, color: RGB, amount: int) -> RGB:
    r, g, b = (min(255, max(0, c + rng.randint(-amount, amount))) for c in color)
    return (r, g, b)


def _random_colour(rng: random.Random) -> RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _palette_colour(rng: random.Random, palette: Sequence[RGB], amount: int) -> RGB:
    return _jitter(rng, rng.choice(palette), amount)


class PosterPainter:
    """Draws genre-coloured JPEG posters; checks every motif in ``style`` up front."""

    def __init__(self, style: PosterStyle, table: GenreTable) -> None:
        for genre, spec in style.motifs.items():
            _check_motif(style.source, genre, spec)
        self.style = style
        self.table = table

    def jpeg(self, rng: random.Random, noise_rng: np.random.Generator,
             genres: Sequence[str]) -> bytes:
        """A JPEG whose palette and shapes follow ``genres``, with distractors and noise.

        The background gradient is the look of one of the genres with probability equal to
        its poster strength (otherwise random colours); each genre's motif is drawn in its
        palette with probability equal to its poster strength; distractor motifs of random
        genres in random colours, and sometimes one off-genre motif in its own palette,
        blur the signal; pixel noise and a brightness/contrast jitter finish it.
        """
        style, strength, names = self.style, self.table.poster_strength, self.table.names
        w, h = style.size
        bg_genre = rng.choices(genres, [strength[g] for g in genres])[0]
        if rng.random() < strength[bg_genre]:
            palette = style.palettes[bg_genre]
            top = _jitter(rng, palette.top, style.background_jitter)
            bottom = _jitter(rng, palette.bottom, style.background_jitter)
        else:
            top, bottom = _random_colour(rng), _random_colour(rng)
        t = np.linspace(0.0, 1.0, h)[:, None, None]
        canvas = np.broadcast_to(np.array(top) * (1 - t) + np.array(bottom) * t, (h, w, 3))
        img = Image.fromarray(np.ascontiguousarray(canvas).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(img)

        def in_palette(genre: str) -> tuple[str, Colour]:
            colours = style.palettes[genre].motif
            return genre, functools.partial(_palette_colour, rng, colours, style.motif_jitter)

        layers = [in_palette(g) for g in genres if rng.random() < strength[g]]
        for _ in range(rng.randint(*style.distractors)):
            layers.append((rng.choice(names), functools.partial(_random_colour, rng)))
        if rng.random() < style.off_genre_chance:
            layers.append(in_palette(rng.choice(names)))
        for genre, colour in rng.sample(layers, len(layers)):
            spec = style.motifs[genre]
            PATTERNS[spec.pattern].draw(draw, rng, colour, spec, style.size)

        arr = np.asarray(img, dtype=np.float32)
        arr = arr * rng.uniform(*style.contrast) + rng.uniform(*style.brightness)
        noise = noise_rng.standard_normal(arr.shape, dtype=np.float32)
        arr += noise * rng.uniform(*style.noise_sigma)
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=style.jpeg_quality)
        return buf.getvalue()
