"""The console in a real browser, as its people use it: one function per flow,
run in order on one page (a later flow may rely on an earlier one's sign-in). A new page's
flow is one more function in FLOWS."""

import csv
import io
import json
import re

from kit import Console, expect, run


# What a spreadsheet would run if an export handed it over as it is.
FORMULA = '=HYPERLINK("http://attacker.invalid","open me")'


def by_keyboard(c: Console, access_key, secret_key):
    """Signs in with the keyboard alone: Tab to each field, Enter sends; the sign-in answer."""
    c.goto("/console/")
    keys = c.page.keyboard
    keys.press("Tab")
    expect(c.page.get_by_role("link", name="Skip to content"), "Tab reaches the skip link first").to_be_focused()
    keys.press("Tab")
    expect(c.page.get_by_label("Access key"), "then the access key").to_be_focused()
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


def nav(c: Console):
    return c.page.get_by_role("navigation", name="Pages").get_by_role("link").all_inner_texts()


def reseller_sees_its_own_subtree(c: Console):
    c.sign_in("reseller")
    c.signed_in_as("res-1 (cloud_reseller)")
    assert nav(c) == ["Audit", "Delegation", "Money", "Credentials", "Sign-in federation"], nav(c)
    expect(c.page.locator("caption")).to_contain_text("res-1's subtree")
    for r in c.table():
        assert "res-1" in (r["principal"], r["acting"]), f"outside its subtree: {r}"
    c.shot("10-reseller-audit")
    # Pages for the gateway as a whole are not its to see, even by URL.
    for path in ("/console/overview", "/console/tls"):
        answer = c.goto(path)
        assert answer.status == 403, f"{path} for a reseller: {answer.status}"
        c.refusal("TG.2002")
    # Nor another reseller's staff, even with its own valid form token.
    c.goto("/console/credentials")
    answer = c.context.request.post(
        c.url("/console/credentials/issue"),
        form={"csrf": c.csrf(), "reseller": "res-2", "staff": "mallory", "role": "viewer"},
    )
    assert answer.status == 403, f"a reseller issuing res-2's staff: {answer.status}"
    c.goto("/console/audit")
    c.page.get_by_role("button", name="Sign out").click()
    c.on_sign_in_form()


def formula_access_key_is_refused(c: Console):
    # Refused and audited with the access key as typed: the export flow looks for it.
    c.sign_in(access_key=FORMULA, secret_key="anything")
    c.refusal("unknown access key or wrong secret key")


def auditor_signs_in_by_keyboard(c: Console):
    answer = by_keyboard(c, c.cred("auditor")["ak"], c.cred("auditor")["sk"])
    assert answer.status == 303, f"a sign-in redirects: {answer.status}"
    expect(c.page).to_have_url(c.url("/console/overview"))
    c.signed_in_as("sec-ann")
    session = c.cookie("tg_console")
    assert session, f"no session cookie: {c.context.cookies()}"
    assert session["httpOnly"] and session["sameSite"] == "Strict", f"cookie flags: {session}"
    assert session["path"] == "/console/", f"cookie path: {session}"


def search_with_filters(c: Console):
    c.page.get_by_role("link", name="Audit").click()
    op = c.setup["refused"]["operation"]
    c.page.get_by_label("kind", exact=True).fill("outcome")
    c.page.get_by_label("operation", exact=True).fill(op)
    c.page.get_by_label("outcome", exact=True).fill("refused")
    c.page.get_by_role("button", name="Search").click()
    expect(c.page.locator("caption")).to_have_text("50 records, newest first")
    filters = {"kind": "outcome", "operation": op, "outcome": "refused"}
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
    filters = {"kind": "outcome", "operation": op, "outcome": "refused", "before": str(min(first))}
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
    assert any(r["credential"] == FORMULA for r in shown), f"the refusal shown: {shown}"
    name, text = download(c, "CSV")
    assert name == "audit.csv", name
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(shown), f"CSV has {len(rows)} records, the page {len(shown)}"
    keys = [r["credential"] for r in rows]
    assert "'" + FORMULA in keys, f"the formula is defused: {keys}"
    assert FORMULA not in keys, f"a formula left live: {keys}"
    name, text = download(c, "JSON Lines")
    assert name == "audit.jsonl", name
    records = [json.loads(line) for line in text.splitlines() if line]
    assert len(records) == len(shown), f"JSONL has {len(records)} records, the page {len(shown)}"
    assert FORMULA in [r.get("credential") for r in records], "JSON keeps the value as it was"


def verify_intact(c: Console):
    c.goto("/console/audit")
    c.page.get_by_role("button", name="Verify the chain now").click()
    expect(c.page.get_by_role("status")).to_contain_text(re.compile(r"Chain intact: \d+ records"))
    c.shot("05-verify")


def verify_finds_tampering(c: Console):
    seq = c.ask("tamper")
    c.page.get_by_role("button", name="Verify the chain now").click()
    expect(c.page.get_by_role("alert")).to_contain_text(
        f"Chain BROKEN: first broken record {seq}:"
    )
    c.shot("06-tampered")


def tampered_record_detail(c: Console):
    seq = c.page.get_by_role("alert").inner_text().split("first broken record ")[1].split(":")[0]
    c.goto(f"/console/audit/record?seq={seq}")
    expect(c.page.get_by_role("heading", name=f"Audit record {seq}")).to_be_visible()
    rows = {r[0]: r[1] for r in c.page.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])")}
    assert rows["hash recomputed"].startswith("DOES NOT MATCH"), rows
    assert rows["signature (Ed25519)"] == "valid", f"the signature covers the stored hash: {rows}"
    c.shot("07-tampered-record")
    c.page.get_by_role("link", name=f"record {int(seq) + 1}").click()
    expect(c.page.get_by_role("heading", name=f"Audit record {int(seq) + 1}")).to_be_visible()
    expect(c.page.locator("tbody")).to_contain_text("matches")


def overview(c: Console):
    c.page.get_by_role("link", name="Overview").click()
    expect(c.page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    charts = c.page.get_by_role("img", name=re.compile("^Requests per minute"))
    expect(charts).to_have_count(1)
    expect(c.page.locator("#h-audit + p")).to_contain_text("broken")
    # Times are in the viewer's zone (the browser's), the exact instant kept in the markup.
    first = c.page.locator("time").first
    expect(first).to_contain_text(re.compile("E[SD]T"))
    assert first.get_attribute("datetime").endswith("Z"), first.get_attribute("datetime")
    requests = [t for t in c.page.locator("table").all() if "Requests in the window" in t.inner_text()]
    assert requests, "the requests table"
    c.shot("08-overview")


def money(c: Console):
    c.page.get_by_role("link", name="Money").click()
    expect(c.page.get_by_role("heading", name="Money")).to_be_visible()
    totals = c.page.locator("table", has_text="What moved, per operation")
    expect(totals).to_contain_text("update_customer_account_amount")
    expect(totals).to_contain_text("5")
    refused = c.page.locator("table", has_text="did not surely move")
    expect(refused).to_contain_text(str(c.setup["refused"]["count"]))
    c.shot("09-money")


def tls_and_federation(c: Console):
    c.page.get_by_role("link", name="TLS").click()
    expect(c.page.get_by_role("heading", name="Served with TLSv1.3")).to_be_visible()
    expect(c.page.locator("table", has_text="Allowlisted cipher suites")).to_contain_text("TLS_AES_128_GCM_SHA256")
    # Sorting is a link: the sorted view is a URL.
    c.page.get_by_role("link", name="suite", exact=True).first.click()
    assert c.query() == {"sort": "suite", "dir": "asc"}, c.page.url
    allowed = c.page.locator("table", has_text="Allowlisted cipher suites")
    suites = allowed.locator("tbody tr td:first-child").all_inner_texts()
    assert len(suites) > 1 and suites == sorted(suites), f"sorted by suite: {suites}"
    c.shot("11-tls")
    c.page.get_by_role("link", name="Sign-in federation").click()
    expect(c.page.get_by_role("main")).to_contain_text("not configured")
    c.shot("12-federation")


def credentials_without_secrets(c: Console):
    c.page.get_by_role("link", name="Credentials").click()
    expect(c.page.get_by_role("heading", name="Credentials")).to_be_visible()
    listed = {r["access key"]: r for r in c.table()}
    expected = {
        "reseller": ("cloud_reseller", "res-1", "", ""),
        "auditor": ("auditor", "dist-1", "", "sec-ann"),
        "unmasked": ("auditor", "dist-1", "unmasked", "sec-bob"),
        "distributor": ("distributor", "dist-1", "", ""),
    }
    for who, (tier, partner, role, label) in expected.items():
        row = listed.get(c.cred(who)["ak"])
        assert row, f"{who} is not listed: {listed}"
        got = (row["tier"], row["partner"], row["role"], row["issued to"])
        assert got == (tier, partner, role, label), f"{who}: {got}"
    html = c.page.content()
    for who in expected:
        assert c.cred(who)["sk"] not in html, f"{who}'s secret is on the page"
    c.shot("13-credentials")


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


def distributor_grants(c: Console):
    c.goto("/console/audit")
    c.page.get_by_role("button", name="Sign out").click()
    c.sign_in("distributor")
    c.signed_in_as("dist-1 (distributor)")
    c.page.get_by_role("link", name="Delegation").click()
    expect(c.page.get_by_role("heading", name="Quota q-dist-1")).to_be_visible()

    def grant(new_id, total):
        c.page.locator("summary", has_text="Change dist").first.click()
        form = c.page.get_by_role("form", name="Grant below dist")
        form.get_by_label("new slice id").fill(new_id)
        form.get_by_label("grantee").fill(new_id)
        form.get_by_label("total").fill(total)
        form.get_by_label("per day (optional)").fill("100")
        form.get_by_role("button", name="Grant below dist").click()

    grant("res-1", "400")
    expect(c.page.get_by_role("status")).to_contain_text("grant res-1: done")
    grant("res-2", "700")
    expect(c.page.get_by_role("alert")).to_contain_text("Refused:")
    expect(c.page.get_by_role("alert")).to_contain_text("TG.3012")
    tree = c.page.locator("ul.tree").first
    expect(tree).to_contain_text("granted below 400")
    expect(tree).not_to_contain_text("res-2")
    expect(tree).to_contain_text("GMT+08:00")
    c.shot("14-delegation")


def issue_then_revoke_a_credential(c: Console):
    c.page.get_by_role("link", name="Credentials").click()
    c.page.locator("summary", has_text="Issue a credential").click()
    c.page.get_by_label("reseller", exact=True).fill("res-1")
    c.page.get_by_label("staff member (empty: the reseller's own credential)").fill("carol")
    c.page.get_by_label("role (with a staff member)").fill("viewer")
    c.page.get_by_role("button", name="Issue").click()
    shown = c.page.get_by_role("status")
    expect(shown).to_contain_text("shown only now")
    ak = shown.locator("code").nth(0).inner_text()
    sk = shown.locator("code").nth(1).inner_text()
    c.shot("15-issued")
    assert c.ask("call", ak=ak, sk=sk) == 200, "the new credential works"
    # The staff member signs in, in a browser of their own: their reseller's subtree, read only.
    staff = Console(c.setup, c.context.browser.new_context(timezone_id="Asia/Tokyo").new_page())
    staff.sign_in(access_key=ak, secret_key=sk)
    staff.signed_in_as("carol (reseller_staff of res-1)")
    assert nav(staff) == ["Audit", "Delegation", "Money", "Credentials", "Sign-in federation"], nav(staff)
    staff.page.get_by_role("link", name="Delegation").click()
    expect(staff.page.get_by_role("heading", name="Quota q-dist-1")).to_be_visible()
    expect(staff.page.locator("summary", has_text="Change")).to_have_count(0)
    staff.shot("16-staff-delegation")
    c.goto("/console/credentials")
    assert sk not in c.page.content(), "the secret is shown once"
    c.page.get_by_role("button", name=f"Revoke {ak}").click()
    expect(c.page.get_by_role("status")).to_contain_text(f"Revoked {ak}")
    assert c.ask("call", ak=ak, sk=sk) == 401, "the next call with it is refused"
    staff.page.reload()
    staff.on_sign_in_form()
    staff.context.close()


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
    reseller_sees_its_own_subtree,
    formula_access_key_is_refused,
    auditor_signs_in_by_keyboard,
    search_with_filters,
    older_records,
    export_csv_and_json_lines,
    verify_intact,
    verify_finds_tampering,
    tampered_record_detail,
    overview,
    money,
    tls_and_federation,
    credentials_without_secrets,
    changes_need_the_form_token,
    distributor_grants,
    issue_then_revoke_a_credential,
    sign_out,
    revoking_ends_the_session,
]

if __name__ == "__main__":
    run(FLOWS)
