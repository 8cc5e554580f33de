"""The outcome report as CSV: one row per group, then the total, with the JSON's figures."""

import csv
import io

from models.report import OutcomeFigures, OutcomeReport

CSV_MEDIA_TYPE = "text/csv"
COLUMNS = list(OutcomeFigures.model_fields)


def report_csv(report: OutcomeReport) -> str:
    """Null figures are empty cells; numbers are written as JSON writes them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in [*report.groups, report.total]:
        values = row.model_dump()
        writer.writerow(["" if values[name] is None else values[name] for name in COLUMNS])
    return buffer.getvalue()


def wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers CSV to JSON (absent or `*/*`: JSON)."""
    if not accept:
        return False
    preferences: dict[str, float] = {}
    for part in accept.split(","):
        media, _, parameters = part.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        preferences[media.strip().lower()] = quality
    csv_quality = preferences.get(CSV_MEDIA_TYPE, 0.0)
    json_quality = preferences.get("application/json", 0.0)
    wildcard_quality = preferences.get("*/*", 0.0)
    # A named type beats a wildcard of the same quality; a tie with JSON goes to JSON.
    return csv_quality > 0 and csv_quality > json_quality and csv_quality >= wildcard_quality
