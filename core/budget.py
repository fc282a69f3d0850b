"""What one request may ask of a shared server: its training work, against the operator's
limit, and the one line that refuses a request above it and says what to reduce.

A run's work is epochs × training examples × the network's weights (how often a weight
meets an example), counted in trillions; a request's is the sum over the runs it would
train. The weights come from the layer list (core.models.count_params), so pricing a link
never imports Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import config, datasets
from core.models import count_params
from core.spec import ExperimentSpec

TRILLION = 1e12


def limit() -> float:
    """The operator's limit in trillions (core.config: $OVERFITTING_LAB_MAX_COST)."""
    return config.current().max_cost


def train_examples(spec: ExperimentSpec) -> int:
    return datasets.for_spec(spec).train_count(spec.train_size)


def weights(spec: ExperimentSpec) -> int:
    return count_params(spec, datasets.info(spec.dataset))


def cost(specs: Sequence[ExperimentSpec]) -> float:
    """The training work of these runs, in trillions."""
    return sum(s.epochs * train_examples(s) * weights(s) for s in specs) / TRILLION


def budget_problem(specs: Sequence[ExperimentSpec], allowed: float | None = None) -> str | None:
    """None if training these runs (pass only those not cached) fits the server's limit;
    otherwise one line saying how far over it they are and what to reduce."""
    if not specs:
        return None
    allowed = limit() if allowed is None else allowed
    work = cost(specs)
    if work <= allowed:
        return None
    epochs = max(s.epochs for s in specs)
    fitting = int(epochs * allowed / work)
    examples = max(train_examples(s) for s in specs)
    size = max(weights(s) for s in specs)
    noun = datasets.info(specs[0].dataset).noun
    return (
        f"Too much training for one request: {len(specs)} run(s) × {epochs:,} epochs × "
        f"{examples:,} training {noun} × {_millions(size)} weights is {_amount(work)} trillion, "
        f"over this server's limit of {_amount(allowed)}. Ask for fewer epochs"
        + (f" (about {fitting:,} would fit)" if fitting else "")
        + ", seeds, variants or training examples, or a smaller network."
    )


def _amount(trillions: float) -> str:
    return f"{trillions:,.0f}" if trillions >= 10 else f"{trillions:.2g}"


def _millions(count: int) -> str:
    return f"{count / 1e6:.1f} million" if count >= 1e6 else f"{count:,}"
