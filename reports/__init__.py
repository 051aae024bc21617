"""Writers (CSV, JSON, figures, REPORT.md) and the ``fpsim`` command line. No numerics here."""
