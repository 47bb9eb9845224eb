"""A picture of the learned space: a 2-D t-SNE map of chosen words, the trained embedding beside GloVe.

The words are the probe words (`export.probe_words`) with their nearest neighbours in the trained space, coloured
by the model's own sentiment for each (P(positive) of a review that is only that word), and the most frequent
words in grey, for orientation (mostly function words: their colour would tell little and take the eye). No
label covers a dot or another label. Below the maps, each probe word's nearest words before and after training,
side by side, the new ones in bold: the change at a glance. The SVG is written by hand, with coordinates rounded,
so the same vectors give the same bytes.
"""
from __future__ import annotations

from html import escape

import numpy as np

WIDTH, PANEL_HEIGHT, MARGIN, HEADER = 960, 520, 16, 44
FONT, PROBE_FONT = 12, 14
NEGATIVE, NEUTRAL, POSITIVE = (178, 24, 43), (120, 120, 120), (33, 102, 172)  # ColorBrewer RdBu ends, grey
ORIENTATION = "#9a9a9a"  # the frequent words' dots and labels: no sentiment shown
ROW = 18  # px between the rows of the neighbour lists
DOT = 3.0  # radius; a label keeps DOT + 1 px away from every dot
DESCENT = 0.25  # of the font size below the baseline (g, p, y): a label's box reaches down that far


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def choose_words(vectors: np.ndarray, words: list[str], probes: list[str], neighbours: int,
                 frequent: int) -> list[int]:
    """Rows to draw: probes first, then each probe's nearest neighbours (cosine), then the `frequent` first rows
    (the vocabulary is in order of frequency). `vectors` and `words` are the rows both spaces have."""
    unit = unit_rows(vectors)
    index = {w: i for i, w in enumerate(words)}
    chosen = [index[p] for p in probes if p in index]
    for row in list(chosen):
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        chosen += [int(j) for j in np.argsort(-similarity, kind="stable")[:neighbours]]
    chosen += range(min(frequent, len(words)))
    return list(dict.fromkeys(chosen))  # each once, first mention kept


def tsne_2d(vectors: np.ndarray, seed: int) -> np.ndarray:
    """t-SNE of unit vectors (cosine geometry), exact method: with a fixed seed, the same points every run."""
    from sklearn.manifold import TSNE  # scikit-learn: only this picture and the baseline need it

    n = len(vectors)
    if n < 3:  # t-SNE needs a few points; a tiny vocabulary gets a line
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", method="exact", random_state=seed,
                max_iter=1000)
    return tsne.fit_transform(unit_rows(vectors.astype(np.float64)))


def colour(p: float) -> str:
    """Red (negative) through grey to blue (positive)."""
    t = min(max(float(p), 0.0), 1.0)
    a, b, s = (NEGATIVE, NEUTRAL, t * 2) if t < 0.5 else (NEUTRAL, POSITIVE, t * 2 - 1)
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * s) for x, y in zip(a, b))


def text_width(word: str, size: float) -> float:
    """The drawn width of a label, from the widths of DejaVu Sans' letters in em (m and w are half as wide again
    as an average letter: 0.66 em a letter put `masterwork` over its neighbour), with 3 px to spare."""
    wide, narrow = set("mwMW@"), set("ijlft.,;:'!|()[] ")
    return size * sum(0.92 if c in wide else 0.34 if c in narrow else 0.64 for c in word) + 3


def _overlaps(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def label_boxes(x: float, y: float, w: float, h: float, far: bool = False) -> list[tuple[tuple, tuple]]:
    """The places tried for a label of w x h px at the dot (x, y): right, left, above, below; with `far` (a probe
    word, which must be labelled), then the corners and a little further out."""
    places = [(DOT + 2, 4, "start"), (-DOT - 2, 4, "end"), (0, -DOT - 3, "middle"), (0, DOT + h + 1, "middle")]
    if far:
        places += [(DOT + 2, dy, anchor) for dy in (-6, 14) for anchor in ("start",)]
        places += [(-DOT - 2, dy, "end") for dy in (-6, 14)]
        places += [(0, -DOT - 3 - step, "middle") for step in (6, 12)] + [(0, DOT + h + 1 + step, "middle")
                                                                          for step in (6, 12)]
    out = []
    for dx, dy, anchor in places:
        x0 = x + dx - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
        out.append(((x0, y + dy - h, x0 + w, y + dy + DESCENT * h), (dx, dy, anchor)))
    return out


def panel(points: np.ndarray, words: list[str], sentiment: np.ndarray, coloured: set[str], probes: set[str],
          left: float, title: str) -> list[str]:
    """SVG elements of one panel: a dot for every word, labels where they cover no dot and no other label."""
    width, top = WIDTH / 2 - 2 * MARGIN, HEADER
    height = PANEL_HEIGHT - HEADER - MARGIN
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo == 0, 1, hi - lo)
    xy = (points - lo) / span * [width - 110, height - 20] + [left + 10, top + 10]  # room for labels on the right
    fills = [colour(p) if word in coloured else ORIENTATION for word, p in zip(words, sentiment)]
    out = [f'<text x="{left + width / 2:.0f}" y="30" class="title">{escape(title)}</text>']
    # grey dots first, so a coloured dot is drawn over a grey one
    for i in sorted(range(len(words)), key=lambda i: words[i] in coloured):
        out.append(f'<circle cx="{xy[i][0]:.1f}" cy="{xy[i][1]:.1f}" r="{DOT:g}" fill="{fills[i]}"/>')
    pad = DOT + 1
    dots = [(x - pad, y - pad, x + pad, y + pad) for x, y in np.round(xy, 1)]
    placed: list[tuple[float, float, float, float]] = []
    for i, ((x, y), word) in enumerate(zip(xy, words)):  # in order of importance: probes, neighbours, frequent
        size = PROBE_FONT if word in probes else FONT
        # a label stays inside its own panel: one that reaches into the other would cover its words
        free = [(box, place) for box, place in label_boxes(x, y, text_width(word, size), size, word in probes)
                if not _overlaps(box, placed) and not _overlaps(box, dots[:i] + dots[i + 1:])
                and left <= box[0] and box[2] <= left + width + MARGIN]
        if not free:  # no room: the dot stays unlabelled
            continue
        box, (dx, dy, anchor) = free[0]
        placed.append(box)
        weight = ' font-weight="bold"' if word in probes else ""
        out.append(f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}" font-size="{size}"'
                   f'{weight} fill="{fills[i]}">{escape(word)}</text>')
    return out


def neighbour_rows(lists: dict[str, tuple[list[str], list[str]]], sentiment: dict[str, float], top: float) -> list[str]:
    """Each probe word's nearest words in both spaces, the GloVe list under the left map and the trained one under
    the right; a word of the trained list that was not in GloVe's is bold."""
    out = [f'<text x="{MARGIN + 10}" y="{top}" class="head">nearest words</text>',
           f'<text x="{MARGIN + 130}" y="{top}" class="head">before training (GloVe)</text>',
           f'<text x="{WIDTH / 2 + MARGIN:.0f}" y="{top}" class="head">after training (new ones in bold)</text>']
    column = WIDTH / 2 - MARGIN - 140  # px for a list under the left map (after the probe word), and under the right
    for r, (probe, (before, after)) in enumerate(lists.items(), start=1):
        y = top + r * ROW
        shown = max([n for n in range(1, max(len(before), len(after)) + 1)
                     if max(text_width(", ".join(words[:n]), FONT) for words in (before, after)) <= column] or [1])
        before, after = before[:shown], after[:shown]  # as many of each as fit: "new" means not shown on the left
        out.append(f'<text x="{MARGIN + 10}" y="{y}" font-size="{FONT}" font-weight="bold" '
                   f'fill="{colour(sentiment.get(probe, 0.5))}">{escape(probe)}</text>')
        out.append(f'<text x="{MARGIN + 130}" y="{y}" font-size="{FONT}" fill="#444">'
                   f'{escape(", ".join(before)) or "(not in GloVe)"}</text>')
        spans = [f'<tspan font-weight="bold">{escape(w)}</tspan>' if w not in before else escape(w) for w in after]
        out.append(f'<text x="{WIDTH / 2 + MARGIN:.0f}" y="{y}" font-size="{FONT}" fill="#444">'
                   f'{", ".join(spans) or "(not in the vocabulary)"}</text>')
    return out


def map_svg(spaces: dict[str, np.ndarray], words: list[str], sentiment: np.ndarray, probes: list[str],
            seed: int, lists: dict[str, tuple[list[str], list[str]]] | None = None) -> str:
    """The whole picture: one t-SNE panel per space (same words), the probe words' neighbour `lists` (before,
    after) below them, a colour legend at the bottom. The probe words and the words of `lists` are coloured."""
    lists = lists or {}
    coloured = set(probes) | {w for before, after in lists.values() for w in before + after}
    body = []
    for i, (title, vectors) in enumerate(spaces.items()):
        body += panel(tsne_2d(vectors, seed), words, sentiment, coloured, set(probes), MARGIN + i * WIDTH / 2, title)
    rows_top = PANEL_HEIGHT + 10
    if lists:
        body += neighbour_rows(lists, dict(zip(words, map(float, sentiment))), rows_top)
        rows_top += (len(lists) + 1) * ROW + 6
    legend_y = rows_top
    stops = "".join(f'<stop offset="{t:g}" stop-color="{colour(t)}"/>' for t in (0, 0.25, 0.5, 0.75, 1))
    height = legend_y + 40
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'font-family="DejaVu Sans, Arial, sans-serif">',
        "<style>text { paint-order: stroke; stroke: white; stroke-width: 3px; } "
        ".title { font-size: 15px; font-weight: bold; text-anchor: middle; fill: #222; } "
        f".head {{ font-size: {FONT}px; font-weight: bold; fill: #222; }}</style>",
        f'<defs><linearGradient id="sentiment">{stops}</linearGradient></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<line x1="{WIDTH / 2:.0f}" y1="{HEADER}" x2="{WIDTH / 2:.0f}" y2="{PANEL_HEIGHT - MARGIN}" stroke="#ddd"/>',
        *body,
        f'<rect x="{WIDTH / 2 - 150:.0f}" y="{legend_y}" width="300" height="10" fill="url(#sentiment)"/>',
        f'<text x="{WIDTH / 2 - 160:.0f}" y="{legend_y + 9}" text-anchor="end" font-size="{FONT}" fill="#444">'
        "negative</text>",
        f'<text x="{WIDTH / 2 + 160:.0f}" y="{legend_y + 9}" font-size="{FONT}" fill="#444">positive</text>',
        f'<text x="{WIDTH / 2:.0f}" y="{legend_y + 28}" text-anchor="middle" font-size="{FONT}" fill="#444">'
        "colour: the trained model's P(positive) for a review that is only the word; grey: frequent words; "
        f"bold: probe words (t-SNE, seed {seed})</text>",
        "</svg>", ""])
