"""How a chart looks, as a value: type sizes and line widths for a screen or a projector,
and the Vega-Lite dict every builder hands to a page or an exporter.

A builder takes a Theme instead of a `presentation` flag; the same builders draw both.
"""

from __future__ import annotations

from dataclasses import dataclass

INK, SOFT_INK = "#111111", "#333333"


@dataclass(frozen=True)
class Theme:
    """Sizes in pixels. Text at least 16 px, dark on light; lines at least 3 px where a
    class must tell them apart from the back of a room."""

    ticks: int = 16  # tick and legend labels
    notes: int = 15  # words written beside marks, two rows to a variant
    titles: int = 17  # axis titles
    heading: int = 18  # chart titles
    line: float = 4.0  # a stressed validation curve
    train_line: float = 2.5  # a stressed training curve (dashed)
    thin: float = 1.5  # a curve the claim does not mention
    point: int = 170  # a marked point's area
    legend_width: int = 330  # what a legend above a chart half a screen wide may fill

    def config(self) -> dict:
        """Vega-Lite's config, added to the final dict: Altair's configure_* copies every
        layer of every chart and cost more than drawing them."""
        return {
            "axis": {"labelFontSize": self.ticks, "titleFontSize": self.titles,
                     "labelColor": SOFT_INK, "titleColor": INK, "gridOpacity": 0.45,
                     "domainColor": "#555", "tickColor": "#555"},
            # Streamlit's theme aligns the end labels flush with the axis: the bottom "0.0"
            # then sits above its tick and the spacing looks uneven.
            "axisY": {"labelFlush": False},
            "legend": {"labelFontSize": self.ticks, "titleFontSize": self.titles,
                       "labelColor": INK, "titleColor": INK, "symbolStrokeWidth": 4,
                       "symbolSize": 320, "labelLimit": 260},
            "title": {"fontSize": self.heading, "subtitleFontSize": self.ticks - 1,
                      "color": INK, "subtitleColor": SOFT_INK},
            "header": {"labelFontSize": self.titles, "titleFontSize": self.titles},
            "text": {"fontSize": self.notes},
            "view": {"strokeOpacity": 0.3},
            "background": "white",
        }  # fmt: skip


SCREEN = Theme()
PROJECTOR = Theme(
    ticks=20,
    notes=16,
    titles=21,
    heading=22,
    line=5.0,
    train_line=3.0,
    thin=2.0,
    point=260,
    legend_width=470,
)  # the sidebar closed: wider halves


def spec(chart, theme: Theme = SCREEN) -> dict:
    """The Vega-Lite dict to draw. Not validated against the schema here: every builder is
    validated by the tests, and validation was the slowest part of a page."""
    out = chart.to_dict(validate=False)
    altair = out.get("config", {})  # Altair's own defaults (the view's size) stay
    out["config"] = altair | {k: altair.get(k, {}) | v if isinstance(v, dict) else v
                              for k, v in theme.config().items()}  # fmt: skip
    return out


def filled(chart, theme: Theme = SCREEN, **datasets: list) -> dict:
    """The Vega-Lite dict of a chart built on named datasets, with their rows put in place
    afterwards: Altair neither validates nor walks thousands of points, which was most of
    the time a live page took to draw."""
    return put(spec(chart, theme), **datasets)


def put(out: dict, **datasets: list) -> dict:
    """A Vega-Lite dict with the rows of its named datasets put in place (in place)."""

    def fill(node) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and data.get("name") in datasets:
                node["data"] = {"values": datasets[data["name"]]}
            for value in node.values():
                fill(value)
        elif isinstance(node, list):
            for value in node:
                fill(value)

    fill(out)
    return out


def heading(title: str, subtitle: str | list[str] = "", size: int = 22) -> dict:
    head = {"text": title, "fontSize": size, "anchor": "start", "color": INK}
    if subtitle:
        head |= {"subtitle": subtitle, "subtitleFontSize": 16, "subtitleColor": SOFT_INK}
    return head


def titled(figure: dict, title: str, subtitle: str = "", width: int = 900) -> dict:
    """A chart with a title for a slide, at a fixed width (exports cannot fill a screen)."""
    return figure | {"title": heading(title, subtitle), "width": width}


def grid(panels: list[dict], columns: int, width: int, title: str, subtitle: str = "") -> dict:
    """Panels laid out row by row in one figure, for export: only real panels, so a last
    row that is not full shows no empty axes."""
    sized = [p | {"width": width} for p in panels]
    rows = [{"hconcat": sized[i : i + columns]} for i in range(0, len(sized), columns)]
    return {"$schema": panels[0].get("$schema", ""), "vconcat": rows,
            "title": heading(title, subtitle),
            "config": panels[0].get("config", SCREEN.config())}  # fmt: skip
