"""Writers (CSV, JSON, figures, REPORT.md) and the ``fpsim`` command line. No numerics here."""

# simulator first: it sets the thread environment (OMP_WAIT_POLICY, OPENBLAS_THREAD_TIMEOUT)
# that OpenMP and OpenBLAS read when they load, before anything here imports numpy
import simulator  # noqa: F401
