"""Seeded semi-synthetic clinical notes that state genomic biomarkers, with character-span truth.

No labelled set of real notes with genomic markers ships offline, so notes are written from
templates over real vocabularies: a curated list of actionable variants (:data:`MARKERS`: real genes
as HGNC symbols and the variants that guide therapy), real gene symbols passed in by the caller
(e.g. the HPO gene list) for variants of uncertain significance and panel lists, and the aliases
clinicians write (HER2 for ERBB2, PD-L1 for CD274, BCR-ABL1 for the ABL1 fusion; :data:`ALIASES`).

Each note belongs to one *template family* (:data:`FAMILIES`): a writing style (a molecular
pathology report, an oncology progress note, a tumour-board summary, a referral letter...) with its
own header, sections and sentence templates for each status (positive, negative, uncertain,
historical, family). A family-history statement is a relative's result: its status is ``family``,
never the patient's. Notes carry section noise (vitals, labs, medication lists, sign-offs, gene
panel lists that are not results, non-genomic markers such as ER/PR or CEA), abbreviations (neg,
pos, hx, w/, pt), typos and upper-case sections. The truth is a list of spans per note:
``(start, end, type, normalised_id, status)`` with ``normalised_id = "GENE:variant"``.

Examples
--------
>>> notes = simulate_notes(5, random_state=0)
>>> sorted(notes.columns)
['annotations', 'document_id', 'family', 'text']
>>> doc = notes.iloc[0]
>>> all(doc.text[s:e] for s, e, *_ in doc.annotations)
True
>>> simulate_notes(5, random_state=0).text.tolist() == notes.text.tolist()
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Marker", "MARKERS", "ALIASES", "FAMILIES", "STATUSES", "KINDS", "simulate_notes", "marker_id", "RELATIONS",
           "PASSAGE_FAMILIES", "simulate_passages"]

STATUSES: tuple[str, ...] = ("positive", "negative", "uncertain", "historical", "family")
KINDS: tuple[str, ...] = ("mutation", "fusion", "copy_number", "expression", "signature")


@dataclass(frozen=True)
class Marker:
    """A biomarker: HGNC ``gene`` (or MSI / MMR / TMB), canonical ``variant``, ``kind`` and the
    ways the variant is written (``forms``)."""

    gene: str
    variant: str
    kind: str
    forms: tuple[str, ...]


def marker_id(gene: str, variant: str) -> str:
    """The normalised id of a marker.

    >>> marker_id("EGFR", "p.L858R")
    'EGFR:p.L858R'
    """
    return f"{gene}:{variant}"


def _m(gene: str, variant: str, kind: str, *forms: str) -> Marker:
    return Marker(gene, variant, kind, tuple(forms) or (variant,))


#: Curated actionable variants (real genes, real variants that guide therapy or prognosis).
MARKERS: tuple[Marker, ...] = (
    _m("EGFR", "p.L858R", "mutation", "L858R", "p.L858R", "p.Leu858Arg", "c.2573T>G (p.L858R)"),
    _m("EGFR", "exon 19 deletion", "mutation", "exon 19 deletion", "exon 19 del", "ex19del", "exon 19 in-frame deletion"),
    _m("EGFR", "p.T790M", "mutation", "T790M", "p.T790M", "p.Thr790Met"),
    _m("EGFR", "exon 20 insertion", "mutation", "exon 20 insertion", "ex20ins", "exon 20 ins"),
    _m("EGFR", "p.C797S", "mutation", "C797S", "p.Cys797Ser"),
    _m("KRAS", "p.G12C", "mutation", "G12C", "p.G12C", "p.Gly12Cys", "c.34G>T (p.G12C)"),
    _m("KRAS", "p.G12D", "mutation", "G12D", "p.G12D", "p.Gly12Asp", "c.35G>A"),
    _m("KRAS", "p.G12V", "mutation", "G12V", "p.Gly12Val", "c.35G>T"),
    _m("KRAS", "p.G13D", "mutation", "G13D", "p.Gly13Asp"),
    _m("KRAS", "p.Q61H", "mutation", "Q61H", "p.Gln61His"),
    _m("NRAS", "p.Q61K", "mutation", "Q61K", "p.Gln61Lys"),
    _m("NRAS", "p.Q61R", "mutation", "Q61R", "p.Q61R"),
    _m("HRAS", "p.Q61R", "mutation", "Q61R", "p.Gln61Arg"),
    _m("BRAF", "p.V600E", "mutation", "V600E", "p.V600E", "p.Val600Glu", "c.1799T>A (p.V600E)"),
    _m("BRAF", "p.V600K", "mutation", "V600K", "p.Val600Lys"),
    _m("PIK3CA", "p.H1047R", "mutation", "H1047R", "p.His1047Arg"),
    _m("PIK3CA", "p.E545K", "mutation", "E545K", "p.Glu545Lys"),
    _m("PIK3CA", "p.E542K", "mutation", "E542K", "p.E542K"),
    _m("IDH1", "p.R132H", "mutation", "R132H", "p.Arg132His"),
    _m("IDH1", "p.R132C", "mutation", "R132C", "p.R132C"),
    _m("IDH2", "p.R140Q", "mutation", "R140Q", "p.Arg140Gln"),
    _m("FLT3", "ITD", "mutation", "ITD", "internal tandem duplication"),
    _m("FLT3", "p.D835Y", "mutation", "D835Y", "p.Asp835Tyr"),
    _m("NPM1", "p.W288fs", "mutation", "W288fs", "p.Trp288CysfsTer12", "c.860_863dup"),
    _m("JAK2", "p.V617F", "mutation", "V617F", "p.Val617Phe"),
    _m("KIT", "p.D816V", "mutation", "D816V", "p.Asp816Val"),
    _m("KIT", "exon 11 deletion", "mutation", "exon 11 deletion", "exon 11 del"),
    _m("PDGFRA", "p.D842V", "mutation", "D842V", "p.Asp842Val"),
    _m("ABL1", "p.T315I", "mutation", "T315I", "p.Thr315Ile"),
    _m("ESR1", "p.Y537S", "mutation", "Y537S", "p.Tyr537Ser"),
    _m("ESR1", "p.D538G", "mutation", "D538G", "p.Asp538Gly"),
    _m("FGFR3", "p.S249C", "mutation", "S249C", "p.Ser249Cys"),
    _m("TP53", "p.R273H", "mutation", "R273H", "p.Arg273His"),
    _m("TP53", "p.R175H", "mutation", "R175H", "p.Arg175His"),
    _m("AKT1", "p.E17K", "mutation", "E17K", "p.Glu17Lys"),
    _m("MYD88", "p.L265P", "mutation", "L265P", "p.Leu265Pro"),
    _m("SF3B1", "p.K700E", "mutation", "K700E", "p.Lys700Glu"),
    _m("DNMT3A", "p.R882H", "mutation", "R882H", "p.Arg882His"),
    _m("POLE", "p.P286R", "mutation", "P286R", "p.Pro286Arg"),
    _m("CTNNB1", "p.S45F", "mutation", "S45F", "p.Ser45Phe"),
    _m("MET", "exon 14 skipping", "mutation", "exon 14 skipping", "exon 14 skipping mutation", "ex14 skipping"),
    _m("ERBB2", "exon 20 insertion", "mutation", "exon 20 insertion", "ex20ins"),
    _m("BRCA1", "c.68_69del", "mutation", "c.68_69delAG", "c.68_69del", "185delAG"),
    _m("BRCA2", "c.5946del", "mutation", "c.5946delT", "c.5946del", "6174delT"),
    _m("BRCA1", "mutation", "mutation", "pathogenic variant", "mutation"),
    _m("BRCA2", "mutation", "mutation", "pathogenic variant", "mutation"),
    _m("PALB2", "mutation", "mutation", "pathogenic variant", "mutation"),
    _m("STK11", "mutation", "mutation", "mutation", "loss-of-function mutation"),
    _m("ALK", "fusion", "fusion", "rearrangement", "fusion", "translocation"),
    _m("ALK", "EML4::ALK fusion", "fusion", "EML4"),
    _m("ROS1", "fusion", "fusion", "rearrangement", "fusion"),
    _m("ROS1", "CD74::ROS1 fusion", "fusion", "CD74"),
    _m("RET", "fusion", "fusion", "rearrangement", "fusion"),
    _m("RET", "KIF5B::RET fusion", "fusion", "KIF5B"),
    _m("NTRK1", "TPM3::NTRK1 fusion", "fusion", "TPM3"),
    _m("NTRK3", "ETV6::NTRK3 fusion", "fusion", "ETV6"),
    _m("NTRK1", "fusion", "fusion", "fusion", "rearrangement"),
    _m("FGFR2", "fusion", "fusion", "fusion", "rearrangement"),
    _m("ABL1", "BCR::ABL1 fusion", "fusion", "BCR"),
    _m("ERBB2", "amplification", "copy_number", "amplification", "amplified", "amp"),
    _m("MET", "amplification", "copy_number", "amplification", "amplified", "amp"),
    _m("EGFR", "amplification", "copy_number", "amplification", "amplified"),
    _m("MYCN", "amplification", "copy_number", "amplification", "amplified"),
    _m("CCND1", "amplification", "copy_number", "amplification", "amp"),
    _m("MDM2", "amplification", "copy_number", "amplification", "amplified"),
    _m("CDKN2A", "deletion", "copy_number", "homozygous deletion", "deletion", "loss"),
    _m("PTEN", "deletion", "copy_number", "loss", "deletion"),
    _m("CD274", "TPS", "expression", "TPS"),
    _m("CD274", "CPS", "expression", "CPS"),
    _m("ERBB2", "IHC", "expression", "IHC"),
    _m("MSI", "high", "signature", "MSI-H", "MSI-high", "microsatellite instability-high", "high microsatellite instability"),
    _m("MSI", "stable", "signature", "MSS", "microsatellite stable", "MSI-stable"),
    _m("MSI", "low", "signature", "MSI-L", "MSI-low"),
    _m("MMR", "deficient", "signature", "dMMR", "MMR-deficient", "mismatch repair deficient", "deficient mismatch repair"),
    _m("MMR", "proficient", "signature", "pMMR", "MMR-proficient", "mismatch repair proficient", "proficient mismatch repair"),
    _m("TMB", "high", "signature", "TMB-high", "TMB-H", "high tumor mutational burden", "high TMB"),
    _m("TMB", "low", "signature", "TMB-low", "low tumor mutational burden", "TMB-L"),
    _m("TMB", "value", "signature", "TMB"),
)

#: HGNC symbol -> aliases clinicians write (the symbol itself is always allowed).
ALIASES: dict[str, tuple[str, ...]] = {
    "ERBB2": ("HER2", "HER-2", "HER2/neu", "ERBB2"),
    "CD274": ("PD-L1", "PDL1", "CD274"),
    "KIT": ("KIT", "c-KIT", "CD117"),
    "MET": ("MET", "c-MET"),
    "TP53": ("TP53", "p53"),
    "CDKN2A": ("CDKN2A", "p16"),
    "EGFR": ("EGFR", "HER1"),
    "KMT2A": ("KMT2A", "MLL"),
}

_RELATIVES = ("mother", "father", "sister", "brother", "maternal aunt", "paternal aunt", "maternal grandmother",
              "paternal uncle", "daughter", "son", "first cousin", "maternal uncle")
_DRUGS = ("osimertinib", "sotorasib", "dabrafenib plus trametinib", "alectinib", "crizotinib", "selpercatinib",
          "larotrectinib", "trastuzumab", "trastuzumab deruxtecan", "alpelisib", "olaparib", "pembrolizumab",
          "ivosidenib", "gilteritinib", "imatinib", "capmatinib", "elacestrant", "erdafitinib", "carboplatin/pemetrexed")
_DIAGNOSES = ("lung adenocarcinoma", "non-small cell lung cancer", "metastatic colorectal adenocarcinoma",
              "invasive ductal carcinoma of the breast", "melanoma", "acute myeloid leukemia", "gastrointestinal stromal tumor",
              "high-grade serous ovarian carcinoma", "pancreatic ductal adenocarcinoma", "cholangiocarcinoma",
              "urothelial carcinoma", "endometrial carcinoma", "glioma", "chronic myeloid leukemia", "thyroid carcinoma")
_ASSAYS = ("FoundationOne CDx", "Oncomine Comprehensive Assay", "our 52-gene NGS panel", "targeted NGS", "Guardant360 (ctDNA)",
           "real-time PCR", "FISH", "IHC", "whole exome sequencing", "the hotspot panel", "MSK-IMPACT", "Tempus xT")
_NON_GENOMIC = ("ER positive (90%)", "PR negative", "CEA 4.2 ng/mL", "CA 19-9 38 U/mL", "Ki-67 30%", "ECOG 1", "pT2 pN1a",
                "CA-125 210", "PSA 0.4", "LDH 312 U/L", "TTF-1 positive", "CK7+/CK20-", "p40 negative", "AFP within normal limits")
_NOISE = (
    "BP {bp}/{bp2}, HR {hr}, afebrile.", "Hgb {hgb} g/dL, plt {plt}K, Cr 0.{cr} mg/dL.", "Weight stable at {kg} kg.",
    "She reports mild fatigue and decreased appetite.", "He denies fevers, chills or night sweats.",
    "Performance status remains good.", "No nausea or vomiting.", "Follow up in {weeks} weeks with repeat imaging.",
    "CT chest/abdomen/pelvis shows interval decrease of the dominant lesion.", "Tumor cellularity estimated at {pct}%.",
    "DNA quantity and quality were adequate.", "Specimen: core biopsy, {site}.", "Medications: metformin, lisinopril, omeprazole.",
    "Allergies: NKDA.", "Discussed goals of care with patient and family.", "Labs reviewed.", "Pain controlled on current regimen.",
    "The patient was counselled regarding the results.", "Page {page} of 3", "Electronically signed by: [redacted], MD",
    "Consent obtained for germline testing.", "Smoking history: {packs} pack-years, quit {quit} years ago.",
)
_SITES = ("right upper lobe", "liver", "left breast", "sigmoid colon", "bone marrow", "lymph node", "pleural fluid")

# Families: header, sections, status -> sentence templates ({M} = the marker mention). Statement
# templates are what a split holds out; the vocabulary (markers, genes) is shared.
FAMILIES: dict[str, dict] = {
    "ngs_report_a": {
        "header": "MOLECULAR PATHOLOGY REPORT", "sections": ("CLINICAL INDICATION", "RESULTS", "INTERPRETATION", "COMMENT"),
        "positive": ("{M} detected (VAF {vaf}%).", "Pathogenic variant identified: {M}.", "Tier I alteration: {M}."),
        "negative": ("{M}: not detected.", "No {M} identified.", "{M} - negative."),
        "uncertain": ("{M} detected at {vaf2}% VAF, below the validated limit; significance uncertain.",
                      "Possible {M}; confirmation by an orthogonal method is recommended."),
        "historical": ("Previously reported {M} (outside lab, {year}).",),
        "family": ("Family history: {rel} carries {M}.",),
    },
    "ngs_report_b": {
        "header": "COMPREHENSIVE GENOMIC PROFILING", "sections": ("SPECIMEN", "GENOMIC FINDINGS", "BIOMARKER FINDINGS", "NOTES"),
        "positive": ("{M} - pathogenic.", "Genomic alteration: {M}.", "{M} (clinically significant)."),
        "negative": ("{M}: negative.", "Negative for {M}.", "{M} not identified in this sample."),
        "uncertain": ("{M} - variant of uncertain significance (VUS).", "{M}: equivocal result."),
        "historical": ("{M} documented on prior testing ({year}).",),
        "family": ("Relevant family history: {M} in the patient's {rel}.",),
    },
    "pcr_hotspot": {
        "header": "MUTATION ANALYSIS (HOTSPOT PCR)", "sections": ("INDICATION", "RESULT", "METHOD"),
        "positive": ("Result: {M} POSITIVE.", "{M} was detected.", "Mutation detected: {M}."),
        "negative": ("Result: {M} not detected.", "No {M} was detected.", "{M}: wild-type."),
        "uncertain": ("Result for {M} is indeterminate due to low DNA yield.",),
        "historical": ("Prior PCR ({year}) showed {M}.",),
        "family": ("Cascade testing requested: the {rel} is a known carrier of {M}.",),
    },
    "fish_ihc": {
        "header": "SURGICAL PATHOLOGY - ANCILLARY STUDIES", "sections": ("DIAGNOSIS", "ANCILLARY STUDIES", "COMMENT"),
        "positive": ("{M} is present by FISH.", "{M} identified by IHC.", "Ancillary testing shows {M}."),
        "negative": ("{M}: not present.", "{M} is absent.", "No evidence of {M}."),
        "uncertain": ("{M} equivocal; reflex testing sent.", "Results are borderline for {M}."),
        "historical": ("The original 20{yy} biopsy showed {M}.",),
        "family": ("Of note, {M} was reported in her {rel}.",),
    },
    "progress_note_a": {
        "header": "ONCOLOGY PROGRESS NOTE", "sections": ("HPI", "INTERVAL HISTORY", "ASSESSMENT AND PLAN"),
        "positive": ("Her tumor harbors {M}.", "Known {M}, currently on {drug}.", "Tumor is positive for {M}."),
        "negative": ("Tumor is negative for {M}.", "Workup showed no {M}.", "She does not have {M}."),
        "uncertain": ("There is concern for {M}; awaiting confirmatory testing.", "{M} cannot be excluded."),
        "historical": ("History of {M} treated with {drug} in {year}.",),
        "family": ("Family hx significant for {M} in her {rel}.",),
    },
    "progress_note_b": {
        "header": "Clinic Note - Medical Oncology", "sections": ("Subjective", "Objective", "Assessment", "Plan"),
        "positive": ("Pt has {M} per NGS.", "NGS revealed {M}.", "{M} confirmed on tissue."),
        "negative": ("NGS neg for {M}.", "{M} neg.", "Testing for {M} was negative."),
        "uncertain": ("Questionable {M} on liquid biopsy, will repeat.", "r/o {M}."),
        "historical": ("Hx of {M} noted on biopsy in {year}.",),
        "family": ("FHx: {rel} w/ {M}.",),
    },
    "tumour_board": {
        "header": "MULTIDISCIPLINARY TUMOR BOARD SUMMARY", "sections": ("CASE", "PATHOLOGY", "MOLECULAR", "RECOMMENDATION"),
        "positive": ("Molecular profile notable for {M}.", "Actionable finding: {M}.", "The board noted {M}."),
        "negative": ("No actionable alterations; specifically no {M}.", "{M} was not found.", "Molecular testing excluded {M}."),
        "uncertain": ("The significance of {M} remains unclear.", "{M} is suspected but not confirmed."),
        "historical": ("{M} had been identified at initial diagnosis in {year}.",),
        "family": ("Family history includes a {rel} with {M}.",),
    },
    "discharge_summary": {
        "header": "DISCHARGE SUMMARY", "sections": ("HOSPITAL COURSE", "PERTINENT RESULTS", "DISCHARGE PLAN"),
        "positive": ("Biopsy returned with {M}.", "Found to have {M}; {drug} started.", "Molecular results: {M}."),
        "negative": ("Molecular results negative for {M}.", "{M} was ruled out.", "Free of {M} on repeat testing."),
        "uncertain": ("Possible {M}, pending final report.", "Probable {M} per preliminary results."),
        "historical": ("Past history of {M} (diagnosed {year}).",),
        "family": ("Her {rel} has a history of {M}.",),
    },
    "referral_letter": {
        "header": "Dear Colleague,", "sections": ("", "", ""),
        "positive": ("Testing has shown {M}.", "I am writing about this patient with {M}.", "Her cancer carries {M}."),
        "negative": ("Testing did not show {M}.", "There is no {M}.", "We could not demonstrate {M}."),
        "uncertain": ("It is unclear whether she has {M}; further testing is planned.", "She may have {M}."),
        "historical": ("She was previously found to have {M} in {year}.",),
        "family": ("Her {rel} was found to carry {M}.",),
    },
    "genetics_consult": {
        "header": "CANCER GENETICS CONSULTATION", "sections": ("REASON FOR REFERRAL", "FAMILY HISTORY", "GENETIC TESTING", "IMPRESSION"),
        "positive": ("Germline testing identified {M}.", "She is heterozygous for {M}.", "Result: {M} (pathogenic)."),
        "negative": ("Germline testing was negative for {M}.", "No germline {M} was found.", "She tested negative for {M}."),
        "uncertain": ("A {M} of uncertain significance was reported.", "Result: {M}, classified as VUS."),
        "historical": ("She had tested positive for {M} years ago at another center.",),
        "family": ("Her {rel} tested positive for {M}.", "There is a known familial {M} ({rel})."),
    },
    "liquid_biopsy": {
        "header": "CIRCULATING TUMOR DNA REPORT", "sections": ("PATIENT", "ALTERATIONS", "ADDITIONAL FINDINGS"),
        "positive": ("{M} detected in cfDNA at {vaf}%.", "ctDNA shows {M}.", "Alteration: {M}, plasma VAF {vaf}%."),
        "negative": ("{M}: none detected in plasma.", "No {M} was observed in cfDNA.", "{M} absent in plasma."),
        "uncertain": ("{M} at {vaf2}% may reflect clonal hematopoiesis.", "{M} detected at very low level; uncertain."),
        "historical": ("Tissue testing in {year} had shown {M}.",),
        "family": ("Family history: {rel} with {M}.",),
    },
    "heme_path": {
        "header": "HEMATOPATHOLOGY CONSULTATION", "sections": ("BONE MARROW", "FLOW CYTOMETRY", "MOLECULAR STUDIES"),
        "positive": ("Molecular studies demonstrate {M}.", "{M} positive.", "{M} is detected by PCR."),
        "negative": ("{M} negative.", "Molecular studies are negative for {M}.", "{M} not detected by PCR."),
        "uncertain": ("{M} result is borderline.", "Low-level {M} of undetermined significance."),
        "historical": ("At diagnosis ({year}) {M} was present.",),
        "family": ("The patient's {rel} had a hematologic malignancy with {M}.",),
    },
    # families below are written in other styles; a held-out part of them tests phrasings never seen in training
    "brief_summary": {
        "header": "Problem list", "sections": ("Problems", "Notes"),
        "positive": ("- {M} (+)", "- {M}: present", "- {M} positive"),
        "negative": ("- {M} (-)", "- {M}: absent", "- {M} negative"),
        "uncertain": ("- {M} (?)", "- {M}: pending"),
        "historical": ("- h/o {M}",),
        "family": ("- FHx {M} ({rel})",),
    },
    "narrative_a": {
        "header": "HISTORY AND PHYSICAL", "sections": ("HISTORY OF PRESENT ILLNESS", "PAST MEDICAL HISTORY", "SOCIAL HISTORY", "PLAN"),
        "positive": ("Subsequent genotyping demonstrated {M}, and she was started on {drug}.", "Sequencing was notable for {M}.",
                     "The tumor was found to harbor {M}."),
        "negative": ("Sequencing was notable for the absence of {M}.", "Genotyping did not reveal {M}.",
                     "Testing for {M} came back negative."),
        "uncertain": ("Genotyping suggested {M} but the sample was suboptimal.", "A report raised the possibility of {M}."),
        "historical": ("Remote history of {M} on an old specimen from {year}.",),
        "family": ("Family history is notable for a {rel} with {M}.",),
    },
    "narrative_b": {
        "header": "CONSULT NOTE", "sections": ("REASON FOR CONSULTATION", "HISTORY", "RECOMMENDATIONS"),
        "positive": ("We reviewed the outside NGS which showed {M}.", "{M} is present, which is targetable.",
                     "This is a {dx} with {M}."),
        "negative": ("The outside NGS was unremarkable for {M}.", "{M} is lacking.", "There was no {M} on the outside report."),
        "uncertain": ("Whether {M} is truly present is debatable.", "{M} is doubtful given low tumor content."),
        "historical": ("An earlier panel from {year} reported {M}.",),
        "family": ("Notably, her {rel} was diagnosed with cancer and carries {M}.",),
    },
    "pathology_synoptic": {
        "header": "SYNOPTIC REPORT", "sections": ("TUMOR", "MARGINS", "BIOMARKERS"),
        "positive": ("Biomarker: {M} | Result: Detected", "{M}: PRESENT", "{M} :: positive"),
        "negative": ("Biomarker: {M} | Result: Not detected", "{M}: ABSENT", "{M} :: negative"),
        "uncertain": ("Biomarker: {M} | Result: Equivocal", "{M}: INDETERMINATE"),
        "historical": ("Prior biomarker result ({year}): {M}",),
        "family": ("Family member ({rel}) biomarker: {M}",),
    },
    "radiology_onc": {
        "header": "ONCOLOGY TREATMENT SUMMARY", "sections": ("DIAGNOSIS", "TREATMENT HISTORY", "CURRENT STATUS"),
        "positive": ("Diagnosis: {dx}, {M}.", "{dx} with {M}, on {drug}.", "Driver: {M}."),
        "negative": ("Diagnosis: {dx}; {M} negative.", "Driver testing: no {M}.", "{dx}, {M} wild type."),
        "uncertain": ("Driver status uncertain ({M} suspected).", "{M} status unknown, retest pending."),
        "historical": ("Previously treated for {M}-positive disease in {year}.",),
        "family": ("Family: {rel} with {M}.",),
    },
    "nursing_note": {
        "header": "Nursing note", "sections": ("", ""),
        "positive": ("Pt aware of her {M} result.", "Teaching done re: {M} and {drug}.", "Pt told she has {M}."),
        "negative": ("Pt informed {M} came back neg.", "Pt relieved that {M} not found.", "Reviewed that there is no {M}."),
        "uncertain": ("Pt asking about possible {M}, results pending.", "MD to discuss whether {M} present."),
        "historical": ("Pt reports prior {M} dx in {year}.",),
        "family": ("Pt states her {rel} has {M}.",),
    },
}

#: How markers are written: [..] marks the span. {g} gene alias, {v} variant form, {p} fusion partner.
_SPECIFIC = ("[{g} {v}]", "[{g} {v}] mutation", "[{g} {v}] variant", "[{g} ({v})]", "[{g} p.{v1}]", "[{g}:{v}]")
_REVERSED = ("[{v} mutation in {g}]", "[{v} in {g}]")
_GENERIC = ("[{g} mutation]", "[{g} mutations]", "[{g}-mutant]", "[{g} mutated]", "[{g} pathogenic variant]", "[{g} alteration]")
_FUSION = ("[{g} {v}]", "[{g}-{v}]", "[{g} gene {v}]")
_PARTNER = ("[{p}-{g} fusion]", "[{p}-{g}]", "[{p}::{g} fusion]", "[{p}/{g} fusion]", "[{p}-{g} rearrangement]")
_CNV = ("[{g} {v}]", "[{g} gene {v}]", "[{g} copy number {v}]")
_CNV_REVERSED = ("[{v} of {g}]",)
_SIGNATURE = ("[{v}]",)
_TMB_VALUE = ("[TMB {x} mut/Mb]", "[TMB of {x} mutations/megabase]", "[tumor mutational burden {x} mut/Mb]", "[TMB: {x} muts/Mb]")
_EXPRESSION = {"TPS": ("[{g} TPS {x}%]", "[{g} (22C3) TPS {x}%]", "[{g} tumor proportion score {x}%]"),
               "CPS": ("[{g} CPS {x}]", "[{g} combined positive score {x}]"),
               "IHC": ("[{g} IHC {x}+]", "[{g} {x}+ by IHC]", "[{g} score {x}+]")}
#: families whose phrasings use the reversed forms ("L858R in EGFR") as well
_USES_REVERSED = {"narrative_a", "narrative_b", "referral_letter", "tumour_board"}
_PAIRS = ("{A} was detected, but no {B} was found.", "Positive for {A}; negative for {B}.", "{A} present, {B} absent.",
          "{B} negative, {A} positive.", "No {B}; {A} identified.", "{A} (detected) / {B} (not detected).")
_WRAPPED = {"ngs_report_a", "fish_ihc", "heme_path", "narrative_a", "discharge_summary", "pathology_synoptic"}
_ABBREVIATIONS = {"patient": "pt", "history": "hx", "with": "w/", "negative": "neg", "positive": "pos", "without": "w/o",
                  "mutation": "mut", "amplification": "amp", "family history": "FHx", "diagnosis": "dx", "treatment": "tx"}
_CONTEXT_SLOTS = ("{vaf}", "{vaf2}", "{year}", "{yy}", "{rel}", "{drug}", "{dx}")


def _typo(word: str, rng: np.random.Generator) -> str:
    """One character-level slip: a dropped, doubled or swapped letter (words of 5+ letters)."""
    if len(word) < 5 or not word.isalpha():
        return word
    i = int(rng.integers(1, len(word) - 2))
    kind = rng.integers(3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _noisy(text: str, rng: np.random.Generator, *, abbreviate: float, typo: float) -> str:
    """Abbreviations and typos in free text (never inside a marker span)."""
    for long, short in _ABBREVIATIONS.items():
        if long in text and rng.random() < abbreviate:
            text = text.replace(long, short)
    if typo > 0:
        words = text.split(" ")
        words = [_typo(w, rng) if rng.random() < typo else w for w in words]
        text = " ".join(words)
    return text


@dataclass
class _Writer:
    """Accumulates text and the spans of markers written into it."""

    rng: np.random.Generator
    parts: list
    spans: list
    length: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def add_span(self, text: str, annotation: tuple) -> None:
        self.spans.append((self.length, self.length + len(text), *annotation))
        self.add(text)

    def text(self) -> str:
        return "".join(self.parts)


def _fill(template: str, rng: np.random.Generator) -> str:
    """Context slots of a template (allele fractions, years, relatives, drugs, diagnoses)."""
    values = {"{vaf}": f"{rng.uniform(5, 60):.1f}", "{vaf2}": f"{rng.uniform(0.1, 2):.1f}", "{year}": str(int(rng.integers(2012, 2024))),
              "{yy}": f"{int(rng.integers(12, 24)):02d}", "{rel}": str(rng.choice(_RELATIVES)), "{drug}": str(rng.choice(_DRUGS)),
              "{dx}": str(rng.choice(_DIAGNOSES))}
    for slot in _CONTEXT_SLOTS:
        if slot in template:
            template = template.replace(slot, values[slot])
    return template


def _one_letter(form: str) -> str:
    return form.removeprefix("p.") if re.fullmatch(r"p\.[A-Z]\d+[A-Z]", form) else form


def _render_marker(marker: Marker, status: str, family: str, rng: np.random.Generator) -> tuple[str, int, int, str]:
    """The mention text with its span (start, end inside the text) and its canonical variant."""
    gene = marker.gene
    aliases = ALIASES.get(gene, (gene,))
    g = str(rng.choice(aliases)) if rng.random() < 0.7 else gene
    variant = marker.variant
    if marker.kind == "mutation":
        generic = variant == "mutation" or status in ("negative", "family") and rng.random() < 0.6
        if generic:
            pattern, v, variant = str(rng.choice(_GENERIC)), "", "mutation"
        else:
            v = str(rng.choice(marker.forms))
            choices = _SPECIFIC[:4] + ((_SPECIFIC[4],) if re.fullmatch(r"[A-Z]\d+[A-Z]", v) else ())
            if family in _USES_REVERSED:
                choices += _REVERSED
            pattern = str(rng.choice(choices))
        text = pattern.replace("{g}", g).replace("{v1}", v).replace("{v}", v)
    elif marker.kind == "fusion":
        if "::" in variant:
            partner = variant.split("::")[0]
            text = str(rng.choice(_PARTNER)).replace("{p}", partner).replace("{g}", g if gene != "ABL1" or rng.random() < 0.5 else "ABL")
        else:
            text = str(rng.choice(_FUSION)).replace("{g}", g).replace("{v}", str(rng.choice(marker.forms)))
    elif marker.kind == "copy_number":
        choices = _CNV + (_CNV_REVERSED if family in _USES_REVERSED else ())
        form = str(rng.choice(marker.forms))
        pattern = str(rng.choice(choices))
        if "of {g}" in pattern and form in ("amp", "amplified"):
            form = "amplification"
        text = pattern.replace("{g}", g).replace("{v}", form)
    elif marker.kind == "expression":
        x = {"TPS": int(rng.choice([0, 1, 5, 10, 20, 50, 60, 80, 95])), "CPS": int(rng.choice([0, 1, 5, 10, 20, 40])),
             "IHC": int(rng.integers(0, 4))}[variant]
        text = str(rng.choice(_EXPRESSION[variant])).replace("{g}", g).replace("{x}", str(x))
        variant = f"{variant} {x}%" if variant == "TPS" else f"{variant} {x}" if variant == "CPS" else f"IHC {x}+"
    else:  # signature
        if variant == "value":
            x = round(float(rng.choice([1.2, 3, 4.5, 8, 10, 12, 16.4, 24, 38])), 1)
            x_text = f"{x:g}"
            text = str(rng.choice(_TMB_VALUE)).replace("{x}", x_text)
            variant = f"{x_text} mut/Mb"
        else:
            text = "[" + str(rng.choice(marker.forms)) + "]"
    start, end = text.index("["), text.index("]") - 1
    return text.replace("[", "").replace("]", ""), start, end, variant


_GERMLINE = tuple(m for m in MARKERS if m.gene in ("BRCA1", "BRCA2", "PALB2", "TP53", "CDKN2A", "STK11", "MET", "RET", "KIT", "PDGFRA")
                  and m.kind == "mutation")


def _background_marker(genes: Sequence[str], rng: np.random.Generator) -> Marker:
    """A variant in a real gene from the caller's list, written in c. notation (VUS-like findings)."""
    gene = str(rng.choice(genes))
    position = int(rng.integers(20, 6000))
    ref, alt = rng.choice(list("ACGT"), size=2, replace=False)
    variant = f"c.{position}{ref}>{alt}"
    return Marker(gene, variant, "mutation", (variant,))


def _sentence_for(status: str, family: dict, rng: np.random.Generator) -> str:
    return _fill(str(rng.choice(family[status])), rng)


def _write_note(doc: int, family_name: str, genes: Sequence[str], rng: np.random.Generator, *, typo: float) -> tuple[str, list]:
    family = FAMILIES[family_name]
    writer = _Writer(rng, [], [])
    upper = rng.random() < 0.15  # a system that prints notes in capitals
    abbreviate = 0.5 if "note" in family_name or family_name in ("brief_summary",) else 0.15

    def line(text: str) -> None:
        writer.add(text.upper() if upper else text)

    line(f"{family['header']}\n")
    if rng.random() < 0.5:
        line(f"Date: {int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}/20{int(rng.integers(15, 25))}   MRN: [redacted]\n")
    if rng.random() < 0.4:  # a gene panel list: gene symbols that are not results
        panel = rng.choice(genes, size=min(len(genes), int(rng.integers(5, 15))), replace=False)
        line(f"Genes analyzed: {', '.join(panel)}.\n")
    n_markers = int(rng.integers(1, 5))
    statuses = rng.choice(STATUSES, size=n_markers, p=[0.42, 0.26, 0.12, 0.1, 0.1])
    markers = []
    for status in statuses:
        if rng.random() < 0.15:
            markers.append((_background_marker(genes, rng), "uncertain" if rng.random() < 0.7 else str(status)))
            continue
        marker = MARKERS[int(rng.integers(len(MARKERS)))]
        if status == "family":  # a relative's result is a germline variant
            marker = _GERMLINE[int(rng.integers(len(_GERMLINE)))]
        markers.append((marker, str(status)))
    sections = [s for s in family["sections"]]
    where = rng.integers(0, len(sections), size=len(markers))
    for s_index, section in enumerate(sections):
        if section:
            line(("\n" if rng.random() < 0.7 else "") + f"{section}:" + ("\n" if rng.random() < 0.5 else " "))
        pieces = []
        for _ in range(int(rng.integers(0, 3))):
            pieces.append(("noise", _noise(rng)))
        if rng.random() < 0.3:
            pieces.append(("noise", str(rng.choice(_NON_GENOMIC)) + "."))
        for (marker, status), w in zip(markers, where):
            if w == s_index:
                pieces.append(("marker", (marker, status)))
        order = list(rng.permutation(len(pieces)))
        while order:
            kind, value = pieces[order.pop(0)]
            if kind == "noise":
                line(_noisy(value, rng, abbreviate=abbreviate, typo=typo) + " ")
                continue
            partner = next((k for k in order if pieces[k][0] == "marker"), None)
            pair = partner is not None and {value[1], pieces[partner][1][1]} == {"positive", "negative"} and rng.random() < 0.6
            if pair:  # two results in one sentence: a cue's scope must stop at the right mention
                order.remove(partner)
                first, second = (value, pieces[partner][1]) if value[1] == "positive" else (pieces[partner][1], value)
                sentence, slots = str(rng.choice(_PAIRS)), {"{A}": first, "{B}": second}
            else:
                sentence, slots = _sentence_for(value[1], family, rng), {"{M}": value}
            for chunk in re.split(r"(\{[MAB]\})", sentence):
                if chunk in slots:
                    _write_mention(writer, *slots[chunk], family_name, rng, upper=upper, typo=typo)
                else:
                    writer.add(_noisy(chunk.upper() if upper else chunk, rng, abbreviate=abbreviate, typo=typo))
            writer.add(" " if rng.random() < 0.7 else "\n")
        line("\n")
    if rng.random() < 0.5:
        line(f"\n{_noise(rng)}\n")
    text = writer.text()
    if family_name in _WRAPPED and rng.random() < 0.6:  # hard-wrapped at ~72 columns: spaces become line breaks
        chars, column = list(text), 0
        for i, c in enumerate(chars):
            column = 0 if c == "\n" else column + 1
            if c == " " and column > 72:
                chars[i], column = "\n", 0
        text = "".join(chars)
    return text, writer.spans


def _write_mention(writer: _Writer, marker: Marker, status: str, family_name: str, rng: np.random.Generator, *, upper: bool,
                   typo: float) -> None:
    mention, s, e, variant = _render_marker(marker, status, family_name, rng)
    if upper:
        mention = mention.upper()
    writer.add(mention[:s])
    span_text = mention[s:e]
    if typo and rng.random() < typo * 5:  # a slip inside a marker's keyword or, rarely, its gene name
        words = span_text.split(" ")
        j = int(rng.integers(len(words)))
        if words[j].lower() in ("mutation", "amplification", "rearrangement", "deletion", "translocation", "insertion"):
            words[j] = _typo(words[j], rng)
        elif j == 0 and re.fullmatch(r"[A-Z]{3,}[A-Z0-9]*", words[0]) and rng.random() < 0.5:
            w = words[0]
            k = int(rng.integers(1, len(w) - 1))
            words[0] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        span_text = " ".join(words)
    writer.add_span(span_text, (marker.kind, marker_id(marker.gene, variant), status))
    writer.add(mention[e:])


def _noise(rng: np.random.Generator) -> str:
    template = str(rng.choice(_NOISE))
    values = {"bp": int(rng.integers(100, 160)), "bp2": int(rng.integers(60, 95)), "hr": int(rng.integers(55, 110)),
              "hgb": f"{rng.uniform(8, 15):.1f}", "plt": int(rng.integers(90, 400)), "cr": int(rng.integers(5, 13)),
              "kg": int(rng.integers(45, 110)), "weeks": int(rng.integers(2, 13)), "pct": int(rng.integers(10, 90)),
              "site": str(rng.choice(_SITES)), "page": int(rng.integers(1, 4)), "packs": int(rng.integers(0, 60)),
              "quit": int(rng.integers(1, 30))}
    return template.format(**values)


def simulate_notes(n_notes: int = 600, *, genes: Sequence[str] = (), families: Sequence[str] | None = None,
                   typo_rate: float = 0.02, random_state: int = 0) -> pd.DataFrame:
    """``n_notes`` notes spread evenly over ``families`` (default: all of :data:`FAMILIES`).

    ``genes`` are real gene symbols for background findings and panel lists (defaults to the genes
    of :data:`MARKERS`). Returns a DataFrame: ``document_id``, ``family``, ``text`` and
    ``annotations`` (a list of ``(start, end, kind, "GENE:variant", status)`` per note).
    """
    rng = np.random.default_rng(random_state)
    families = list(families or FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown template families {unknown}; known: {sorted(FAMILIES)}")
    genes = list(genes) or sorted({m.gene for m in MARKERS if m.kind != "signature"})
    rows = []
    for doc in range(n_notes):
        family = families[doc % len(families)]
        text, spans = _write_note(doc, family, genes, rng, typo=typo_rate)
        rows.append({"document_id": f"note{doc:05d}", "family": family, "text": text, "annotations": spans})
    return pd.DataFrame(rows, columns=["document_id", "family", "text", "annotations"])


# ---- literature passages with drug-gene and gene-disease relations ---------------------------------

#: ChemProt-style drug -> gene relation types, and the gene -> disease association; "none" = no relation
RELATIONS: tuple[str, ...] = ("activator", "inhibitor", "agonist", "antagonist", "substrate", "association")

# family -> relation -> template ({H} head: a drug, or a gene for "association"; {T} tail: a gene, or a
# disease). "none" templates name both entities without relating them (or deny the relation).
PASSAGE_FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "pharmacology_a": {
        "inhibitor": ("{H} potently inhibited {T} in kinase assays.",), "activator": ("{H} activated {T} in a dose-dependent manner.",),
        "agonist": ("{H} is a full agonist of {T}.",), "antagonist": ("{H} acted as a competitive antagonist of {T}.",),
        "substrate": ("{H} is a substrate of {T}.",), "association": ("Germline {H} variants cause {T}.",),
        "none_drug": ("{H} did not inhibit {T} at concentrations up to 10 uM.",), "none_disease": ("{H} was not associated with {T}.",),
    },
    "pharmacology_b": {
        "inhibitor": ("{T} activity was blocked by {H}.",), "activator": ("{T} was strongly activated by {H}.",),
        "agonist": ("{T} was stimulated by the agonist {H}.",), "antagonist": ("{T} signalling was antagonized by {H}.",),
        "substrate": ("{T} metabolizes {H} in hepatocytes.",), "association": ("{T} is associated with mutations in {H}.",),
        "none_drug": ("{T} levels were measured before {H} treatment.",), "none_disease": ("{T} patients were screened; {H} served as a control gene.",),
    },
    "review_a": {
        "inhibitor": ("{H}, a selective {T} inhibitor, was well tolerated.",), "activator": ("{H}, an allosteric {T} activator, restored function.",),
        "agonist": ("{H}, a {T} agonist, was given daily.",), "antagonist": ("{H}, a {T} antagonist, reduced symptoms.",),
        "substrate": ("{H}, a known {T} substrate, accumulated in poor metabolizers.",), "association": ("{H}, a gene implicated in {T}, was sequenced.",),
        "none_drug": ("{H}, unlike other agents, left {T} unaffected.",), "none_disease": ("{H}, previously studied in other disorders, showed no link to {T}.",),
    },
    "review_b": {
        "inhibitor": ("Treatment with {H} suppressed {T} phosphorylation.",), "activator": ("Treatment with {H} increased {T} activity.",),
        "agonist": ("Binding of {H} stimulated {T} receptor signalling.",), "antagonist": ("Binding of {H} blocked {T} receptor signalling.",),
        "substrate": ("Clearance of {H} depends on {T}.",), "association": ("Loss of {H} function underlies {T}.",),
        "none_drug": ("Treatment with {H} was started while {T} was wild-type.",), "none_disease": ("Loss of {H} was excluded in {T}.",),
    },
    "abstract_a": {
        "inhibitor": ("We show that {H} targets and inhibits {T}.",), "activator": ("We show that {H} directly activates {T}.",),
        "agonist": ("We show that {H} binds {T} as an agonist.",), "antagonist": ("We show that {H} binds {T} as an antagonist.",),
        "substrate": ("We show that {H} is transported by {T}.",), "association": ("We show that {H} is a susceptibility gene for {T}.",),
        "none_drug": ("We show that {H} and {T} act in separate pathways.",), "none_disease": ("We show that {H} plays no role in {T}.",),
    },
    "abstract_b": {
        "inhibitor": ("{H} reduced {T} enzymatic activity by 80%.",), "activator": ("{H} enhanced {T} enzymatic activity twofold.",),
        "agonist": ("{H} elicited maximal {T} responses (agonist).",), "antagonist": ("{H} abolished agonist-induced {T} responses.",),
        "substrate": ("{H} was oxidized by recombinant {T}.",), "association": ("Biallelic {H} mutations were found in {T}.",),
        "none_drug": ("{H} had no measurable effect on {T}.",), "none_disease": ("No {H} mutation was found in {T} cases.",),
    },
    "clinical_a": {
        "inhibitor": ("Patients received {H} to inhibit {T}.",), "activator": ("Patients received {H} to activate {T}.",),
        "agonist": ("Patients received the {T} agonist {H}.",), "antagonist": ("Patients received the {T} antagonist {H}.",),
        "substrate": ("Patients with low {T} activity had high {H} exposure.",), "association": ("Patients with {T} carried {H} mutations.",),
        "none_drug": ("Patients received {H}; {T} status was unknown.",), "none_disease": ("Patients with {T} were tested and {H} was normal.",),
    },
    "clinical_b": {
        "inhibitor": ("{H} therapy produced durable {T} blockade.",), "activator": ("{H} therapy led to sustained {T} activation.",),
        "agonist": ("{H} therapy provided {T} receptor agonism.",), "antagonist": ("{H} therapy provided {T} receptor blockade as an antagonist.",),
        "substrate": ("{H} dosing was adjusted for {T} genotype because the drug is metabolized by it.",),
        "association": ("{T} is caused by pathogenic {H} variants.",),
        "none_drug": ("{H} therapy was stopped before {T} testing.",), "none_disease": ("{T} was diagnosed; {H} testing was negative.",),
    },
    "mechanism_a": {
        "inhibitor": ("Mechanistically, {H} binds the ATP pocket of {T} and blocks it.",), "activator": ("Mechanistically, {H} stabilizes the active form of {T}.",),
        "agonist": ("Mechanistically, {H} occupies the {T} ligand site and triggers signalling.",),
        "antagonist": ("Mechanistically, {H} occupies the {T} ligand site without triggering signalling.",),
        "substrate": ("Mechanistically, {H} undergoes hydroxylation by {T}.",), "association": ("Mechanistically, disruption of {H} leads to {T}.",),
        "none_drug": ("Mechanistically, {H} works independently of {T}.",), "none_disease": ("Mechanistically, {H} is unrelated to {T}.",),
    },
    "mechanism_b": {
        "inhibitor": ("{T} is the primary target of {H}, which abrogates its activity.",), "activator": ("{T} is switched on by {H}.",),
        "agonist": ("{T} responds to {H} as to its natural ligand.",), "antagonist": ("{T} is prevented from responding to its ligand by {H}.",),
        "substrate": ("{T} is the main enzyme clearing {H}.",), "association": ("{T} segregates with a {H} frameshift in three families.",),
        "none_drug": ("{T} is not a target of {H}.",), "none_disease": ("{T} did not segregate with {H} variants.",),
    },
}
_FILLERS = ("Cells were cultured for 48 h.", "Data are shown as mean and standard deviation.", "The study was approved by the ethics board.",
            "Further work is needed.", "Results were consistent across three replicates.", "Samples were collected at baseline.")


def simulate_passages(n_passages: int = 600, *, drugs: Sequence[str], genes: Sequence[str], diseases: Sequence[str],
                      families: Sequence[str] | None = None, random_state: int = 0) -> pd.DataFrame:
    """Literature-like passages with given entity mentions and their relations (semi-synthetic).

    Every passage belongs to one family of :data:`PASSAGE_FAMILIES`; entity names are the caller's
    real names (drugs, gene symbols, diseases). Returns ``passage_id``, ``family``, ``text``,
    ``entities`` (``(start, end, type, name)``, type drug / gene / disease) and ``relations``
    (``(head_start, head_end, tail_start, tail_end, relation)``; unrelated pairs are not listed).

    Examples
    --------
    >>> p = simulate_passages(3, drugs=["Gefitinib"], genes=["EGFR", "CYP3A4"], diseases=["Noonan syndrome 1"])
    >>> row = p.iloc[0]
    >>> all(row.text[s:e] == name for s, e, _, name in row.entities)
    True
    """
    rng = np.random.default_rng(random_state)
    families = list(families or PASSAGE_FAMILIES)
    labels = list(RELATIONS) + ["none_drug", "none_disease"]
    weights = np.array([1, 1.4, 0.8, 0.8, 0.8, 1.4, 1.2, 1.0])
    rows = []
    for i in range(n_passages):
        family = families[i % len(families)]
        parts, entities, relations, length = [], [], [], 0

        def add(text: str) -> None:
            nonlocal length
            parts.append(text)
            length += len(text)

        for _ in range(int(rng.integers(1, 4))):
            if rng.random() < 0.3:
                add(str(rng.choice(_FILLERS)) + " ")
            label = str(rng.choice(labels, p=weights / weights.sum()))
            template = str(rng.choice(PASSAGE_FAMILIES[family][label]))
            disease_pair = label in ("association", "none_disease")
            head = (str(rng.choice(genes)), "gene") if disease_pair else (str(rng.choice(drugs)), "drug")
            tail = (str(rng.choice(diseases)), "disease") if disease_pair else (str(rng.choice(genes)), "gene")
            spans = {}
            for chunk in re.split(r"(\{[HT]\})", template):
                if chunk in ("{H}", "{T}"):
                    name, kind = head if chunk == "{H}" else tail
                    spans[chunk] = (length, length + len(name))
                    entities.append((length, length + len(name), kind, name))
                    add(name)
                else:
                    add(chunk)
            add(" ")
            if not label.startswith("none"):
                relations.append((*spans["{H}"], *spans["{T}"], label))
        text = "".join(parts).rstrip()
        rows.append({"passage_id": f"passage{i:05d}", "family": family, "text": text, "entities": entities, "relations": relations})
    return pd.DataFrame(rows, columns=["passage_id", "family", "text", "entities", "relations"])
