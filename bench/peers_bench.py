"""Benchmark of the playbook against peer packages, side by side (issue: scale):

- per-customer summary + BG/NBD fit (``acquisition.customer_summary`` + ``fit_bg_nbd``) against
  lifetimes (``summary_data_from_transaction_data`` + ``BetaGeoFitter``), on a transaction log of
  about a million customers simulated from the published CDNOW parameters, on the sample shop, and
  (fit only) on lifetimes' own copy of the CDNOW summary;
- basket rules (``selection.association_rules``) against mlxtend (one-hot frame + ``apriori`` +
  ``association_rules``) on the order lines of a generated shop of about a million lines;
- many-SKU daily demand forecasts (``inventory.DemandForecaster``: Holt-Winters, SES, SBA, TSB by
  demand class) against statsforecast with the same model per SKU (AutoETS "ANA" with a weekly
  season, SES, CrostonSBA, TSB), same training days and 28-day holdout, scored by MAE and MASE.

Each side runs in its own subprocess, in its own virtualenv (bench/.venv-lifetimes,
bench/.venv-peers: see the requirements files there), ``--repeat`` times; the table gives the
median wall time of the timed work (inputs are read before the clock starts), the peak resident
memory of the process (``VmHWM``, i.e. its own ``ru_maxrss``) and the ratio peer / playbook. Agreement is checked on the
same data: fitted BG/NBD parameters, rule support / confidence / lift, forecast accuracy.

    .venv/bin/python bench/peers_bench.py [--repeat 3] [--shop /tmp/shopB12] [--customers 1000000]

The shop is generated with ``python -m playbook.samples --out /tmp/shopB12 --scale 12``. Prints a
table and writes bench/results/peers.md. Not a test: nothing here asserts, but a disagreement is
reported in the table and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = {"playbook": sys.executable,
          "lifetimes": str(BENCH / ".venv-lifetimes" / "bin" / "python"),
          "peers": str(BENCH / ".venv-peers" / "bin" / "python")}
AS_OF = "2026-11-01"  # end (exclusive) of the observation: the sample shop's report month is 2026-10
CDNOW = (0.243, 4.414, 0.793, 2.426)  # Fader, Hardie & Lee 2005, table 1
HORIZON = 28  # forecast holdout, days (inventory.backtest_days)


# =============================================================================================
# Workers: run in a subprocess, in the side's virtualenv; only numpy and pandas at import time
# =============================================================================================

def _rss_kb(field: str = "VmRSS") -> int:
    """Resident memory of this process in kB (``VmHWM``: its peak) from /proc/self/status."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _frame(npz, columns):
    import pandas as pd
    return pd.DataFrame({c: npz[c] for c in columns})


def w_bgnbd_playbook(inp: Path, out: Path) -> dict:
    from playbook import acquisition as acq
    o = _frame(np.load(inp), ["customer_id", "order_ts", "paid_amount"])
    base = _rss_kb()
    t0 = time.perf_counter()
    s = acq.customer_summary(o, as_of=AS_OF, unit="W")
    m = acq.fit_bg_nbd(s["frequency"], s["recency"], s["T"])
    dt = time.perf_counter() - t0
    return {"seconds": dt, "base_kb": base, "customers": len(s), "params": m.params_.tolist(),
            "log_likelihood": m.log_likelihood_}


def w_bgnbd_lifetimes(inp: Path, out: Path) -> dict:
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data
    o = _frame(np.load(inp), ["customer_id", "order_ts", "paid_amount"])
    base = _rss_kb()
    t0 = time.perf_counter()
    # purchases merged by day, times in weeks (days / 7): the playbook's unit="W"
    s = summary_data_from_transaction_data(o, "customer_id", "order_ts", observation_period_end=AS_OF,
                                           freq="D", freq_multiplier=7)
    m = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    dt = time.perf_counter() - t0
    p = m.params_
    return {"seconds": dt, "base_kb": base, "customers": len(s),
            "params": [float(p["r"]), float(p["alpha"]), float(p["a"]), float(p["b"])],
            "log_likelihood": float(-m._negative_log_likelihood_ * len(s)) if hasattr(m, "_negative_log_likelihood_") else None}


def w_cdnow_export(inp: Path, out: Path) -> dict:
    from lifetimes.datasets import load_cdnow_summary
    d = load_cdnow_summary(index_col=[0])
    np.savez(out, frequency=d["frequency"].to_numpy(float), recency=d["recency"].to_numpy(float), T=d["T"].to_numpy(float))
    return {"seconds": 0.0, "base_kb": 0, "customers": len(d)}


def w_cdnow_playbook(inp: Path, out: Path) -> dict:
    from playbook import acquisition as acq
    d = np.load(inp)
    base = _rss_kb()
    t0 = time.perf_counter()
    m = acq.fit_bg_nbd(d["frequency"], d["recency"], d["T"])
    return {"seconds": time.perf_counter() - t0, "base_kb": base, "customers": len(d["T"]), "params": m.params_.tolist()}


def w_cdnow_lifetimes(inp: Path, out: Path) -> dict:
    from lifetimes import BetaGeoFitter
    d = np.load(inp)
    base = _rss_kb()
    t0 = time.perf_counter()
    m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    p = m.params_
    return {"seconds": time.perf_counter() - t0, "base_kb": base, "customers": len(d["T"]),
            "params": [float(p["r"]), float(p["alpha"]), float(p["a"]), float(p["b"])]}


def _rules_out(frame, out: Path, ante: str, cons: str) -> None:
    keys = np.array(["|".join(sorted(a)) + ">" + "|".join(sorted(c)) for a, c in zip(frame[ante], frame[cons])])
    np.savez(out, key=keys, support=frame["support"].to_numpy(float), confidence=frame["confidence"].to_numpy(float),
             lift=frame["lift"].to_numpy(float))


def w_rules_playbook(inp: Path, out: Path) -> dict:
    from playbook import selection
    d = np.load(inp)
    lines = _frame(d, ["order_id", "sku"])
    base = _rss_kb()
    t0 = time.perf_counter()
    rules = selection.association_rules(lines, min_support=float(d["min_support"]), min_confidence=float(d["min_confidence"]),
                                        max_len=int(d["max_len"]))
    dt = time.perf_counter() - t0
    _rules_out(rules, out, "antecedent", "consequent")
    return {"seconds": dt, "base_kb": base, "rules": len(rules)}


def w_rules_mlxtend(inp: Path, out: Path) -> dict:
    import pandas as pd
    from mlxtend.frequent_patterns import apriori, association_rules
    d = np.load(inp)
    lines = _frame(d, ["order_id", "sku"])
    base = _rss_kb()
    t0 = time.perf_counter()
    # the one-hot orders x items frame mlxtend works on, built the fast way (numpy, no list of lists)
    o, _ = pd.factorize(lines["order_id"])
    i, items = pd.factorize(lines["sku"])
    onehot = np.zeros((o.max() + 1, len(items)), dtype=bool)
    onehot[o, i] = True
    frame = pd.DataFrame(onehot, columns=np.asarray(items))
    # low_memory=True: the default evaluates every candidate pair on every order at once and needed more
    # than the machine's 24 GB here (killed by the kernel)
    freq = apriori(frame, min_support=float(d["min_support"]), use_colnames=True, max_len=int(d["max_len"]),
                   low_memory=True)
    rules = association_rules(freq, num_itemsets=len(frame), metric="confidence", min_threshold=float(d["min_confidence"]))
    dt = time.perf_counter() - t0
    _rules_out(rules, out, "antecedents", "consequents")
    return {"seconds": dt, "base_kb": base, "rules": len(rules)}


def w_forecast_playbook(inp: Path, out: Path) -> dict:
    import pandas as pd
    from playbook import inventory
    d = np.load(inp)
    train = pd.DataFrame(d["train"], index=pd.DatetimeIndex(d["dates"]), columns=d["skus"])
    base = _rss_kb()
    t0 = time.perf_counter()
    model = inventory.DemandForecaster(alpha=0.1, ets_skus=d["ets_skus"].tolist()).fit(train)
    path = model.predict(int(d["horizon"]))
    dt = time.perf_counter() - t0
    np.savez(out, forecast=path.to_numpy(float), method=model.params_["method"].to_numpy().astype(str))
    return {"seconds": dt, "base_kb": base, "skus": train.shape[1]}


def w_forecast_statsforecast(inp: Path, out: Path) -> dict:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, AutoETS, CrostonSBA, SimpleExponentialSmoothing
    d = np.load(inp)
    skus, method, horizon = d["skus"], d["method"], int(d["horizon"])
    y = d["train"]
    dates = pd.DatetimeIndex(d["dates"])
    models = {"ets": AutoETS(season_length=7, model="ANA"), "ses": SimpleExponentialSmoothing(alpha=0.1),
              "sba": CrostonSBA(), "tsb": TSB(alpha_d=0.1, alpha_p=0.1)}
    longs = {}
    for name in models:  # one long frame per model: statsforecast fits every model on every series given
        cols = np.flatnonzero(method == name)
        if cols.size == 0:
            continue
        sub = y[:, cols]
        keep = ~np.isnan(sub)  # series start on the SKU's first listed day
        r, c = np.nonzero(keep)
        longs[name] = pd.DataFrame({"unique_id": skus[cols][c], "ds": dates[r], "y": sub[r, c]})
    base = _rss_kb()
    t0 = time.perf_counter()
    fc = np.zeros((horizon, len(skus)))
    for name, long in longs.items():
        sf = StatsForecast(models=[models[name]], freq="D", n_jobs=1)
        res = sf.forecast(df=long, h=horizon)
        col = [c for c in res.columns if c not in ("unique_id", "ds")][0]
        wide = res.pivot(index="ds", columns="unique_id", values=col)
        pos = {s: j for j, s in enumerate(skus)}
        for s in wide.columns:
            fc[:, pos[s]] = np.clip(wide[s].to_numpy(float), 0, None)
    dt = time.perf_counter() - t0
    np.savez(out, forecast=fc)
    return {"seconds": dt, "base_kb": base, "skus": len(skus)}


WORKERS = {name[2:]: fn for name, fn in globals().items() if name.startswith("w_")}


#: address-space limit of a worker: a peer that runs away with memory fails alone instead of
#: sending the kernel's out-of-memory killer after whatever else runs on the machine
MEMORY_LIMIT = 12 << 30


def worker_main(name: str, inp: str, out: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    result = WORKERS[name](Path(inp), Path(out))
    # Peak resident memory. Linux keeps ru_maxrss across fork and exec, so a worker started by this
    # (large) process would report at least the parent's size: VmHWM, the peak of the worker's own
    # address space, is the ru_maxrss it would have had started on its own.
    result["peak_kb"] = _rss_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps(result))


def run(side: str, name: str, inp: Path, out: Path, code: str | None = None) -> dict:
    """One run of a worker in a fresh process of the side's interpreter (the playbook side imports
    the playbook from ``code`` when given: a copy of the code before a change, for before / after)."""
    env = dict(os.environ)
    if side == "playbook":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code or "", env.get("PYTHONPATH", ""), str(ROOT)]))
    proc = subprocess.run([PYTHON[side], str(Path(__file__).resolve()), "--worker", name, str(inp), str(out)],
                          capture_output=True, text=True, env=env, cwd=str(ROOT))
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"{side} worker {name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(line[-1][7:])


def timed(side: str, name: str, inp: Path, out: Path, repeat: int, code: str | None = None) -> dict:
    runs = [run(side, name, inp, out, code) for _ in range(repeat)]
    last = runs[-1]
    last["runs"] = [r["seconds"] for r in runs]
    last["median"] = statistics.median(last["runs"])
    last["peak_mb"] = max(r["peak_kb"] for r in runs) / 1024
    return last


# =============================================================================================
# Inputs (built in the main .venv, written as .npz so that any numpy can read them)
# =============================================================================================

def transactions(n: int, seed: int = 2005):
    """A transaction log of ``n`` customers drawn from the BG/NBD process with the CDNOW parameters:
    first purchases spread over 12 weeks, observed 27 to 39 weeks (as CDNOW's calibration period);
    the repeat purchases of a customer with x of them and recency t_x are the last one at t_x and
    x - 1 uniform in (0, t_x), at a random time of day (purchases on one day merge, as in real data)."""
    from playbook import acquisition as acq
    rng = np.random.default_rng(seed)
    age_days = rng.integers(27 * 7, 39 * 7 + 1, n)
    sim = acq.simulate_bg_nbd(n, r=CDNOW[0], alpha=CDNOW[1], a=CDNOW[2], b=CDNOW[3], T=age_days / 7.0, seed=seed + 1)
    x, tx = sim["frequency"].to_numpy(), sim["recency"].to_numpy()
    first = np.datetime64(AS_OF) - age_days.astype("timedelta64[D]")
    reps = x + 1
    cust = np.repeat(np.arange(n), reps)
    k = np.repeat(np.cumsum(reps) - reps, reps)
    pos = np.arange(len(cust)) - k  # 0 = first purchase, x = last repeat purchase
    xr, txr = np.repeat(x, reps), np.repeat(tx, reps)
    t = np.where(pos == 0, 0.0, np.where(pos == xr, txr, rng.random(len(cust)) * txr))
    day = np.repeat(first, reps) + np.floor(t * 7).astype("int64").astype("timedelta64[D]")
    ts = day.astype("datetime64[s]") + rng.integers(0, 86_400, len(cust)).astype("timedelta64[s]")
    ts = np.minimum(ts, np.datetime64(AS_OF) - np.timedelta64(1, "s")).astype("datetime64[ns]")
    ids = np.char.add("C", np.char.zfill(cust.astype(str), 7))
    return {"customer_id": ids, "order_ts": ts, "paid_amount": np.round(rng.gamma(3.0, 20.0, len(cust)), 2)}


def sample_orders():
    """The sample shop's paid orders with a customer, before the end of the report month."""
    import playbook
    from playbook.metrics import paid_mask
    data = playbook.load(str(ROOT / "data" / "samples"), month="2026-10")
    o = data["orders"]
    o = o[paid_mask(o) & o["customer_id"].notna() & (o["order_ts"] < AS_OF)]
    return {"customer_id": o["customer_id"].to_numpy(dtype=str), "order_ts": o["order_ts"].to_numpy("datetime64[ns]"),
            "paid_amount": o["paid_amount"].fillna(0.0).to_numpy(float)}


def order_lines(shop: Path, min_support: float, min_confidence: float, max_len: int):
    import pandas as pd
    items = pd.read_csv(shop / "order_items.csv.gz", usecols=["order_id", "sku"], dtype=str)
    return {"order_id": items["order_id"].to_numpy(dtype=str), "sku": items["sku"].to_numpy(dtype=str),
            "min_support": min_support, "min_confidence": min_confidence, "max_len": max_len}


def demand(shop: Path):
    """Daily units per SKU of the shop's last 365 + 28 days (stock-out days kept as zeros: statsforecast
    needs complete series; days before a SKU was listed are left out), split into training days and
    the 28-day holdout; the playbook's method per SKU (its demand classes on the training days) is
    given to both sides."""
    import playbook
    from playbook import inventory
    data = playbook.load(str(shop), month="2026-10")
    full = inventory.daily_demand(data, days=365 + HORIZON, censor=False)
    train, test = full.iloc[:-HORIZON], full.iloc[-HORIZON:]
    classes = inventory.abc_xyz(data)
    f = inventory._forecaster(data, classes, train)
    method = f.fit(train).params_["method"].reindex(train.columns).to_numpy().astype(str)
    return {"train": train.to_numpy(float), "test": test.to_numpy(float), "dates": train.index.to_numpy("datetime64[ns]"),
            "skus": np.asarray(train.columns, dtype=str), "method": method, "ets_skus": np.asarray(f.ets_skus, dtype=str),
            "horizon": HORIZON}


def cached(path: Path, build, fresh: bool) -> Path:
    if fresh or not path.exists():
        t0 = time.perf_counter()
        np.savez(path, **build())
        print(f"  wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} in {time.perf_counter() - t0:.1f} s",
              flush=True)
    return path


# =============================================================================================
# Comparison
# =============================================================================================

def _ratio(peer: dict, ours: dict) -> str:
    return f"{peer['median'] / ours['median']:.1f}x" if ours["median"] > 0 else "—"


LOAD: list[float] = []
BEFORE: dict[str, dict] = {}  # task -> playbook timing with the --before code


def _row(task: str, ours: dict, peer: dict, peer_name: str, agree: str) -> str:
    before = BEFORE.get(task)
    was = f"{before['median']:.2f}" if before else "—"
    return (f"| {task} | {was} | {ours['median']:.2f} | {peer_name} {peer['median']:.2f} | {_ratio(peer, ours)} "
            f"| {ours['peak_mb']:,.0f} | {peer['peak_mb']:,.0f} | {agree} |")


def timed_playbook(task: str, name: str, inp: Path, out: Path, repeat: int, before: str | None) -> dict:
    """The playbook side, and the same work with the code before the change when ``before`` is given."""
    if before:
        BEFORE[task] = timed("playbook", name, inp, out, repeat, before)
    return timed("playbook", name, inp, out, repeat)


def _params(p) -> str:
    return ", ".join(f"{v:.4g}" for v in p)


def bgnbd_agreement(ours: dict, peer: dict) -> tuple[bool, str]:
    a, b = np.array(ours["params"]), np.array(peer["params"])
    rel = np.max(np.abs(a / b - 1))
    same = ours["customers"] == peer["customers"] and rel < 1e-3
    return same, f"r, α, a, b: {_params(a)} vs {_params(b)} (max rel. diff {rel:.1e}; {ours['customers']:,} customers)"


def rules_agreement(ours_npz: Path, peer_npz: Path) -> tuple[bool, str]:
    a, b = np.load(ours_npz), np.load(peer_npz)
    ka, kb = list(a["key"]), list(b["key"])
    common = sorted(set(ka) & set(kb))
    if not common:
        return len(ka) == len(kb) == 0, f"{len(ka)} vs {len(kb)} rules, none in common"
    ia = {k: i for i, k in enumerate(ka)}
    ib = {k: i for i, k in enumerate(kb)}
    diff = max(float(np.max(np.abs(a[m][[ia[k] for k in common]] - b[m][[ib[k] for k in common]])))
               for m in ("support", "confidence", "lift"))
    same = set(ka) == set(kb) and diff < 1e-9
    return same, f"{len(ka):,} vs {len(kb):,} rules, {len(common):,} in common; max diff of support / confidence / lift {diff:.1e}"


def forecast_scores(fc: np.ndarray, data) -> dict:
    """MAE per SKU-day and MASE (MAE / in-sample MAE of the seasonal naive forecast y[t-7], per SKU, then
    averaged over SKUs with demand) on the holdout."""
    train, test = data["train"], data["test"]
    err = np.abs(fc - test)
    scale = np.nanmean(np.abs(train[7:] - train[:-7]), axis=0)
    ok = np.isfinite(scale) & (scale > 0) & np.isfinite(test).all(axis=0)
    return {"mae": float(np.nanmean(err)), "mase": float(np.mean(np.nanmean(err[:, ok], axis=0) / scale[ok])),
            "wape": float(np.nansum(err) / np.nansum(test))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--shop", default="/tmp/shopB12", help="shop generated with playbook.samples --scale 12")
    parser.add_argument("--work", default=str(BENCH / "work" / "peers"), help="where inputs are cached (git-ignored)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached inputs")
    parser.add_argument("--only", choices=["bgnbd", "rules", "forecast"], action="append")
    parser.add_argument("--min-support", type=float, default=0.002)
    parser.add_argument("--min-confidence", type=float, default=0.05)
    parser.add_argument("--max-len", type=int, default=3)
    parser.add_argument("--before", help="a copy of the playbook before a change (e.g. `git archive` of the base "
                                         "commit, unpacked): its times fill the 'before' column")
    args = parser.parse_args(argv)
    LOAD[:] = os.getloadavg()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    shop = Path(args.shop)
    only = set(args.only or ["bgnbd", "rules", "forecast"])
    for side in ("lifetimes", "peers"):
        if not Path(PYTHON[side]).exists():
            raise SystemExit(f"{PYTHON[side]} is missing: create it with `make bench-peers` "
                             f"(python3.11 -m venv, pip install -r bench/requirements-{side}.txt)")
    if ("rules" in only or "forecast" in only) and not (shop / "order_items.csv.gz").exists():
        raise SystemExit(f"{shop} has no order_items.csv.gz: generate it with "
                         f"`.venv/bin/python -m playbook.samples --out {shop} --scale 12`")
    rows, notes, failed = [], [], []
    print("preparing inputs", flush=True)
    if "bgnbd" in only:
        big = cached(work / f"tx_{args.customers}.npz", lambda: transactions(args.customers), args.fresh)
        small = cached(work / "tx_sample.npz", sample_orders, args.fresh)
        cdnow = work / "cdnow.npz"
        if args.fresh or not cdnow.exists():
            run("lifetimes", "cdnow_export", work / "none", cdnow)
        for label, inp in ((f"Customer summary + BG/NBD fit, {args.customers:,} simulated customers", big),
                           ("Customer summary + BG/NBD fit, sample shop", small)):
            print(f"- {label}", flush=True)
            ours = timed_playbook(label, "bgnbd_playbook", inp, work / "out.npz", args.repeat, args.before)
            peer = timed("lifetimes", "bgnbd_lifetimes", inp, work / "out.npz", args.repeat)
            same, text = bgnbd_agreement(ours, peer)
            failed += [] if same else [label]
            rows.append(_row(label, ours, peer, "lifetimes", ("agree: " if same else "DIFFER: ") + text))
            if inp == big:
                target, big_label = ours["median"], label
        print("- BG/NBD fit, CDNOW summary", flush=True)
        label = "BG/NBD fit only, CDNOW (2,357 customers, lifetimes' copy)"
        ours = timed_playbook(label, "cdnow_playbook", cdnow, work / "out.npz", args.repeat, args.before)
        peer = timed("lifetimes", "cdnow_lifetimes", cdnow, work / "out.npz", args.repeat)
        same, text = bgnbd_agreement(ours, peer)
        failed += [] if same else ["CDNOW"]
        pub = np.max(np.abs(np.array(ours["params"]) / np.array(CDNOW) - 1))
        rows.append(_row(label, ours, peer, "lifetimes",
                         ("agree: " if same else "DIFFER: ") + text + f"; published {_params(CDNOW)} (max rel. diff {pub:.1e})"))
        notes.append(f"Target: customer summary + BG/NBD fit for {args.customers:,} customers under 5 s: "
                     f"**{target:.2f} s** ({'met' if target < 5 else 'NOT met'})"
                     + (f", {BEFORE[big_label]['median']:.2f} s before." if big_label in BEFORE else "."))
    if "rules" in only:
        label = "Basket rules"
        lines = cached(work / "lines.npz", lambda: order_lines(shop, args.min_support, args.min_confidence, args.max_len),
                       args.fresh)
        d = np.load(lines)
        n_lines, n_orders = len(d["order_id"]), len(np.unique(d["order_id"]))
        label = (f"Basket rules, {n_lines:,} order lines, {n_orders:,} orders, support >= {float(d['min_support']):g}, "
                 f"confidence >= {float(d['min_confidence']):g}, up to {int(d['max_len'])} items")
        print(f"- {label}", flush=True)
        ours = timed_playbook(label, "rules_playbook", lines, work / "rules_playbook.npz", args.repeat, args.before)
        peer = timed("peers", "rules_mlxtend", lines, work / "rules_mlxtend.npz", args.repeat)
        same, text = rules_agreement(work / "rules_playbook.npz", work / "rules_mlxtend.npz")
        failed += [] if same else [label]
        rows.append(_row(label, ours, peer, "mlxtend", ("agree: " if same else "DIFFER: ") + text))
    if "forecast" in only:
        dem = cached(work / "demand.npz", lambda: demand(shop), args.fresh)
        d = np.load(dem)
        methods = dict(zip(*np.unique(d["method"], return_counts=True)))
        label = (f"Daily demand forecasts, {len(d['skus']):,} SKUs x {len(d['dates'])} days, {HORIZON}-day holdout "
                 f"({', '.join(f'{k} {v}' for k, v in sorted(methods.items()))})")
        print(f"- {label}", flush=True)
        ours = timed_playbook(label, "forecast_playbook", dem, work / "fc_playbook.npz", args.repeat, args.before)
        peer = timed("peers", "forecast_statsforecast", dem, work / "fc_statsforecast.npz", args.repeat)
        a = forecast_scores(np.load(work / "fc_playbook.npz")["forecast"], d)
        b = forecast_scores(np.load(work / "fc_statsforecast.npz")["forecast"], d)
        text = (f"holdout MAE {a['mae']:.3f} vs {b['mae']:.3f}, MASE {a['mase']:.3f} vs {b['mase']:.3f}, "
                f"WAPE {a['wape']:.1%} vs {b['wape']:.1%}")
        rows.append(_row(label, ours, peer, "statsforecast", text))
    lines = [
        f"# Playbook against peer packages ({os.cpu_count()} cores, median of {args.repeat} runs, each in its own process)",
        "",
        f"Load average when the run started: {', '.join(f'{v:.1f}' for v in LOAD)} (other work on the machine inflates "
        "every time alike).",
        "",
        "| task | playbook before (s) | playbook (s) | peer (s) | peer / playbook | playbook peak MB | peer peak MB "
        "| agreement on the same data |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *notes,
        "",
        "Times are the timed work only (inputs are read before the clock starts); peak MB is the worker process's",
        "peak resident memory (VmHWM: its own ru_maxrss; interpreter, libraries and inputs included). Peers: lifetimes in bench/.venv-lifetimes,",
        "mlxtend and statsforecast (n_jobs=1) in bench/.venv-peers (bench/requirements-*.txt). mlxtend's time",
        "includes building its one-hot orders x items frame; its apriori runs with low_memory=True (the default",
        "ran out of the machine's 24 GB on these orders). Forecasts: the same method per SKU on both sides",
        "(the playbook's demand classes; statsforecast's AutoETS 'ANA' with a weekly season for its Holt-Winters),",
        "stock-out days kept as zeros because statsforecast needs complete series.",
    ]
    write_result("peers", lines)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(*sys.argv[2:5])
    else:
        sys.exit(main())
