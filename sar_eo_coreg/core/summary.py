"""Lines that describe a run's report, shared by the CLI, the dock and Processing (no heavy imports)."""


def rmse_text(report: dict) -> str:
    """The residual figure: a number, or why there is none (never a 0 that means nothing)."""
    value = report.get("residual_rmse_px")
    if value is not None:
        return f"leave-one-out RMSE {value:.2f} px"
    return f"leave-one-out RMSE {report.get('residual_note', 'not computable')}"
