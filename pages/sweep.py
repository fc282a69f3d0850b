"""Sweep: one knob over several values, every value a branch of one fused training; the
validation curve (or learning curve) beside the loss over the epochs."""

from ui import live

live.page()
