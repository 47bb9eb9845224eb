"""A picture of the learned space: a 2-D t-SNE map of chosen words, the trained embedding beside GloVe.

The words are the most frequent ones and the probe words (`export.probe_words`) with their nearest neighbours in
the trained space; each is coloured by the model's own sentiment for it (P(positive) of a review that is only
that word). The SVG is written by hand, with coordinates rounded, so the same vectors give the same bytes.
"""
from __future__ import annotations

from html import escape

import numpy as np

WIDTH, PANEL_HEIGHT, MARGIN, HEADER = 960, 520, 16, 44
FONT, PROBE_FONT = 12, 14
NEGATIVE, NEUTRAL, POSITIVE = (178, 24, 43), (120, 120, 120), (33, 102, 172)  # ColorBrewer RdBu ends, grey


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


def panel(points: np.ndarray, words: list[str], sentiment: np.ndarray, probes: set[str], left: float,
          title: str) -> list[str]:
    """SVG elements of one panel: dots for every word, labels where they do not cover another label."""
    width, top = WIDTH / 2 - 2 * MARGIN, HEADER
    height = PANEL_HEIGHT - HEADER - MARGIN
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo == 0, 1, hi - lo)
    xy = (points - lo) / span * [width - 110, height - 20] + [left + 10, top + 10]  # room for labels on the right
    out = [f'<text x="{left + width / 2:.0f}" y="30" class="title">{escape(title)}</text>']
    out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour(p)}"/>' for (x, y), p in zip(xy, sentiment)]
    placed: list[tuple[float, float, float, float]] = []
    for (x, y), word, p in zip(xy, words, sentiment):  # in order of importance: probes, neighbours, frequent
        size = PROBE_FONT if word in probes else FONT
        w, h = text_width(word, size), size
        options = [(5, 4, "start"), (-5, 4, "end"), (0, -6, "middle"), (0, 14, "middle")]
        boxes = []
        for dx, dy, anchor in options:
            x0 = x + dx - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
            boxes.append((x0, y + dy - h, x0 + w, y + dy))
        # a label stays inside its own panel: one that reaches into the other would cover its words
        free = [i for i, box in enumerate(boxes)
                if not _overlaps(box, placed) and left <= box[0] and box[2] <= left + width + MARGIN]
        if not free and word not in probes:  # no room: the dot stays unlabelled; a probe word is labelled anyway
            continue
        i = free[0] if free else 0
        dx, dy, anchor = options[i]
        placed.append(boxes[i])
        weight = ' font-weight="bold"' if word in probes else ""
        out.append(f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}" font-size="{size}"'
                   f'{weight} fill="{colour(p)}">{escape(word)}</text>')
    return out


def map_svg(spaces: dict[str, np.ndarray], words: list[str], sentiment: np.ndarray, probes: list[str],
            seed: int) -> str:
    """The whole picture: one t-SNE panel per space (same words), a colour legend below."""
    body = []
    for i, (title, vectors) in enumerate(spaces.items()):
        body += panel(tsne_2d(vectors, seed), words, sentiment, set(probes), MARGIN + i * WIDTH / 2, title)
    legend_y = PANEL_HEIGHT + 8
    stops = "".join(f'<stop offset="{t:g}" stop-color="{colour(t)}"/>' for t in (0, 0.25, 0.5, 0.75, 1))
    height = legend_y + 40
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'font-family="DejaVu Sans, Arial, sans-serif">',
        "<style>text { paint-order: stroke; stroke: white; stroke-width: 3px; } "
        ".title { font-size: 15px; font-weight: bold; text-anchor: middle; fill: #222; }</style>",
        f'<defs><linearGradient id="sentiment">{stops}</linearGradient></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<line x1="{WIDTH / 2:.0f}" y1="{HEADER}" x2="{WIDTH / 2:.0f}" y2="{PANEL_HEIGHT - MARGIN}" stroke="#ddd"/>',
        *body,
        f'<rect x="{WIDTH / 2 - 150:.0f}" y="{legend_y}" width="300" height="10" fill="url(#sentiment)"/>',
        f'<text x="{WIDTH / 2 - 160:.0f}" y="{legend_y + 9}" text-anchor="end" font-size="{FONT}" fill="#444">'
        "negative</text>",
        f'<text x="{WIDTH / 2 + 160:.0f}" y="{legend_y + 9}" font-size="{FONT}" fill="#444">positive</text>',
        f'<text x="{WIDTH / 2:.0f}" y="{legend_y + 28}" text-anchor="middle" font-size="{FONT}" fill="#444">'
        "colour: the trained model's P(positive) for a review that is only the word; bold: probe words "
        f"(t-SNE, seed {seed})</text>",
        "</svg>", ""])
