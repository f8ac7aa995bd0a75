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


VALIDATION_DAYS = 7
TRUST_STEPS = np.linspace(0.0, 1.0, 11)


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
    """Three quantile models of the change from now; the median's change is trusted per horizon only as
    far as it beat carrying the value forward on the last week before the fit (held out, then refitted)."""

    def __init__(self, config: ModelConfig = DEFAULT_CONFIG) -> None:
        self._config = config
        self._models = [_regressor(config, q) for q in QUANTILES]
        self._trust_horizons = np.array(TRAIN_HORIZONS_MIN, dtype=np.float64) * 60
        self.trust = np.ones(len(TRAIN_HORIZONS_MIN))

    def fit(self, rows: Frame) -> QuantileModel:
        target = rows.truth - rows.persistence
        # One thread: on a shared two-core machine OpenMP's spinning threads made a fit 20× slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            self.trust = self._validate(rows, target)
            for model in self._models:
                model.fit(_usable(rows.x), target)
        return self

    def _validate(self, rows: Frame, target: Floats) -> Floats:
        """Per training horizon, the share of the predicted change that minimised the error last week."""
        trust = np.ones(len(TRAIN_HORIZONS_MIN))
        early = rows.origin < rows.origin.max() - VALIDATION_DAYS * DAY
        if early.sum() < MIN_TRAINING_ROWS or early.all():
            return trust
        late = ~early
        validation = _regressor(self._config, 0.5).fit(_usable(rows.x[early]), target[early])
        change = validation.predict(rows.x[late])
        for i, horizon in enumerate(self._trust_horizons):
            chosen = rows.horizon[late] == horizon
            if chosen.any():
                errors = np.abs(target[late][chosen][:, None] - TRUST_STEPS * change[chosen][:, None])
                trust[i] = TRUST_STEPS[int(np.argmin(errors.mean(axis=0)))]
        return trust

    def predict(self, rows: Frame) -> Band:
        now = rows.persistence
        with threadpool_limits(limits=1, user_api="openmp"):
            changes = [model.predict(rows.x) for model in self._models]
        trust = np.interp(rows.horizon, self._trust_horizons, self.trust)
        low, median, high = (
            np.clip(now + change, 0.0, 1.0) for change in (changes[0], trust * changes[1], changes[2])
        )
        # Separately fitted quantiles can cross; the band is widened to hold the median.
        return Band(low=np.minimum(low, median), median=median, high=np.maximum(high, median))
