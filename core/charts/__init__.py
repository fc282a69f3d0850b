"""Pure functions: tidy records (core.report.tidy) and run histories -> Vega-Lite dicts a
page draws or an exporter renders. One module per kind of chart:

- palette: one colour per role (from the spec), one sequential palette for values;
- theme:   type sizes and line widths for a screen or a projector, and the final dict;
- curves:  the headline and every other curve over the epochs;
- effects: final losses with their seed ranges and the claims' margins;
- sweeps:  the validation curve on the knob's own scale;
- pictures: decision boundaries, fitted curves, the class balance.

Records are plain dicts, not DataFrames: a cached comparison is drawn in a fresh process,
and pandas alone costs half a second to import.
"""

from core.charts.curves import HEADINGS, LINES, gap, histograms, norms, overlay, panels, penalty
from core.charts.effects import effect, effect_rows, measure_of, notes
from core.charts.palette import Palette, by_role, by_value
from core.charts.pictures import CLASS_COLORS, PICTURE, boundary, class_balance, fitted
from core.charts.sweeps import positions, sweep_chart
from core.charts.theme import INK, PROJECTOR, SCREEN, Theme, filled, grid, spec, titled

__all__ = ["CLASS_COLORS", "HEADINGS", "INK", "LINES", "PICTURE", "PROJECTOR", "SCREEN",
           "Palette", "Theme", "boundary", "by_role", "by_value", "class_balance", "effect",
           "effect_rows", "filled", "fitted", "gap", "grid", "histograms", "measure_of",
           "norms", "notes", "overlay", "panels", "penalty", "positions", "spec",
           "sweep_chart", "titled"]  # fmt: skip
