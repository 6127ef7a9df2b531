"""Text in any script made comparable: transliterated to ASCII with `anyascii`, once per distinct value.

Splink's comparisons (Jaro-Winkler, Damerau-Levenshtein, exact) and the nickname table work on
letters a-z, so names, addresses and cities are folded before they are prepared: `Łukasz` is
`Lukasz` as `José` is `Jose`, `Иван` is `Ivan`, `محمد` is `mhmd`, `王小明` is `WangXiaoMing`. Two
records spelled in the same script compare exactly as before; the same name written in two scripts
compares by its transliteration. Symbols are not letters: emoji, pictographs, `™` and `★` are
dropped first (anyascii would spell them `:grinning:`, `TM`, `*`), so a name made only of them is
missing, not a name.

Folding runs in Python over the DISTINCT values that are not plain ASCII (ASCII text is its own
transliteration), registered as a table and joined back in SQL, so a million records sharing a few
thousand non-ASCII names cost a few thousand calls.
"""

from __future__ import annotations

import unicodedata

import duckdb
import pyarrow as pa
from anyascii import anyascii

KINDS = ("name", "address", "city")
"""Column kinds whose text is folded before preparation."""
TABLE = "folded_text"


def fold(text: str) -> str:
    """`text` without symbols and format characters (emoji, ZWJ, variation selectors), in ASCII."""
    kept = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text
                   if unicodedata.category(ch)[0] != "S" and unicodedata.category(ch) not in ("Cf", "Co", "Cs", "Cn")
                   and not 0xFE00 <= ord(ch) <= 0xFE0F)
    return anyascii(kept)


def register(con: duckdb.DuckDBPyConnection, exprs: list[str]) -> None:
    """Create `folded_text(v, f)`: every distinct non-ASCII value of the SQL expressions `exprs`
    (over table `input`) and its fold."""
    union = " UNION ".join(f"SELECT {e} AS v FROM input" for e in exprs) or "SELECT NULL::VARCHAR AS v"
    values = con.execute(f"SELECT DISTINCT v FROM ({union}) WHERE v IS NOT NULL "
                         "AND NOT regexp_full_match(v, '[\\x00-\\x7F]*')").fetchall()
    texts = [v for (v,) in values]
    con.register("_folded_arrow", pa.table({"v": pa.array(texts, pa.string()),
                                            "f": pa.array([fold(t) for t in texts], pa.string())}))
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _folded_arrow")
    con.unregister("_folded_arrow")
