#!/usr/bin/env python3
"""Cross-check of molplay's validity and uniqueness against RDKit (issue 17).

Reads the per-molecule file of `molplay generate-molecules --details FILE` (elements, positions,
molplay's bonds, verdict and canonical name), builds each molecule in RDKit exactly as EDM's
`qm9/rdkit_functions.py` does (atoms, then every bond molplay inferred from distances with its
order; `build_molecule`), and applies EDM's test: valid when `Chem.SanitizeMol` succeeds, named
by the canonical SMILES of the largest fragment (`GetMolFrags`, the first of the largest).

Checks, over every molecule:
  * validity: molplay's verdict equals RDKit's;
  * naming: among the valid ones, two molecules share molplay's name exactly when they share
    RDKit's canonical SMILES (so both count the same unique molecules).
The bonds are molplay's (the same distance tables as EDM); `--check-bonds` recomputes them with
EDM's table here too, from the positions.

Not part of the product (RDKit is not a dependency of the page or CLI). Usage:
    python3 -m venv /tmp/rdkit && /tmp/rdkit/bin/pip install rdkit
    molplay generate-molecules --model M --samples 1000 --details gen.json
    /tmp/rdkit/bin/python tests/bench/rdkit_check.py gen.json [--json]
"""

import json
import sys

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

BOND = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}

# EDM's bond_analysis tables (pm) and margins, for --check-bonds
ELEMENTS = ["H", "C", "N", "O", "F"]
SINGLE = [[74, 109, 101, 96, 92], [109, 154, 147, 143, 135], [101, 147, 145, 140, 136], [96, 143, 140, 148, 142], [92, 135, 136, 142, 142]]
DOUBLE = [[0] * 5, [0, 134, 129, 120, 0], [0, 129, 125, 121, 0], [0, 120, 121, 121, 0], [0] * 5]
TRIPLE = [[0] * 5, [0, 120, 116, 113, 0], [0, 116, 110, 0, 0], [0, 113, 0, 0, 0], [0] * 5]


def edm_order(a, b, dist):
    d = 100.0 * dist
    if d < SINGLE[a][b] + 10:
        if DOUBLE[a][b] and d < DOUBLE[a][b] + 5:
            if TRIPLE[a][b] and d < TRIPLE[a][b] + 3:
                return 3
            return 2
        return 1
    return 0


def edm_bonds(elements, positions):
    idx = [ELEMENTS.index(e) for e in elements]
    out = []
    for i in range(len(idx)):
        for j in range(i + 1, len(idx)):
            d = sum((positions[3 * i + k] - positions[3 * j + k]) ** 2 for k in range(3)) ** 0.5
            o = edm_order(idx[i], idx[j], d)
            if o:
                out.append([i, j, o])
    return out


def rdkit_name(elements, bonds):
    """EDM's build_molecule + mol2smiles on the largest fragment; None when invalid."""
    mol = Chem.RWMol()
    for e in elements:
        mol.AddAtom(Chem.Atom(e))
    for i, j, o in bonds:
        mol.AddBond(int(i), int(j), BOND[o])
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several kinds (valence, kekulisation)
        return None
    frags = Chem.rdmolops.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    largest = max(frags, default=mol, key=lambda m: m.GetNumAtoms())
    try:
        Chem.SanitizeMol(largest)
    except Exception:
        return None
    return Chem.MolToSmiles(largest)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    molecules = json.load(open(args[0]))
    disagree_valid, bond_mismatch = [], 0
    names = []  # (molplay key, RDKit SMILES) of molecules both call valid
    for k, m in enumerate(molecules):
        if "--check-bonds" in sys.argv and sorted(map(list, m["bonds"])) != sorted(edm_bonds(m["elements"], m["positions"])):
            bond_mismatch += 1
        smiles = rdkit_name(m["elements"], m["bonds"])
        if (smiles is not None) != m["valid"]:
            disagree_valid.append({"molecule": k, "molplay": m["valid"], "rdkit": smiles})
        elif smiles is not None:
            names.append((m["key"], smiles))
    by_key, by_smiles = {}, {}
    for key, smiles in names:
        by_key.setdefault(key, set()).add(smiles)
        by_smiles.setdefault(smiles, set()).add(key)
    merged = {k: sorted(v) for k, v in by_key.items() if len(v) > 1}  # molplay joins what RDKit splits
    split = {s: sorted(v) for s, v in by_smiles.items() if len(v) > 1}  # molplay splits what RDKit joins
    n = len(molecules)
    valid_rdkit = sum(1 for m in molecules if rdkit_name(m["elements"], m["bonds"]) is not None)
    report = {
        "molecules": n,
        "valid_molplay": sum(m["valid"] for m in molecules),
        "valid_rdkit": valid_rdkit,
        "validity_disagreements": len(disagree_valid),
        "unique_molplay": len(by_key),
        "unique_rdkit": len(by_smiles),
        "names_merged": len(merged),
        "names_split": len(split),
        "bond_mismatches": bond_mismatch if "--check-bonds" in sys.argv else None,
        "examples": {"validity": disagree_valid[:5], "merged": list(merged.items())[:5], "split": list(split.items())[:5]},
    }
    if "--json" in sys.argv:
        print(json.dumps(report))
    else:
        print(f"{n} molecules: valid molplay {report['valid_molplay']}, RDKit {valid_rdkit}; {len(disagree_valid)} validity disagreements")
        print(f"unique (among molecules both call valid): molplay {len(by_key)}, RDKit {len(by_smiles)}; names merged {len(merged)}, split {len(split)}")
        if report["bond_mismatches"] is not None:
            print(f"bonds differing from EDM's table recomputed here: {bond_mismatch}")
        for kind, ex in report["examples"].items():
            if ex:
                print(f"  {kind}: {ex}")
    agree = not disagree_valid and not merged and not split and not bond_mismatch
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
