"""Plots that need no internet.

    python -m tools.offline_plots template          # (make setup) .dvc/plots/offline.html for `dvc plots show/diff`
    python -m tools.offline_plots svg [REV ...]     # (make plots) SVG pictures in reports/plot_pictures/

DVC's HTML page loads Vega from a CDN, so without internet it is blank. `.dvc/config` points DVC at
`.dvc/plots/offline.html` instead: the same page with Vega, Vega-Lite and vega-embed inlined, taken from the
vl-convert-python package (installed from the Python package index like everything else).

`svg` renders DVC's filled-in Vega-Lite specs (`dvc plots show --json`, or `dvc plots diff --json REV ...`)
to static SVG files with vl-convert's own Vega engine: no browser, no JavaScript in the result.
"""
from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(".dvc/plots/offline.html")
PICTURES = Path("reports/plot_pictures")

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Vega, Vega-Lite and vega-embed, inlined by tools/offline_plots.py: no request leaves this page -->
    <script>__BUNDLE__</script>
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>"""


def offline_page() -> str:
    import vl_convert

    bundle = vl_convert.javascript_bundle()  # assigns window.vegaEmbed, window.vega, window.vegaLite
    bundle = bundle.replace("</script", "<\\/script")  # cannot end the inline script early
    # DVC fills {plot_divs}, {refresh_tag} and {scripts} by plain replacement; the bundle must not contain them
    assert not any(p in bundle for p in ("{plot_divs}", "{refresh_tag}", "{scripts}"))
    return PAGE.replace("__BUNDLE__", bundle)


def write_template(path: Path = TEMPLATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(offline_page(), encoding="utf-8")
    tmp.replace(path)
    return path


def dvc_specs(revs: list[str]) -> dict[str, dict]:
    """{plot id: filled Vega-Lite spec} of the workspace (no revs) or of `dvc plots diff` between revs."""
    from tools.experiments import dvc_json

    data = dvc_json(*(["plots", "diff", *revs] if revs else ["plots", "show"])).get("data") or {}
    return {plot_id: entries[0]["content"] for plot_id, entries in data.items()
            if entries and entries[0].get("type") == "vega"}


def render_svgs(specs: dict[str, dict], folder: Path = PICTURES) -> list[Path]:
    import vl_convert

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for plot_id, spec in specs.items():
        path = folder / f"{plot_id.replace('/', '_')}.svg"
        path.write_text(vl_convert.vegalite_to_svg(spec), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["template"]:
        print(f"offline_plots: wrote {write_template()}")
        return 0
    if argv[:1] == ["svg"]:
        specs = dvc_specs(argv[1:])
        if not specs:
            print("offline_plots: DVC found no plot to draw (run in the repository, after `make repro`)",
                  file=sys.stderr)
            return 1
        for path in render_svgs(specs):
            print(path)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
