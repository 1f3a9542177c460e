"""Reads and references for variant calling: the phage lambda genome and real 1000 Genomes reads.

* ``bowtie2_lambda``: the real phage lambda genome (NC_001416.1, 48,502 bp) shipped as an example
  reference in Debian's ``bowtie2-examples``. Its example reads have no truth file, so genotx
  simulates its own diploid samples and reads from it (:mod:`genotx.simulate.reads`).
* ``samtools_mpileup_1000g``: real Illumina reads of three 1000 Genomes samples (HG00100-HG00102)
  over 4.2 kb of chromosome 17 with the matching reference slice, from Debian's ``samtools-test``.
  No truth: used as a real-read check of the pileup path (concordance with bcftools).

Both are GPL/Expat data files read at run time from the pinned packages; nothing is copied into genotx.
"""

from __future__ import annotations

from genotx.data.source import PackageFile, Source, declare

BOWTIE2_EXAMPLES = PackageFile(
    registry="debian",
    name="bowtie2-examples",
    version="2.5.0-3",
    sha256="9f9f580954187e501102b13484bdecdc2725155e0b8020e7a056a48a06642118",
)
SAMTOOLS_TEST = PackageFile(
    registry="debian",
    name="samtools-test",
    version="1.16.1-1",
    sha256="d340ed828518fffdf1607e4e9b6ddf26e3c389da4bbd7a237a9b67536a324e8c",
)

BOWTIE2_LAMBDA = declare(
    Source(
        id="bowtie2_lambda",
        title="Phage lambda reference genome (NC_001416.1, 48,502 bp), bowtie2 example reference",
        kind="real",
        licence="GPL-3+ (bowtie2 package); the genome sequence itself is public (NCBI RefSeq)",
        citation="Sanger et al. (1982) J Mol Biol 162:729; Langmead & Salzberg (2012) Nat Methods 9:357 (bowtie2)",
        origin="https://packages.debian.org/bookworm/bowtie2-examples",
        package=BOWTIE2_EXAMPLES,
        members={"reference": "usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz"},
        upstream={
            "reference": "https://raw.githubusercontent.com/BenLangmead/bowtie2/v2.5.0/example/reference/lambda_virus.fa"
        },
        notes="gzip FASTA, one record `gi|9626243|ref|NC_001416.1|`; the package's reads have no truth.",
    )
)

_MPILEUP = "usr/share/samtools/test/mpileup/"
SAMTOOLS_MPILEUP_1000G = declare(
    Source(
        id="samtools_mpileup_1000g",
        title="Real 1000 Genomes Illumina reads (HG00100-HG00102) over chr17:1-4200, samtools test data",
        kind="real",
        licence="Expat (samtools); reads from the 1000 Genomes Project (public)",
        citation="1000 Genomes Project Consortium (2012) Nature 491:56; Danecek et al. (2021) GigaScience 10:giab008",
        origin="https://packages.debian.org/bookworm/samtools-test",
        package=SAMTOOLS_TEST,
        members={
            "bam1": _MPILEUP + "mpileup.1.bam",
            "bam2": _MPILEUP + "mpileup.2.bam",
            "bam3": _MPILEUP + "mpileup.3.bam",
            "reference": _MPILEUP + "mpileup.ref.fa",
        },
        notes="BAM headers list GRCh37 contigs; the reference holds only `17` positions 1-4200. No truth set.",
    )
)
