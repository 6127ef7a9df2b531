"""The load step's decisions on tiny folders: survivorship, product id conflicts, orphans, missing
amounts and targets, quarantine reasons, idempotent rebuilds."""

from __future__ import annotations

import pytest

from martops.config import CrmConfig, ProjectConfig
from martops.crm import tables as T
from martops.errors import SourceError
from martops.ops.quarantine import QUARANTINE
from tests.crm.folders import by_id, rows, run_build, write_folder


def test_exact_and_conflicting_copies_keep_every_row_and_pick_one_survivor(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[
        ("c1", "Ann Lee", "ann@example.com", "", "United States"),            # line 2: no phone
        ("c1", "Ann Lee", "ann@example.com", "(276)903-7065", "United States"),  # line 3: most complete -> survivor
        ("c1", "Ann Lee", "ann@example.com", "", "Japan"),            # line 4: exact copy of line 2
        ("c2", "Bob Stone", "bob@example.org", "917.965.7512", "France"),
        ("c2", " Bob Stone", "BOB@example.org", "917.965.7512", "France"),  # same completeness: later line wins
        ("c3", "Cy Doe", "", "", "Peru"), ("c3", "Cy Doe", "", "", "Peru"),  # exact copies
    ])
    _, _, log = run_build(wh, folder)
    st = rows(wh, T.STAGING["customers"])
    assert len(st) == 7 and sum(r["is_survivor"] for r in st) == 3
    got = {r["_row"]: (r["is_survivor"], r["duplicate_kind"], r["survivor_row"], r["duplicate_rows"]) for r in st}
    assert got == {2: (False, "conflicting_copy", 3, 3), 3: (True, None, 3, 3), 4: (False, "conflicting_copy", 3, 3),
                   5: (False, "conflicting_copy", 6, 2), 6: (True, None, 6, 2),
                   7: (False, "exact_copy", 8, 2), 8: (True, None, 8, 2)}  # identical: the later line too
    clean = by_id(wh, T.CUSTOMERS, "customer_id")
    assert clean["c1"]["phone"] == "+12769037065" and clean["c1"]["source_row"] == 3
    assert clean["c2"]["email"] == "bob@example.org" and clean["c2"]["name"] == "Bob Stone"
    assert log.get("customers", "exact copies collapsed (same id, same values; kept in staging, not survivors)") == 1
    assert log.get("customers", "conflicting copies resolved: most complete row, then the later line") == 3


def test_customer_values_standardised_beside_raw(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[
        ("c1", "Dr. Ann  Lee MD", " Ann@Example.com", "001-463-276-0820x6208", "Korea"),
        ("c2", "Bob", "not-an-email", "4832368495", "Atlantis"),
        ("c3", "Cy Doe", "", "call me", ""),
    ])
    _, _, log = run_build(wh, folder)
    c = by_id(wh, T.STAGING["customers"], "customer_id")
    assert (c["c1"]["name"], c["c1"]["first_name"], c["c1"]["surname"]) == ("Dr. Ann Lee MD", "Ann", "Lee")
    assert (c["c1"]["email"], c["c1"]["email_valid"]) == ("ann@example.com", True)
    assert (c["c1"]["phone"], c["c1"]["phone_ext"], c["c1"]["phone_status"]) == ("+14632760820", "6208", "valid")
    assert (c["c1"]["country"], c["c1"]["country_rule"]) == ("KR", "short_form")
    assert (c["c2"]["email_raw"], c["c2"]["email"], c["c2"]["email_valid"]) == ("not-an-email", None, False)
    assert (c["c2"]["phone"], c["c2"]["phone_status"]) == (None, "possible")
    assert (c["c2"]["country_raw"], c["c2"]["country"]) == ("Atlantis", "ZZ")
    assert (c["c3"]["phone_status"], c["c3"]["country"], c["c3"]["email_valid"]) == ("unparseable", "ZZ", None)
    assert log.get("customers", "emails failing the WHATWG syntax check (NULL in email, kept in email_raw)") == 1
    assert log.get("customers", "rows whose country no rule maps -> ZZ (add crm.country_aliases)") == 1
    unknown = [e for e in log.entries if e.rule.startswith("rows whose country no rule maps")][0]
    assert "Atlantis" in unknown.example
    assert log.get("customers", "phones invalid or unparseable (NULL in phone)") == 1
    # 'possible' numbers fill `phone` when the project accepts them; an alias names the country
    # (and so the region the phone is read in)
    run_build(wh, folder, ProjectConfig(crm=CrmConfig(phone_accept="possible", country_aliases={"Atlantis": "CA"})))
    c = by_id(wh, T.STAGING["customers"], "customer_id")
    assert (c["c2"]["phone"], c["c2"]["country"], c["c2"]["phone_region"]) == ("+14832368495", "CA", "CA")


def test_product_id_naming_two_products_keeps_the_first_and_flags_its_sales(tmp_path, wh):
    folder = write_folder(tmp_path / "d",
                          products=[("21", "Dress", "Clothing", "850 "), ("2", "Laptop", " electronics", "$1,333"),
                                    ("21", "Blazer", "Clothing", "850 "), ("3", "Lamp", "", "20")],
                          transactions=[("t1", "c1", "21", "2024-04-01", "234.0", "r1"),
                                        ("t2", "c2", "2", "2024/04/02", "", "r1")])
    _, _, log = run_build(wh, folder)
    p = by_id(wh, T.PRODUCTS, "product_id")
    assert (p["21"]["product_name"], p["21"]["id_conflict"], p["21"]["other_names"]) == ("Dress", True, "Blazer")
    assert (p["2"]["price"], p["2"]["category"], p["3"]["category"]) == (1333.0, "electronics", "unknown")
    st = {r["_row"]: r for r in rows(wh, T.STAGING["products"])}
    assert (st[4]["duplicate_kind"], st[4]["survivor_row"], st[4]["is_survivor"]) == ("id_conflict", 2, False)
    t = by_id(wh, T.TRANSACTIONS, "transaction_id")
    assert t["t1"]["product_id_conflict"] is True and t["t2"]["product_id_conflict"] is False
    assert (t["t2"]["amount"], t["t2"]["amount_missing"], t["t2"]["amount_imputed"]) == (None, True, False)
    assert str(t["t2"]["date"]) == "2024-04-02"
    assert log.get("products", "product ids naming several products: first line kept (id_conflict)") == 1
    assert log.get("transactions", "rows on a product id naming several products (product_id_conflict)") == 1


def test_orphans_are_kept_and_flagged(tmp_path, wh):
    folder = write_folder(tmp_path / "d",
                          transactions=[("t1", "c1", "1", "2024-04-01", "10", "r1"),
                                        ("t2", "ghost", "9", "2024-04-01", "10", "r9"),
                                        ("t3", "c2", "2", "2024-04-01", "10", "")],
                          interactions=[("i1", "c1", "2024-05-01", "Phone", "True"),
                                        ("i2", "nobody", "2024-05-01", "e-mail", "no")])
    _, _, log = run_build(wh, folder)
    t = by_id(wh, T.TRANSACTIONS, "transaction_id")
    assert len(t) == 3
    assert (t["t2"]["orphan_customer"], t["t2"]["orphan_product"], t["t2"]["orphan_sales_rep"]) == (True, True, True)
    assert (t["t1"]["orphan_customer"], t["t3"]["orphan_sales_rep"]) == (False, False)  # a blank rep is no orphan
    i = by_id(wh, T.INTERACTIONS, "interaction_id")
    assert (i["i2"]["orphan_customer"], i["i2"]["type"], i["i2"]["resolved"]) == (True, "email", False)
    for fk in ("customer", "product", "sales_rep"):
        assert log.get("transactions", f"orphan {fk}_id in crm.transactions (kept, orphan_{fk})") == 1
    assert "t2 -> ghost" in next(e.example for e in log.entries if e.rule.startswith("orphan customer_id in crm.trans"))


def test_missing_parents_leave_orphans_unchecked(tmp_path, wh):
    folder = write_folder(tmp_path / "d", products=None, sales_team=None, interactions=None)
    _, _, log = run_build(wh, folder)
    t = by_id(wh, T.TRANSACTIONS, "transaction_id")
    assert t["t1"]["orphan_product"] is None and t["t1"]["orphan_customer"] is False
    assert log.get("transactions", "product_id not checked: no product table was ever delivered") == 2
    assert not wh.exists(T.INTERACTIONS)


def test_a_mapped_quantity_imputes_missing_amounts(tmp_path, wh):
    folder = write_folder(tmp_path / "d", headers={"transactions": ["Transaction_ID", "Customer_ID", "Product_ID",
                                                                    "Date", "Amount", "Sales_Rep_ID", "Qty"]},
                          transactions=[("t1", "c1", "1", "2024-04-01", "", "r1", "2"),
                                        ("t2", "c1", "1", "2024-04-01", "", "r1", "")])
    cfg = ProjectConfig(crm=CrmConfig(columns={"transactions": {"quantity": "qty"}}))
    _, _, log = run_build(wh, folder, cfg)
    t = by_id(wh, T.TRANSACTIONS, "transaction_id")
    assert (t["t1"]["amount"], t["t1"]["amount_imputed"], t["t1"]["amount_missing"]) == (822.0, True, False)
    assert (t["t2"]["amount"], t["t2"]["amount_imputed"], t["t2"]["amount_missing"]) == (None, False, True)
    assert log.get("transactions", "amount imputed = price x quantity (amount_imputed)") == 1


def test_missing_sales_achieved_is_null_and_flagged_never_zero(tmp_path, wh):
    folder = write_folder(tmp_path / "d", sales_team=[("r1", "Rita", "Ohio", "1000", ""),
                                                      ("r2", "Sam", " ohio", "2,000", "10")])
    _, _, log = run_build(wh, folder)
    s = by_id(wh, T.SALES_TEAM, "sales_rep_id")
    assert (s["r1"]["sales_achieved"], s["r1"]["achieved_missing"]) == (None, True)
    assert (s["r2"]["sales_target"], s["r2"]["region"]) == (2000.0, "Ohio")
    assert log.get("sales_team", "sales_achieved blank (NULL + achieved_missing, never 0)") == 1


def test_bad_rows_are_quarantined_with_file_line_column_and_value(tmp_path, wh):
    folder = write_folder(tmp_path / "d",
                          transactions=[("t1", "c1", "1", "2024-04-01", "-5", "r1"),
                                        ("t2", "c1", "1", "04/01/2024", "10", "r1"),
                                        ("", "c1", "1", "2024-04-01", "10", "r1"),
                                        ("t4", "", "1", "2024-04-01", "10", "r1"),
                                        ("t5", "c1", "1", "2024-04-01", "10", "r1")],
                          interactions=[("i1", "c1", "2024-05-01", "Chat", "maybe"), ("i2", "c1", "1.5.2024", "", "")])
    _, _, log = run_build(wh, folder)
    q = {(r["table_name"], r["row_number"]): r for r in rows(wh, QUARANTINE, ["table_name", "row_number"])}
    assert set(q) == {("crm_transactions", n) for n in (2, 3, 4, 5)} | {("crm_interactions", 2)}
    r = q[("crm_transactions", 2)]
    assert (r["column_name"], r["raw_value"], r["source"]) == ("amount", "-5", "crm")
    assert r["reason"].startswith("transactions.csv line 2, column Amount: amount '-5' is not an amount >= 0")
    assert "column Date: date '04/01/2024' is not a date" in q[("crm_transactions", 3)]["reason"]
    assert "column Transaction_ID: transaction_id is NULL or empty" in q[("crm_transactions", 4)]["reason"]
    assert "column Customer_ID" in q[("crm_transactions", 5)]["reason"]
    assert "interactions.csv line 2, column Issue_Resolved: resolved 'maybe'" in q[("crm_interactions", 2)]["reason"]
    assert wh.count(T.STAGING["transactions"]) == 1
    i2 = by_id(wh, T.INTERACTIONS, "interaction_id")["i2"]
    assert (str(i2["date"]), i2["type"], i2["resolved"]) == ("2024-05-01", "unknown", None)
    assert log.get("transactions", "rows read = loaded + quarantined") == 5


def test_rebuilding_the_same_folder_gives_identical_tables(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[*[("c1", "Ann Lee", "", "", "Japan")] * 2,
                                                     ("c2", "Bob", "x@y.z", "", "Chile")],
                          transactions=[("t1", "c1", "1", "2024-04-01", "-1", "r1"), ("t2", "c9", "1", "2024-04-01", "", "")])
    stamps = {"_etl_loaded_at", "_run_id", "run_id", "quarantined_at"}

    def snapshot():
        tables = [*T.STAGING.values(), *T.CLEAN.values(), QUARANTINE]
        return {name: [{k: v for k, v in r.items() if k not in stamps} for r in rows(wh, name, None)]
                for name in tables if wh.exists(name)}

    run_build(wh, folder)
    first = snapshot()
    run_build(wh, folder)
    assert snapshot() == first
    assert len(first[QUARANTINE]) == 1 and len(first[T.CUSTOMERS]) == 2


def test_a_user_mapped_folder_with_other_file_names_and_headers(tmp_path, wh):
    folder = write_folder(tmp_path / "d", names={"customers": "clients.csv", "transactions": "orders.txt"},
                          headers={"customers": ["Kundennummer", "NAME", "E-Mail", "Telefon", "Land"],
                                   "transactions": [" transaction_id ", "CUSTOMER_ID", "product_id", "Datum", "Betrag",
                                                    "sales_rep_id"]},
                          customers=[("c1", "Ann", "a@b.de", "+49 30 901820", "Deutschland")], countries=None)
    crm = CrmConfig(files={"customers": "clients.csv", "transactions": "orders.txt"},
                    columns={"customers": {"customer_id": "Kundennummer", "email": "e-mail", "phone": "telefon",
                                           "country": "land"},
                             "transactions": {"date": "Datum", "amount": "betrag"}},
                    country_aliases={"Deutschland": "DE"})
    run_build(wh, folder, ProjectConfig(crm=crm))
    c = by_id(wh, T.CUSTOMERS, "customer_id")["c1"]
    assert (c["email"], c["phone"], c["country"]) == ("a@b.de", "+4930901820", "DE")
    assert wh.count(T.TRANSACTIONS) == 2


def test_missing_files_and_columns_say_what_to_do(tmp_path, wh):
    folder = write_folder(tmp_path / "a", customers=None)
    with pytest.raises(SourceError, match=r"customers.csv is missing; a CRM delivery needs its customers file"):
        run_build(wh, folder)
    folder = write_folder(tmp_path / "b", headers={"transactions": ["Transaction_ID", "Customer_ID", "Product_ID",
                                                                    "When", "Amount", "Sales_Rep_ID"]})
    with pytest.raises(SourceError, match=r"transactions.csv: column\(s\) date \(header 'date'\) missing; "
                                          r"the header has .*When.*crm.columns.transactions"):
        run_build(wh, folder)
    with pytest.raises(SourceError, match="not a folder"):
        run_build(wh, tmp_path / "nowhere")
    folder = write_folder(tmp_path / "c", products=[])
    with pytest.raises(SourceError, match="header but no rows"):
        run_build(wh, folder)
    assert not wh.exists(T.CUSTOMERS)


def test_config_names_unknown_roles():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="customers"):
        CrmConfig(files={"clients": "x.csv"})
    with pytest.raises(ValidationError):
        CrmConfig(colour="red")
