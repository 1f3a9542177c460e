"""User-file readers: tables and FASTA read through one door, errors name the line."""

import pytest

from genotx.data.formats.table import check_values, read_table
from genotx.errors import InputError


def test_a_fasta_reads_as_a_table_and_errors_name_the_header_line(tmp_path):
    fasta = tmp_path / "mine.fa"
    fasta.write_text(">first\nACGT\n\n>second one\nAC\nGA\n>third\nTTTT\n")
    frame = read_table(fasta, required=("sequence",), optional=("id",))
    assert frame["id"].tolist() == ["first", "second", "third"] and frame["sequence"].tolist() == ["ACGT", "ACGA", "TTTT"]
    with pytest.raises(InputError, match=r"mine\.fa, line 7: .*'TTTT' has a T") as err:
        check_values(frame, "sequence", lambda s: ~s.str.startswith("T"), path=str(fasta), problem="has a T", fix="no T")
    assert "Fix: no T" in str(err.value)


def test_a_csv_error_names_the_line_counting_the_header(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("sequence,score\nACGT,1\nAC,2\n")
    frame = read_table(table, required=("sequence",), optional=("score",), numeric=("score",))
    with pytest.raises(InputError, match=r"mine\.csv, line 3: column 'sequence' value 'AC' is short"):
        check_values(frame, "sequence", lambda s: s.str.len() == 4, path=str(table), problem="is short", fix="4 letters")
    with pytest.raises(InputError, match=r"line 2: column 'score' value 1 is small"):
        check_values(frame, "score", lambda s: s > 1.5, path=str(table), problem="is small", fix="bigger")


def test_read_table_refuses_folders_empty_files_and_infinite_numbers(tmp_path):
    import pytest

    from genotx.data.formats.table import read_table
    from genotx.errors import InputError

    with pytest.raises(InputError, match="folder"):
        read_table(tmp_path, required=("a",))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_table(empty, required=("a",))
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n")
    with pytest.raises(InputError, match="header"):
        read_table(blank, required=("a",))
    infinite = tmp_path / "inf.csv"
    infinite.write_text("a\n1\ninf\n")
    with pytest.raises(InputError, match="line 3.*non-finite"):
        read_table(infinite, required=("a",), numeric=("a",))
