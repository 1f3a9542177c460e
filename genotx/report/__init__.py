"""HTML reports built from run records."""

from genotx.report.html import runs_table, write_report

__all__ = ["runs_table", "write_report"]
