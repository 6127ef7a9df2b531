"""Field types the project file's sections share (`config.py`, `config_leads.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from pydantic import BeforeValidator


def _not_a_number(v: object) -> object:
    """`as_of: 20130630` reaches pydantic as an int, which it reads as seconds since 1970 and
    refuses with a message about datetimes: say what to write instead."""
    if isinstance(v, (int, float)):
        raise ValueError("write a date as YYYY-MM-DD")
    return v


DateSetting = Annotated[Optional[dt.date], BeforeValidator(_not_a_number)]
"""An optional date written YYYY-MM-DD (a bare number is refused saying so)."""
