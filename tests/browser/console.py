"""The security team's console in a real browser, as a person uses it: one function per flow,
run in order on one page (a later flow may rely on an earlier one's sign-in). A new page's
flow is one more function in FLOWS."""

import csv
import io
import json
import re

from kit import Console, expect, run

# The console admits auditors only today. When reseller staff can sign in, set this to True:
# the reseller flow then expects a session instead of the refusal.
RESELLERS_ADMITTED = False

# What a spreadsheet would run if an export handed it over as it is.
FORMULA = '=HYPERLINK("http://attacker.invalid","open me")'


def by_keyboard(c: Console, access_key, secret_key):
    """Signs in with the keyboard alone: Tab to each field, Enter sends; the sign-in answer."""
    c.goto("/console/")
    keys = c.page.keyboard
    keys.press("Tab")
    expect(c.page.get_by_label("Access key"), "Tab reaches the access key first").to_be_focused()
    keys.type(access_key)
    keys.press("Tab")
    expect(c.page.get_by_label("Secret key"), "then the secret key").to_be_focused()
    keys.type(secret_key)
    with c.page.expect_response(lambda r: r.url == c.url("/console/sign-in")) as answer:
        keys.press("Enter")
    return answer.value


def sign_in_page(c: Console):
    answer = c.goto("/console/")
    assert answer.status == 200, f"sign-in page: {answer.status}"
    csp = answer.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, f"the console allows no script: {csp!r}"
    expect(c.page).to_have_title(re.compile("^Sign in"))
    c.shot("01-sign-in")


def wrong_secret_is_refused(c: Console):
    answer = by_keyboard(c, c.cred("auditor")["ak"], "not-the-secret")
    assert answer.status == 401, f"a wrong secret: {answer.status}"
    c.refusal("unknown access key or wrong secret key")
    assert c.cookie("tg_console") is None, "a refused sign-in has no session"
    c.shot("02-refused")


def reseller_is_refused(c: Console):
    c.sign_in("reseller")
    if RESELLERS_ADMITTED:
        c.signed_in_as(c.cred("reseller")["ak"])
        c.page.get_by_role("button", name="Sign out").click()
        c.on_sign_in_form()
    else:
        c.refusal("auditors' credentials only")
        assert c.cookie("tg_console") is None, "a reseller has no session"


def formula_access_key_is_refused(c: Console):
    # Refused and audited with the access key as typed: the export flow looks for it.
    c.sign_in(access_key=FORMULA, secret_key="anything")
    c.refusal("unknown access key or wrong secret key")


def auditor_signs_in_by_keyboard(c: Console):
    answer = by_keyboard(c, c.cred("auditor")["ak"], c.cred("auditor")["sk"])
    assert answer.status == 303, f"a sign-in redirects: {answer.status}"
    expect(c.page).to_have_url(c.url("/console/audit"))
    c.signed_in_as("sec-ann")
    session = c.cookie("tg_console")
    assert session, f"no session cookie: {c.context.cookies()}"
    assert session["httpOnly"] and session["sameSite"] == "Strict", f"cookie flags: {session}"
    assert session["path"] == "/console/", f"cookie path: {session}"


def search_with_filters(c: Console):
    op = c.setup["refused"]["operation"]
    c.page.get_by_label("kind", exact=True).fill("outcome")
    c.page.get_by_label("operation", exact=True).fill(op)
    c.page.get_by_role("button", name="Search").click()
    expect(c.page.locator("caption")).to_have_text("50 records, newest first")
    filters = {"kind": "outcome", "operation": op}
    assert c.query() == filters, f"the URL carries the filters: {c.page.url}"
    url = c.page.url
    rows = c.table()
    for r in rows:
        assert (r["kind"], r["operation"], r["outcome"]) == ("outcome", op, "refused"), r
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs, reverse=True), f"newest first: {seqs}"
    c.shot("03-audit-search")
    # A bookmark: the same URL in another tab of the same browser shows the same records.
    again = c.context.new_page()
    again.goto(url)
    assert c.table(again) == rows, "the bookmarked search shows other records"
    again.close()


def older_records(c: Console):
    first = [int(r["seq"]) for r in c.table()]
    rest = c.setup["refused"]["count"] - len(first)
    c.page.get_by_role("link", name="Older records").click()
    expect(c.page.locator("caption")).to_have_text(f"{rest} records, newest first")
    older = [int(r["seq"]) for r in c.table()]
    op = c.setup["refused"]["operation"]
    filters = {"kind": "outcome", "operation": op, "before": str(min(first))}
    assert c.query() == filters, f"the next page keeps the filters: {c.page.url}"
    assert max(older) < min(first), f"page 2 {older} overlaps page 1 {first}"
    expect(c.page.get_by_role("link", name="Older records"), "the last page").to_have_count(0)
    c.shot("04-audit-older")


def download(c: Console, link):
    with c.page.expect_download() as d:
        c.page.get_by_role("link", name=link, exact=True).click()
    with open(d.value.path(), encoding="utf-8") as f:
        return d.value.suggested_filename, f.read()


def export_csv_and_json_lines(c: Console):
    c.goto("/console/audit?kind=access&operation=console_sign_in")
    shown = c.table()
    assert any(r["principal"] == FORMULA for r in shown), f"the refusal shown: {shown}"
    name, text = download(c, "CSV")
    assert name == "audit.csv", name
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(shown), f"CSV has {len(rows)} records, the page {len(shown)}"
    principals = [r["principal"] for r in rows]
    assert "'" + FORMULA in principals, f"the formula is defused: {principals}"
    assert FORMULA not in principals, f"a formula left live: {principals}"
    name, text = download(c, "JSON Lines")
    assert name == "audit.jsonl", name
    records = [json.loads(line) for line in text.splitlines() if line]
    assert len(records) == len(shown), f"JSONL has {len(records)} records, the page {len(shown)}"
    assert FORMULA in [r["principal"] for r in records], "JSON keeps the value as it was"


def verify_intact(c: Console):
    c.goto("/console/audit")
    c.page.get_by_role("button", name="Verify the chain now").click()
    expect(c.page.get_by_role("status")).to_contain_text(re.compile(r"Chain intact: \d+ records"))
    c.shot("05-verify")


def verify_finds_tampering(c: Console):
    seq = c.ask("tamper")
    c.page.get_by_role("button", name="Verify the chain now").click()
    expect(c.page.get_by_role("status")).to_contain_text(
        f"Chain BROKEN: first broken record {seq}:"
    )
    c.shot("06-tampered")


def credentials_without_secrets(c: Console):
    c.page.get_by_role("link", name="Credentials").click()
    expect(c.page.get_by_role("heading", name="Credentials")).to_be_visible()
    listed = {r["access key"]: r for r in c.table()}
    expected = {
        "reseller": ("cloud_reseller", "res-1", "", ""),
        "auditor": ("auditor", "dist-1", "", "sec-ann"),
        "unmasked": ("auditor", "dist-1", "unmasked", "sec-bob"),
    }
    for who, (tier, partner, role, label) in expected.items():
        row = listed.get(c.cred(who)["ak"])
        assert row, f"{who} is not listed: {listed}"
        got = (row["tier"], row["partner"], row["role"], row["issued to"])
        assert got == (tier, partner, role, label), f"{who}: {got}"
    html = c.page.content()
    for who in expected:
        assert c.cred(who)["sk"] not in html, f"{who}'s secret is on the page"
    c.shot("07-credentials")


def changes_need_the_form_token(c: Console):
    c.goto("/console/audit")
    token = c.csrf()
    verify = c.url("/console/audit/verify")
    for form in ({}, {"csrf": "forged"}, {"csrf": token[:-2]}):
        answer = c.context.request.post(verify, form=form, max_redirects=0)
        assert answer.status == 403, f"verify with {form}: {answer.status}"
    answer = c.context.request.post(c.url("/console/sign-out"), form={"csrf": "forged"})
    assert answer.status == 403, f"a forged sign-out: {answer.status}"
    # The same session with its own token is served: the token was what was refused.
    answer = c.context.request.post(verify, form={"csrf": token})
    assert answer.status == 200 and "Chain" in answer.text(), f"with the token: {answer.status}"


def sign_out(c: Console):
    c.goto("/console/audit")
    c.page.get_by_role("button", name="Sign out").click()
    c.on_sign_in_form()
    assert c.cookie("tg_console") is None, f"the session cookie stays: {c.context.cookies()}"
    c.goto("/console/audit")
    c.on_sign_in_form()


def revoking_ends_the_session(c: Console):
    c.sign_in("auditor")
    c.signed_in_as("sec-ann")
    c.ask("revoke", access_key=c.cred("auditor")["ak"])
    c.page.reload()
    c.on_sign_in_form()


FLOWS = [
    sign_in_page,
    wrong_secret_is_refused,
    reseller_is_refused,
    formula_access_key_is_refused,
    auditor_signs_in_by_keyboard,
    search_with_filters,
    older_records,
    export_csv_and_json_lines,
    verify_intact,
    verify_finds_tampering,
    credentials_without_secrets,
    changes_need_the_form_token,
    sign_out,
    revoking_ends_the_session,
]

if __name__ == "__main__":
    run(FLOWS)
