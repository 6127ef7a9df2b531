"""The predictive score: two candidate models, chosen by stratified cross-validation, calibrated.

- logistic: L2-regularised logistic regression (C = leads.model.regularisation). Each numeric
  column: median-imputed, a missing indicator where training had blanks, standardised; each
  categorical column: one-hot (a blank is its own level `(blank)`, a level unseen in training
  maps to no column). One transformer per column, so every model input traces to one lead column
  (the reasons need that).
- gradient_boosting: HistGradientBoostingClassifier with native categorical splits (levels
  ordinal-encoded, at most 250 per column, blanks as missing), early stopping on a 10% split.

The choice: stratified k-fold CV ROC AUC of each (folds, seed from leads.model); gradient boosting
wins only by more than `prefer_linear_within`, since the linear model's reasons are exact.

Calibration: CalibratedClassifierCV(ensemble=False) with an inner stratified 3-fold split: one
base model fitted on all the data (so reasons read one model) and one calibrator fitted on its
out-of-fold scores. Method `auto`: isotonic from 1,000 leads of each class up (a step function
needs many points per class not to overfit; scikit-learn's guide warns below about 1,000), else
sigmoid (Platt's two parameters). Reported metrics are of the calibrated model in an outer CV, so
no lead is scored by a model or calibrator that saw its label.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from martops.config_leads import ModelConfig
from martops.errors import ConfigError
from martops.leads.features import Feature

BLANK = "(blank)"
LOGISTIC, BOOSTING = "logistic", "gradient_boosting"


def design(data: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """The model's input: numeric columns as float, categorical as text with blanks as `(blank)`."""
    out = {}
    for f in features:
        col = data[f.name]
        if f.kind == "numeric":
            out[f.name] = col.astype("float64")
        else:
            out[f.name] = col.astype(object).where(col.notna(), BLANK).astype(str)
    return pd.DataFrame(out, index=data.index)


def make(kind: str, features: list[Feature], mc: ModelConfig) -> Pipeline:
    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    if kind == LOGISTIC:
        steps = [(f"n:{c}", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                        keep_empty_features=True), StandardScaler()), [c])
                 for c in numeric]
        steps += [(f"c:{c}", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [c]) for c in categorical]
        pre = ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)
        return Pipeline([("pre", pre), ("model", LogisticRegression(C=mc.regularisation, max_iter=5000))])
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                         max_categories=250)
    pre = ColumnTransformer([("n", "passthrough", numeric), ("c", enc, categorical)], remainder="drop",
                            verbose_feature_names_out=False)
    cats = [False] * len(numeric) + [True] * len(categorical)
    hgb = HistGradientBoostingClassifier(categorical_features=cats if categorical else None, early_stopping=True,
                                         l2_regularization=1.0, random_state=mc.seed)
    return Pipeline([("pre", pre), ("model", hgb)])


def _decode_blanks(X: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Gradient boosting reads a blank as missing (NaN), not as a level."""
    X = X.copy()
    for f in features:
        if f.kind == "categorical":
            X[f.name] = X[f.name].where(X[f.name] != BLANK, np.nan)
    return X


def inputs(kind: str, X: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    return _decode_blanks(X, features) if kind == BOOSTING else X


def one_thread():
    """scikit-learn's OpenMP and BLAS pools limited to one thread: the fits here are small, and on a
    busy 2-core machine spinning worker threads made a calibrated boosted fit 30x slower (66 s
    against 1.8 s for the X Education leads)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def check_labels(y: np.ndarray, folds: int, where: str) -> None:
    counts = np.bincount(y.astype(int), minlength=2)
    if counts.min() == 0:
        only = "1 (converted)" if counts[0] == 0 else "0 (not converted)"
        raise ConfigError(f"{where}: every label is {only} ({len(y):,} leads); a model needs leads of both outcomes")
    need = max(2 * folds, 6)
    if counts.min() < need:
        which = "converted" if counts[1] < counts[0] else "not converted"
        raise ConfigError(f"{where}: only {counts.min()} {which} leads; {folds}-fold cross-validation with "
                          f"calibration needs at least {need} of each (lower leads.model.folds, or give more leads)")


def folds(mc: ModelConfig) -> StratifiedKFold:
    return StratifiedKFold(n_splits=mc.folds, shuffle=True, random_state=mc.seed)


def oof(estimator, X: pd.DataFrame, y: np.ndarray, mc: ModelConfig) -> np.ndarray:
    """Out-of-fold probabilities of class 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # unseen levels in a fold are expected
        return cross_val_predict(estimator, X, y, cv=folds(mc), method="predict_proba")[:, 1]


def calibration_method(y: np.ndarray, mc: ModelConfig) -> str:
    if mc.calibration != "auto":
        return mc.calibration
    return "isotonic" if np.bincount(y.astype(int), minlength=2).min() >= 1000 else "sigmoid"


def calibrated(kind: str, features: list[Feature], mc: ModelConfig, method: str) -> CalibratedClassifierCV:
    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=mc.seed)
    return CalibratedClassifierCV(make(kind, features, mc), method=method, cv=inner, ensemble=False)


@dataclasses.dataclass
class Choice:
    kind: str
    cv_auc: dict[str, float]
    """Uncalibrated CV ROC AUC per candidate."""


def choose(X: pd.DataFrame, y: np.ndarray, features: list[Feature], mc: ModelConfig) -> Choice:
    from sklearn.metrics import roc_auc_score

    aucs = {k: float(roc_auc_score(y, oof(make(k, features, mc), inputs(k, X, features), y, mc)))
            for k in mc.candidates}
    if len(aucs) == 1:
        return Choice(next(iter(aucs)), aucs)
    kind = BOOSTING if aucs[BOOSTING] > aucs[LOGISTIC] + mc.prefer_linear_within else LOGISTIC
    return Choice(kind, aucs)


def base_model(fitted: CalibratedClassifierCV) -> Pipeline:
    """The one base pipeline of an `ensemble=False` calibrated model."""
    return fitted.calibrated_classifiers_[0].estimator


def predict(fitted: CalibratedClassifierCV, kind: str, X: pd.DataFrame, features: list[Feature]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        return fitted.predict_proba(inputs(kind, X, features))[:, 1]


def raw_logit(fitted: CalibratedClassifierCV, kind: str, X: pd.DataFrame, features: list[Feature]) -> np.ndarray:
    """The base model's log-odds (before calibration), what the reasons decompose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        return base_model(fitted).decision_function(inputs(kind, X, features))
