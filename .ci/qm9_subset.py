#!/usr/bin/env python3
"""Rebuilds www/data/qm9_subset.xyz, the QM9 subset bundled with molplay, from the PyPI wheel
`qm9pack` (MIT, by the dataset's author; its CSVs hold SMILES, elements, B3LYP/6-31G(2df,p)
XYZ coordinates in Å and Mulliken charges for 130 831 molecules). Standard library only.

    python3 .ci/qm9_subset.py [--wheel qm9pack-1.0.3-py3-none-any.whl] [--count 3000] [--seed 0]

Without --wheel it runs `pip download qm9pack==1.0.3 --no-deps`. Molecules with at least 4
atoms are drawn uniformly without replacement with Python's Mersenne Twister seeded by --seed,
and written in QM9 index order as extended XYZ: species, position (Å, 5 decimals), Mulliken
charge (e, 4 decimals); the comment line holds the QM9 index and the SMILES. Same wheel, same
seed, same count -> the same bytes.
"""
import argparse, csv, io, json, os, random, subprocess, sys, tempfile, zipfile

VERSION = "1.0.3"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "..", "www", "data", "qm9_subset.xyz"))
    args = ap.parse_args()
    wheel = args.wheel
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", f"qm9pack=={VERSION}", "--no-deps", "-q", "-d", tmp], check=True)
        wheel = os.path.join(tmp, f"qm9pack-{VERSION}-py3-none-any.whl")
    csv.field_size_limit(1 << 24)
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for part in (1, 2, 3):
            with z.open(f"qm9pack/data/qm9_part{part}.csv") as f:
                for r in csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")):
                    if int(r["N_atoms"]) >= 4:
                        rows.append(r)
    rows.sort(key=lambda r: int(r["Index"]))
    picked = sorted(random.Random(args.seed).sample(range(len(rows)), args.count))
    out = []
    for i in picked:
        r = rows[i]
        elements = json.loads(r["Elements"].replace("'", '"'))
        xyz = json.loads(r["XYZ_Ang"])
        charges = json.loads(r["Mulliken_pop"])
        assert len(elements) == len(xyz) == len(charges) == int(r["N_atoms"]), r["Index"]
        out.append(str(len(elements)))
        out.append(f'Properties=species:S:1:pos:R:3:charge:R:1 qm9_index={r["Index"]} smiles="{r["SMILES"]}"')
        for e, p, q in zip(elements, xyz, charges):
            out.append(f"{e} {p[0]:.5f} {p[1]:.5f} {p[2]:.5f} {q:.4f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"{args.count} of {len(rows)} QM9 molecules with >= 4 atoms -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
