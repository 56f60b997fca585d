#!/usr/bin/python3
"""The report of make scale-study (scripts/scale-study.sh): OUT/report.md and PNGs from
OUT/runs.tsv and each run's summary.json. Simulated figures are gdmpi-sim's; the
alpha-beta column is the textbook estimate of the same allreduce on the platform's links."""
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Per platform: one link's latency and bandwidth (scripts/sim-platform), for the
# alpha-beta estimate. A route crosses 2 links within a leaf switch (up to 16 hosts) and 4
# across leaves.
LINKS = {"10gbe": (5e-6, 1.25e9), "ib100": (0.5e-6, 12.5e9)}
HOSTS_PER_LEAF = 16


def load_runs(out):
    runs = []
    for line in open(os.path.join(out, "runs.tsv")):
        f = line.rstrip("\n").split("\t")
        platform, model, np_, mode, status = f[:5]
        cost = f[5].split() if len(f) > 5 else []
        run = {"platform": platform, "model": model, "np": int(np_), "mode": mode,
               "ok": status == "0", "diverged": status == "3",
               "wall": float(cost[0]) if len(cost) == 2 else None,
               "rss_mib": int(cost[1]) / 1024 if len(cost) == 2 else None}
        path = os.path.join(out, "runs", f"{platform}-{model}-{np_}-{mode}", "summary.json")
        if run["ok"] and os.path.exists(path):
            run["summary"] = json.load(open(path))
        runs.append(run)
    return runs


def epoch_s(s):
    return s["final"]["wall_s"] / max(s["final"]["epoch"], 1)


def time_to_target(out, run, target):
    """Simulated seconds until the first epoch whose validation loss is at most target."""
    name = f"{run['platform']}-{run['model']}-{run['np']}-{run['mode']}"
    path = os.path.join(out, "runs", name, "metrics.csv")
    if not os.path.exists(path):
        return None
    for row in csv.DictReader(open(path)):
        if row.get("val_loss") and float(row["val_loss"]) <= target:
            return float(row["wall_s"])
    return None


def comm_per_step(s):
    """Mean simulated comm seconds per step over the ranks that hold rows (workers)."""
    ranks = [r for r in s["ranks"] if r["rows"] > 0]
    steps = s["final"]["step"] or 1
    return sum(r["comm_s"] for r in ranks) / max(len(ranks), 1) / steps


def mb_per_epoch(s):
    """MB each rank sent per epoch (what went on the wire): the workers' mean, and the
    busiest rank's (a parameter server's, where there is one)."""
    epochs = max(s["final"]["epoch"], 1)
    counted = [r for r in s["ranks"] if r.get("bytes_sent") is not None]
    if not counted:
        return "-"  # the mode does not count its bytes
    sent = [r["bytes_sent"] / epochs / 1e6 for r in counted]
    workers = [b for b, r in zip(sent, counted) if r["rows"] > 0] or sent
    return f"{sum(workers) / len(workers):.3g} / {max(sent):.3g}"


def alpha_beta(platform, p, floats):
    """Ring-like allreduce: 2 log2(p) latencies, 2 (p - 1) / p of the vector over a link,
    plus the loss-and-count reduction's 2 log2(p) latencies."""
    link_lat, beta = LINKS[platform]
    alpha = (2 if p <= HOSTS_PER_LEAF else 4) * link_lat
    rounds = 2 * math.ceil(math.log2(p))
    return 2 * rounds * alpha + 2 * (p - 1) / p * floats * 4 / beta


def table(runs, platform, model, modes, nps, cell):
    """A table of cell(summary) per rank count and mode; a run without one says why."""
    return table_runs(runs, platform, model, modes, nps,
                      lambda r: cell(r["summary"]) if "summary" in r else
                      "diverged" if r["diverged"] else "failed")


def table_runs(runs, platform, model, modes, nps, cell):
    """A table of cell(run) for every run that exists."""
    rows = ["| np | " + " | ".join(modes) + " |", "|---:|" + "---:|" * len(modes)]
    for p in nps:
        vals = [cell(r) if r else "failed" for m in modes
                for r in [find(runs, platform, model, p, m)]]
        rows.append(f"| {p} | " + " | ".join(vals) + " |")
    return "\n".join(rows)


def fmt(seconds):
    return "-" if seconds is None else f"{seconds:.4g}"


def find(runs, platform, model, p, mode):
    for r in runs:
        if (r["platform"], r["model"], r["np"], r["mode"]) == (platform, model, p, mode):
            return r
    return None


def plot(runs, out, platform, model, modes, nps):
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in modes:
        pts = [(p, epoch_s(r["summary"])) for p in nps
               for r in [find(runs, platform, model, p, m)] if r and "summary" in r]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=m)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("ranks")
    ax.set_ylabel("simulated seconds per epoch")
    ax.set_title(f"{model} on {platform}")
    ax.legend(fontsize=8)
    name = f"epoch-{platform}-{model}.png"
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=90)
    plt.close(fig)
    return name


def findings(runs, platform, model, modes, nps):
    """Sentences a user can act on, from the numbers: the fastest mode per rank count and
    whether a mode's epoch stops shrinking as ranks grow (it saturates)."""
    lines = []
    for p in nps:
        done = [(epoch_s(r["summary"]), m) for m in modes
                for r in [find(runs, platform, model, p, m)] if r and "summary" in r]
        if done:
            best = min(done)
            lines.append(f"at np = {p} {best[1]} is fastest ({best[0]:.3g} s per epoch)")
    for m in modes:
        pts = [(p, epoch_s(r["summary"])) for p in nps
               for r in [find(runs, platform, model, p, m)] if r and "summary" in r]
        worse = [(a, b) for a, b in zip(pts, pts[1:]) if b[1] > a[1]]
        if worse:
            (p0, t0), (p1, t1) = worse[0]
            lines.append(f"{m} saturates: from {p0} to {p1} ranks its epoch grows from "
                         f"{t0:.3g} s to {t1:.3g} s")
    diverged = [str(p) for m in modes for p in nps
                for r in [find(runs, platform, model, p, m)] if r and r["diverged"]]
    diverged_modes = sorted({m for m in modes for p in nps
                             for r in [find(runs, platform, model, p, m)] if r and r["diverged"]})
    if diverged:
        lines.append(f"{', '.join(diverged_modes)} diverged at np = {', '.join(diverged)} "
                     "with the config's learning rate (status 3: more workers, staler "
                     "gradients)")
    return f"- **{model}, {platform}**: " + "; ".join(lines) + "." if lines else ""


def main(out):
    target = float(os.environ.get("TARGET_LOSS", "0.9"))
    runs = load_runs(out)
    platforms = sorted({r["platform"] for r in runs})
    models = sorted({r["model"] for r in runs}, key=lambda m: m != "softmax")
    modes = list(dict.fromkeys(r["mode"] for r in runs))
    nps = sorted({r["np"] for r in runs})
    md = ["# Scale study: gdmpi-sim on simulated clusters", "",
          "Made by `make scale-study` (scripts/scale-study.sh). Every time below is simulated "
          "(SimGrid SMPI, scripts/sim-run); hosts compute at this machine's calibrated speed "
          "(sim/platforms/this-machine.env). ps4: ps with 4 servers; ps-async has one. "
          "See docs/scaling.md for what the simulator is validated against.", "",
          "## Findings", ""]
    for pf in platforms:
        for model in models:
            md.append(findings(runs, pf, model, modes, nps))
    for pf in platforms:
        for model in models:
            md += ["", f"## {model} on {pf}", "",
                   f"![epoch time]({plot(runs, out, pf, model, modes, nps)})", "",
                   "Simulated seconds per epoch:", "",
                   table(runs, pf, model, modes, nps, lambda s: f"{epoch_s(s):.4g}"), "",
                   "MB sent per epoch, a worker's mean / the busiest rank's:", "",
                   table(runs, pf, model, modes, nps, mb_per_epoch), "",
                   "Validation loss after the last epoch:", "",
                   table(runs, pf, model, modes, nps, lambda s: f"{s['final']['val_loss']:.4f}")]
            md += ["", f"Simulated seconds to a validation loss of at most {target} ('-': not "
                   "within the epochs run):", "",
                   table_runs(runs, pf, model, modes, nps,
                              lambda r: fmt(time_to_target(out, r, target)))]
            md += ["", "allreduce: simulated comm per step against the alpha-beta estimate:", "",
                   "| np | simulated ms | alpha-beta ms | ratio |", "|---:|---:|---:|---:|"]
            for p in nps:
                r = find(runs, pf, model, p, "allreduce")
                if r and "summary" in r:
                    s = r["summary"]
                    sim, est = comm_per_step(s), alpha_beta(pf, p, s["model"]["parameters"])
                    md.append(f"| {p} | {sim * 1e3:.4g} | {est * 1e3:.4g} | {sim / est:.2f} |")
            md += ["", "ps-async staleness (server updates between a worker's read and its "
                   "push):", "", "| np | mean | max | histogram |", "|---:|---:|---:|---|"]
            for p in nps:
                r = find(runs, pf, model, p, "ps-async")
                st = r["summary"].get("ps", {}).get("staleness") if r and "summary" in r else None
                if st:
                    md.append(f"| {p} | {st['mean']:.3g} | {st['max']:.0f} | "
                              f"{' '.join(str(int(h)) for h in st['histogram'])} |")
    md += ["", "## The cost of simulating it here", "",
           "| np | wall s (max over runs) | peak MiB (max over runs) |", "|---:|---:|---:|"]
    for p in nps:
        at = [r for r in runs if r["np"] == p and r["wall"] is not None]
        if at:
            md.append(f"| {p} | {max(r['wall'] for r in at):.1f} | "
                      f"{max(r['rss_mib'] for r in at):.0f} |")
    open(os.path.join(out, "report.md"), "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/scale-study")
