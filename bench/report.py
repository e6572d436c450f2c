#!/usr/bin/python3
"""Renders a Strata benchmark result file (JSON) as Markdown and PNG plots.

    bench/report.py RESULTS.json [OUT_DIR]

Writes OUT_DIR/<stem>.md (default OUT_DIR: the JSON file's directory) and one
PNG per entry of "plots", drawn by gnuplot (clustered bars). The benchmark
tools (`strata bench ops`, `strata bench cow`) write the JSON and call this.

Schema (every key but "title" optional):
  {"title": str, "command": str, "machine": {str: str}, "started": str,
   "notes": [str],
   "tables": [{"title": str, "columns": [str], "rows": [[str|number]],
               "notes": [str]}],
   "plots": [{"file": "x.png", "title": str, "ylabel": str, "logy": bool,
              "categories": [str],
              "series": [{"name": str, "values": [number|null]}]}]}
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def cell(v):
    if isinstance(v, float):
        if v != v:  # NaN
            return "-"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "-" if v is None else str(v)


def markdown(res):
    out = [f"# {res['title']}", ""]
    if res.get("command"):
        out += [f"Command: `{res['command']}`", ""]
    if res.get("started"):
        out += [f"Started: {res['started']}", ""]
    machine = res.get("machine") or {}
    if machine:
        out += ["Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), ""]
    for t in res.get("tables", []):
        out += [f"## {t['title']}", ""]
        cols = t["columns"]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for row in t["rows"]:
            out.append("| " + " | ".join(cell(v) for v in row) + " |")
        out.append("")
        out += [f"- {n}" for n in t.get("notes", [])]
        if t.get("notes"):
            out.append("")
    for p in res.get("plots", []):
        out += [f"![{p['title']}]({p['file']})", ""]
    out += [f"- {n}" for n in res.get("notes", [])]
    return "\n".join(out).rstrip() + "\n"


def quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def plot(p, out_dir, tmp):
    """Clustered bar chart of p's series over its categories."""
    data = os.path.join(tmp, p["file"] + ".dat")
    with open(data, "w") as f:
        f.write("category " + " ".join(quote(s["name"]) for s in p["series"]) + "\n")
        for i, cat in enumerate(p["categories"]):
            vals = []
            for s in p["series"]:
                v = s["values"][i] if i < len(s["values"]) else None
                vals.append("NaN" if v is None else repr(float(v)))
            f.write(quote(cat) + " " + " ".join(vals) + "\n")
    n = len(p["series"])
    script = [
        "set terminal pngcairo size 1100,520 noenhanced font ',10'",
        f"set output {quote(os.path.join(out_dir, p['file']))}",
        f"set title {quote(p['title'])}",
        f"set ylabel {quote(p.get('ylabel', ''))}",
        "set style data histogram",
        "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1",
        "set key top left",
        "set grid ytics",
        "set xtics rotate by -30",
        "set datafile missing 'NaN'",
        "set yrange [0:*]" if not p.get("logy") else "set logscale y",
    ]
    cols = ", ".join(
        f"{quote(data)} using {i + 2}:xtic(1) title columnheader({i + 2})" if i == 0
        else f"'' using {i + 2} title columnheader({i + 2})" for i in range(n))
    script.append("plot " + cols)
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    with open(path) as f:
        res = json.load(f)
    out_dir = argv[2] if len(argv) > 2 else (os.path.dirname(path) or ".")
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    md = os.path.join(out_dir, stem + ".md")
    with open(md, "w") as f:
        f.write(markdown(res))
    print(md)
    if res.get("plots") and shutil.which("gnuplot") is None:
        print("report.py: gnuplot not found; no plots (scripts/install-deps.sh installs it)",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for p in res.get("plots", []):
            plot(p, out_dir, tmp)
            print(os.path.join(out_dir, p["file"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
