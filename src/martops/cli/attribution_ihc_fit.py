"""`martops attribution ihc-fit`: calibrate the local `ihc` model on the account's own API answers."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.cli.common import CONFIG, WAREHOUSE, open_warehouse
from martops.cli.render import console, fitted_table


def ihc_fit(
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="Hold out 1 in K conversions K times to measure the "
                              "fitted model on answers it was not fitted to."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Fit the local `ihc` model's parameters to the IHC API answers already in the warehouse
    (attribution.ihc_api_answers, from `--model ihc_api`), so the free local model follows the
    account's own API: prints the fitted parameters, their error per session against the API's
    `ihc` in-sample and held out (K-fold by conversion) beside the current settings', and the
    martops.yml lines that use them. Writes nothing.

    Example:

      martops attribution ihc-fit --warehouse out/warehouse.duckdb --folds 5
    """
    from martops.attribution import ihc_fit as F
    from martops.attribution.ihc_api.store import ANSWERS

    cfg, wh = open_warehouse(config, warehouse, domain="attribution", read_only=True)
    with wh:
        answered, truncated = F.load_answered(wh)
    current = cfg.attribution
    note = f"; {truncated:,} sent truncated (fitted on the sessions the API saw)" if truncated else ""
    console.print(f"{ANSWERS}: {answered.conversions:,} conversions ({answered.multi_session_conversions:,} with 2+ "
                  f"sessions), {len(answered.frame):,} sessions{note}", highlight=False, soft_wrap=True)
    cv = F.cross_validate(answered, folds, current.ihc_phases, current.ihc_weights)
    fitted = F.fit(answered, current.ihc_phases, current.ihc_weights)

    rows = [[f"ihc_weights.{k}", f"{v + 0.0:g}", f"{getattr(fitted.weights, k) + 0.0:g}"]
            for k, v in current.ihc_weights.model_dump().items()]
    rows += [[f"ihc_phases.{k}", f"{v + 0.0:g}", f"{getattr(fitted.phases, k) + 0.0:g}"]
             for k, v in current.ihc_phases.model_dump().items()]
    console.print(fitted_table("Parameters", ["parameter", "current", "fitted"], rows, right={"current", "fitted"})[0])

    mean = sum(f.mae for f in cv) / len(cv)
    errors = [[str(f.fold), f"{f.conversions:,}", f"{f.sessions:,}", f"{f.mae_current:.4f}", f"{f.mae:.4f}",
               f"{f.mae_multi:.4f}"] for f in cv]
    errors.append(["mean", "", "", f"{sum(f.mae_current for f in cv) / len(cv):.4f}", f"{mean:.4f}",
                   f"{sum(f.mae_multi for f in cv) / len(cv):.4f}"])
    console.print(fitted_table(f"Held-out error per session vs the API's ihc ({folds} folds; fitted on the other folds)",
                               ["fold", "conversions", "sessions", "current", "fitted", "fitted, 2+ sessions"], errors,
                               right={"conversions", "sessions", "current", "fitted", "fitted, 2+ sessions"})[0])
    console.print(f"in-sample error per session: current {F.mae(answered, current.ihc_phases, current.ihc_weights):.4f}, "
                  f"fitted {F.mae(answered, fitted.phases, fitted.weights):.4f}; held out (mean of {folds} folds): "
                  f"fitted {mean:.4f}", highlight=False, soft_wrap=True)
    console.print("To use the fitted parameters, put these lines under `attribution:` in martops.yml:",
                  highlight=False)
    console.print(F.yaml_lines(fitted), highlight=False, markup=False, soft_wrap=True)
