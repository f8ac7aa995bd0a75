"""The forecaster: gradient-boosted trees with quantile loss, one per quantile (10 %, 50 %, 90 %).

scikit-learn's HistGradientBoostingRegressor: trains on tens of thousands of rows in about a second on
two cores, handles missing features (a gap a week ago) natively and needs no GPU. It learns the change
of the occupied share from now to the target time, for any horizon from 15 minutes to a day. Where that
change did not help in the week before a fit (a quiet street at 15 minutes), it is shrunk towards
carrying the value forward, horizon by horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from forecast import features
from forecast.data import Series
from forecast.features import Frame
from forecast.timeseries import DAY, Floats, Ints

QUANTILES = (0.1, 0.5, 0.9)
TRAIN_HORIZONS_MIN = (15, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1080, 1440)
HORIZONS_PER_ORIGIN = 3
ORIGIN_SPACING = 15 * 60  # denser readings add little but time: learn from one origin per quarter hour
MIN_HISTORY_DAYS = 14  # two weeks, so that "the same slot a week earlier" is there for a week of origins
MIN_TRAINING_ROWS = 500
MAX_TRAINING_ROWS = 20_000


class NotEnoughHistory(Exception):
    """Too little history to train on; the message says how much there is and how much is needed."""


@dataclass(frozen=True)
class Band:
    """Forecast occupied shares: the median and the 10-90 % band."""

    low: Floats
    median: Floats
    high: Floats


def training_origins(series: Series, rng: np.random.Generator) -> tuple[npt.NDArray[np.intp], Ints]:
    """Origins about a quarter hour apart, each paired with a few horizons drawn at random."""
    spacing = float(np.median(np.diff(series.times))) if len(series) > 1 else ORIGIN_SPACING
    step = max(1, round(ORIGIN_SPACING / max(spacing, 1.0)))
    origins = np.arange(0, len(series), step, dtype=np.intp)
    horizons = rng.choice(np.array(TRAIN_HORIZONS_MIN) * 60, size=(len(origins), HORIZONS_PER_ORIGIN))
    return np.repeat(origins, HORIZONS_PER_ORIGIN), horizons.reshape(-1).astype(np.int64)


def check_history(series: list[Series], cutoff: int) -> None:
    """Raise NotEnoughHistory unless some place has MIN_HISTORY_DAYS of readings before ``cutoff``."""
    spans = [
        (s.times[s.times < cutoff].max() - s.times.min()) / DAY for s in series if (s.times < cutoff).any()
    ]
    have = max(spans, default=0.0)
    if have < MIN_HISTORY_DAYS:
        raise NotEnoughHistory(
            f"not enough history: {have:.1f} days of readings, the forecast needs {MIN_HISTORY_DAYS}"
        )


def training_rows(candidates: Frame, cutoff: int, rng: np.random.Generator) -> Frame:
    """Candidate rows whose truth was known before ``cutoff``, at most MAX_TRAINING_ROWS of them."""
    usable = np.flatnonzero((candidates.truth_known_at >= 0) & (candidates.truth_known_at < cutoff))
    if len(usable) < MIN_TRAINING_ROWS:
        raise NotEnoughHistory(
            f"not enough history: {len(usable)} usable forecast examples, the model needs {MIN_TRAINING_ROWS}"
        )
    if len(usable) > MAX_TRAINING_ROWS:
        usable = np.sort(rng.choice(usable, size=MAX_TRAINING_ROWS, replace=False))
    return candidates.take(usable)


@dataclass(frozen=True)
class ModelConfig:
    """The trees' size: the defaults were chosen on the back-tests in README.md (Forecast)."""

    max_iter: int = 100
    max_leaf_nodes: int = 15
    learning_rate: float = 0.1
    seed: int = 0


DEFAULT_CONFIG = ModelConfig()


# The days before a fit on which the shrinkage towards carrying the value forward is chosen.
VALIDATION_DAYS = 14
TRUST_STEPS = np.linspace(0.0, 1.0, 11)
# Predicted changes are cut by a dead zone (a share) before they are used: where the outcome does not
# move at all in most cases (a quiet street at 15 minutes), every small predicted change costs its
# full size in those cases, and only a large one (after a sudden jump) earns its keep.
DEAD_ZONES = np.array([0.0, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02])
# The shrinkage is chosen apart for targets in the day and at night (local hours): a street that does
# not move at night gains nothing from a change the model predicts there, while its day may.
DAY_HOURS = (7.0, 20.0)


def shrink(change: Floats, trust: Floats | float, dead_zone: Floats | float) -> Floats:
    """``trust`` times the change after the dead zone is taken off its size (soft thresholding)."""
    return trust * np.sign(change) * np.maximum(np.abs(change) - dead_zone, 0.0)


def choose_shrinkage(target: Floats, change: Floats) -> tuple[float, float]:
    """(trust, dead zone) whose shrunk change erred least on validation outcomes (of equals the one
    with the smaller dead zone, then the smaller trust); without outcomes (0, 0): the value carried."""
    if len(target) == 0:
        return 0.0, 0.0
    trust, dead_zone = (grid.reshape(-1) for grid in np.meshgrid(TRUST_STEPS, DEAD_ZONES))
    errors = np.abs(target[None, :] - shrink(change[None, :], trust[:, None], dead_zone[:, None]))
    best = int(np.argmin(errors.mean(axis=1)))
    return float(trust[best]), float(dead_zone[best])


def in_the_day(rows: Frame) -> npt.NDArray[np.bool_]:
    hour = rows.x[:, features.NAMES.index("target_hour")]
    return (hour >= DAY_HOURS[0]) & (hour < DAY_HOURS[1])


def _regressor(config: ModelConfig, quantile: float) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss="quantile",
        quantile=quantile,
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=[features.NAMES.index("target_weekday")],
        early_stopping=False,  # fixed size: deterministic and the same cost on every refit
        random_state=config.seed,
    )


def _usable(x: Floats) -> Floats:
    """The features with a column that is missing everywhere (no readings two weeks back yet) set to 0:
    the trees cannot bin an empty column, and a constant one is simply never split on."""
    empty = np.isnan(x).all(axis=0)
    if not empty.any():
        return x
    filled = x.copy()
    filled[:, empty] = 0.0
    return filled


class QuantileModel:
    """Three quantile models of the change from now; the median's change is used per horizon, for day
    and night targets apart, only as far as it beat carrying the value forward on the days before the
    fit (held out, then refitted)."""

    def __init__(self, config: ModelConfig = DEFAULT_CONFIG) -> None:
        self._config = config
        self._models = [_regressor(config, q) for q in QUANTILES]
        self._shrink_horizons = np.array(TRAIN_HORIZONS_MIN, dtype=np.float64) * 60
        # [night, day] × training horizon; as predicted until validation says otherwise
        self.trust = np.ones((2, len(TRAIN_HORIZONS_MIN)))
        self.dead_zone = np.zeros((2, len(TRAIN_HORIZONS_MIN)))

    def fit(self, rows: Frame) -> QuantileModel:
        target = rows.truth - rows.persistence
        # One thread: on a shared two-core machine OpenMP's spinning threads made a fit 20× slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            self._validate(rows, target)
            for model in self._models:
                model.fit(_usable(rows.x), target)
        return self

    def _validate(self, rows: Frame, target: Floats) -> None:
        """The shrinkage per training horizon and day or night, chosen on the last VALIDATION_DAYS
        before the fit (at most the later half of the history) with a model trained on the days before
        them; with too little history for that, the change is used as predicted."""
        last, first = int(rows.origin.max()), int(rows.origin.min())
        early = rows.origin < last - min(VALIDATION_DAYS * DAY, (last - first) // 2)
        if early.sum() < MIN_TRAINING_ROWS or early.all():
            return
        late = rows.take(~early)
        validation = _regressor(self._config, 0.5).fit(_usable(rows.x[early]), target[early])
        change, outcome, day = validation.predict(late.x), target[~early], in_the_day(late)
        for i, horizon in enumerate(self._shrink_horizons):
            for part in (0, 1):
                chosen = (late.horizon == horizon) & (day == bool(part))
                if chosen.any():
                    self.trust[part, i], self.dead_zone[part, i] = choose_shrinkage(
                        outcome[chosen], change[chosen]
                    )

    def predict(self, rows: Frame) -> Band:
        now = rows.persistence
        with threadpool_limits(limits=1, user_api="openmp"):
            low_change, median_change, high_change = (model.predict(rows.x) for model in self._models)
        part = in_the_day(rows).astype(np.intp)
        trust, dead_zone = (
            np.choose(part, [np.interp(rows.horizon, self._shrink_horizons, row) for row in table])
            for table in (self.trust, self.dead_zone)
        )
        median_change = shrink(median_change, trust, dead_zone)
        low, median, high = (np.clip(now + c, 0.0, 1.0) for c in (low_change, median_change, high_change))
        # Separately fitted quantiles can cross; the band is widened to hold the median.
        return Band(low=np.minimum(low, median), median=median, high=np.maximum(high, median))
