"""How far a local model is from the real IHC API, on the published request/response pairs."""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pandas as pd

from martops.attribution.models import credits_expr
from martops.config import AttributionConfig
from martops.engine import Warehouse


def api_request_journeys(request_rows: list[dict]) -> pd.DataFrame:
    """An API request's rows as a journeys table (positions by timestamp, then session id)."""
    df = pd.DataFrame(request_rows).rename(columns={"conversion_id": "conv_id", "channel_label": "channel_name"})
    df["session_ts"] = pd.to_datetime(df["timestamp"])
    df = df.sort_values(["conv_id", "session_ts", "session_id"]).reset_index(drop=True)
    df["position"] = df.groupby("conv_id").cumcount() + 1
    df["n_sessions"] = df.groupby("conv_id")["session_id"].transform("count")
    df["conv_date"] = df.groupby("conv_id")["session_ts"].transform("max").dt.date
    return df


def api_samples(samples_path: str | Path) -> list[pd.DataFrame]:
    """Per request/response pair: the request's journeys (as api_request_journeys) with the answer's
    initializer, holder, closer and ihc per session."""
    out = []
    for sample in json.loads(Path(samples_path).read_text("utf-8")):
        journeys = api_request_journeys(sample["request"]["customer_journeys"])
        api = pd.DataFrame(sample["response"]["value"]).rename(columns={"conversion_id": "conv_id"})
        out.append(journeys.merge(api, on=["conv_id", "session_id"], validate="one_to_one"))
    return out


def mae_against_api(wh: Warehouse, samples_path: str | Path, model: str = "ihc",
                    cfg: AttributionConfig | None = None) -> list[dict]:
    """Per sample: sessions compared and mean absolute error of the credit per session."""
    cfg = cfg or AttributionConfig()
    out = []
    for i, sample in enumerate(api_samples(samples_path)):
        journeys = sample.drop(columns=["initializer", "holder", "closer", "ihc"])
        ours = wh.backend.execute(credits_expr(ibis.memtable(journeys), model, cfg))
        merged = ours.merge(sample[["conv_id", "session_id", "ihc"]], on=["conv_id", "session_id"],
                            suffixes=("", "_api"), validate="one_to_one")
        out.append({
            "sample": i, "model": model, "sessions": len(merged),
            "conversions": int(merged.conv_id.nunique()),
            "mae": float((merged["ihc"] - merged["ihc_api"]).abs().mean()),
        })
    return out
