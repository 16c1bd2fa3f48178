"""Cross-checks molplay's conformer RMSD (heavy atoms, best proper superposition over the graph's
equivalent atom orders) against RDKit's GetBestRMS, on the file `molplay conformers --details`
writes. Outside the product: needs `pip install rdkit`.

    python tests/bench/conformer_rmsd_check.py details.json
"""
import json
import sys

from rdkit import Chem
from rdkit.Chem import rdMolAlign
from rdkit.Geometry import Point3D

ORDERS = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}


def molecule(elements, bonds, frames):
    m = Chem.RWMol()
    for e in elements:
        a = Chem.Atom(e)
        a.SetNoImplicit(True)
        m.AddAtom(a)
    for i, j, o in bonds:
        m.AddBond(int(i), int(j), ORDERS.get(int(o), Chem.BondType.SINGLE))
    m = m.GetMol()
    m.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(m)
    for x in frames:
        c = Chem.Conformer(len(elements))
        for k in range(len(elements)):
            c.SetAtomPosition(k, Point3D(*x[3 * k:3 * k + 3]))
        m.AddConformer(c, assignId=True)
    heavy = Chem.RemoveHs(m, sanitize=False)
    heavy.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(heavy)
    return heavy


def main(path):
    d = json.load(open(path))
    diffs, skipped = [], 0
    for mol in d["molecules"]:
        if sum(e != "H" for e in mol["elements"]) < 3:
            skipped += 1  # molplay then takes every atom; RDKit's heavy-atom RMSD does not
            continue
        for name, o in mol["objectives"].items():
            m = molecule(mol["elements"], mol["bonds"], [mol["reference"]] + o["conformers"])
            ref = Chem.Mol(m, confId=0)
            for k, ours in enumerate(o["rmsd"]):
                probe = Chem.Mol(m, confId=k + 1)
                theirs = rdMolAlign.GetBestRMS(probe, ref, prbId=k + 1, refId=0)
                diffs.append((abs(theirs - ours), ours, theirs, mol["index"], name))
    diffs.sort(reverse=True)
    n = len(diffs)
    close = sum(1 for x in diffs if x[0] < 1e-3)
    print(f"{n} conformers compared ({skipped} molecules with < 3 heavy atoms skipped): {close} within 1e-3 Å of RDKit's GetBestRMS; largest gaps:")
    for gap, ours, theirs, idx, name in diffs[:5]:
        print(f"  molecule {idx} ({name}): molplay {ours:.4f}, RDKit {theirs:.4f}")
    return 0 if close == n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
