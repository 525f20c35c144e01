"""Compares a criterion run with the recorded figures and says which moved beyond noise.

Run by hand, never in CI (speed is measured on a quiet machine, not asserted in tests):

    cargo bench --locked -p tiergate-benches --bench signature --bench policy --bench hot_path
    python3 benches/compare.py            # this run against benches/baseline.json
    python3 benches/compare.py --record   # make this run the baseline (commit it with RESULTS.md)

Each benchmark's median (criterion's `target/criterion/<id>/new/estimates.json`) is set against
the baseline's. A change counts as beyond noise when it is larger than both the tolerance
(`--tolerance`, default 10%: run-to-run spread on a shared VM is of that order) and the
run's own 95% confidence interval around the median. The targets the issues set (AK/SK
verification at or under 5 us, the policy decision at or under 1 us) are checked too. The exit
status is 1 when something got slower beyond noise or a target is missed, so a script can
use it.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(ROOT, "target", "criterion")
BASELINE = os.path.join(ROOT, "benches", "baseline.json")
# Benchmark ids with a ceiling (nanoseconds).
TARGETS = {
    "verify_post_json_body": 5000.0,
    "verify_get_with_query": 5000.0,
    "decide_create_partner_coupons/100": 1000.0,
}


def run_medians():
    """{benchmark id: (median ns, ci lower, ci upper)} of the last run."""
    out = {}
    for dirpath, _dirs, files in os.walk(CRITERION):
        if "estimates.json" in files and os.path.basename(dirpath) == "new":
            bench = os.path.relpath(os.path.dirname(dirpath), CRITERION)
            if bench.startswith("report") or os.sep + "report" in bench:
                continue
            with open(os.path.join(dirpath, "estimates.json")) as f:
                m = json.load(f)["median"]
            ci = m["confidence_interval"]
            out[bench.replace(os.sep, "/")] = (
                m["point_estimate"], ci["lower_bound"], ci["upper_bound"])
    return out


def fmt(ns):
    return f"{ns / 1000:.2f} us" if ns >= 1000 else f"{ns:.1f} ns"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", action="store_true", help="write this run as the baseline")
    p.add_argument("--tolerance", type=float, default=0.10)
    a = p.parse_args()
    now = run_medians()
    if not now:
        sys.exit(f"no criterion results under {CRITERION}: run cargo bench first")
    if a.record:
        with open(BASELINE, "w") as f:
            json.dump({k: round(v[0], 1) for k, v in sorted(now.items())}, f, indent=1)
            f.write("\n")
        print(f"recorded {len(now)} medians in {os.path.relpath(BASELINE, ROOT)}")
        return 0
    with open(BASELINE) as f:
        base = json.load(f)
    worse = 0
    print(f"{'benchmark':58} {'baseline':>11} {'now':>11} {'change':>8}  verdict")
    for bench in sorted(set(now) | set(base)):
        if bench not in now:
            print(f"{bench:58} {fmt(base[bench]):>11} {'-':>11} {'':>8}  not run")
            continue
        median, lo, hi = now[bench]
        if bench not in base:
            print(f"{bench:58} {'-':>11} {fmt(median):>11} {'':>8}  new")
            continue
        old = base[bench]
        change = (median - old) / old
        # The run's own uncertainty, relative, on the side of the change.
        spread = (hi - median) / median if change > 0 else (median - lo) / median
        if abs(change) <= max(a.tolerance, spread):
            verdict = "within noise"
        elif change > 0:
            verdict = "SLOWER"
            worse += 1
        else:
            verdict = "faster"
        print(f"{bench:58} {fmt(old):>11} {fmt(median):>11} {change:+8.1%}  {verdict}")
    for bench, ceiling in TARGETS.items():
        if bench in now:
            met = now[bench][0] <= ceiling
            worse += 0 if met else 1
            print(f"target {bench} <= {fmt(ceiling)}: {fmt(now[bench][0])}, "
                  f"{'met' if met else 'MISSED'}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
