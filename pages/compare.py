"""Compare: the variants of one comparison side by side, live while they train."""

from ui import live

live.page()
