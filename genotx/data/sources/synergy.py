"""Drug-combination synergy screens in their published formats (your local copies).

No registry package ships a measured synergy set (every synergy package ships simulated data only),
so each source below is a user's file: point it at your copy with
``genotx.data.use_local(id, {member: path})`` or ``GENOTX_SOURCE_<ID>=<folder holding the files>``.
The task ``drug_combination`` reads them (``load(source=id)``); cell lines are matched to the GDSC2
mutation/CNV profiles by name (upper-case letters and digits), drugs get their structure from the
SMILES member (or, where absent, from the GDSC2 drug table by name).

* ``oneil_deepsynergy``: O'Neil et al. (2016) as DeepSynergy used it (Preuer et al. 2018):
  ``labels.csv`` with an unnamed id column and ``drug_a_name, drug_b_name, cell_line, synergy, fold``
  (Loewe synergy from Combenefit, 23,052 rows, 38 drugs x 39 cell lines, DeepSynergy's 5 folds);
  optional ``smiles.csv`` (``drug``, ``smiles``) for the drug structures.
* ``drugcomb``: the DrugComb portal's summary table (Zheng et al. 2021, ``summary_v_1_5.csv``:
  ``block_id, drug_row, drug_col, cell_line_name, study_name, ..., synergy_zip, synergy_loewe,
  synergy_hsa, synergy_bliss, ...``) and its drug table (``drugs.csv``: ``dname``, ``smiles``).
* ``nci_almanac``: NCI-ALMANAC (Holbeck et al. 2017) ``ComboDrugGrowth_Nov2017.csv`` (one row per
  well: ``NSC1, CONC1, NSC2, CONC2, PERCENTGROWTH, EXPECTEDGROWTH, SCORE, CELLNAME, ...``; the
  ComboScore of a pair in a cell line is the sum of the well ``SCORE`` over its dose grid, replicate
  plates averaged) and ``almanac_smiles.csv`` (``NSC``, ``SMILES``; e.g. from the DTP compound set).
"""

from __future__ import annotations

from genotx.data.source import Source, declare

__all__ = ["ONEIL_DEEPSYNERGY", "DRUGCOMB", "NCI_ALMANAC"]


def _user_files(id_: str, *, members: dict[str, str], notes: str, **fields) -> Source:
    """A real source that ships in no package: the user's own copies of the published files."""
    local = f"Ships in no registry package: point it at your files with use_local({id_!r}, {{...}}) or GENOTX_SOURCE_{id_.upper()}."
    return declare(Source(id=id_, kind="real", package=None, members=members, notes=f"{local} {notes}", **fields))


ONEIL_DEEPSYNERGY = _user_files(
    "oneil_deepsynergy",
    title="O'Neil 2016 drug-combination screen, Loewe synergy as DeepSynergy used it (38 drugs x 39 cell lines)",
    licence="the authors' terms (DeepSynergy's data page: academic use)",
    citation="O'Neil et al. (2016) Mol Cancer Ther 15:1155; Preuer et al. (2018) Bioinformatics 34:1538 (DeepSynergy)",
    origin="http://www.bioinf.jku.at/software/DeepSynergy/labels.csv",
    members={"labels": "labels.csv", "smiles": "smiles.csv"},
    notes="'smiles' (columns drug, smiles) is optional with use_local: without it drug names are looked up in the "
    "GDSC2 SMILES table.",
)

DRUGCOMB = _user_files(
    "drugcomb",
    title="DrugComb summary table: ZIP/Loewe/HSA/Bliss synergy of drug pairs in cell lines (v1.5), and its drug table",
    licence="DrugComb terms (CC BY-NC-SA 4.0 per the portal)",
    citation="Zheng et al. (2021) Nucleic Acids Res 49:W174 (DrugComb update); Zagidullin et al. (2019) NAR 47:W43",
    origin="https://drugcomb.fimm.fi/jing/summary_v_1_5.csv; drug table from https://api.drugcomb.org/drugs",
    members={"summary": "summary_v_1_5.csv", "drugs": "drugs.csv"},
    notes="drugs.csv needs columns dname and smiles.",
)

NCI_ALMANAC = _user_files(
    "nci_almanac",
    title="NCI-ALMANAC well-level growth of drug pairs in the NCI-60 cell lines (ComboScore)",
    licence="public domain (US NCI DTP)",
    citation="Holbeck et al. (2017) Cancer Res 77:3564",
    origin="https://wiki.nci.nih.gov/display/NCIDTPdata/NCI-ALMANAC (ComboDrugGrowth_Nov2017.zip)",
    members={"growth": "ComboDrugGrowth_Nov2017.csv", "smiles": "almanac_smiles.csv"},
    notes="almanac_smiles.csv needs columns NSC and SMILES.",
)
