"""`petition verify` and `petition export`: proving nobody edited the log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli import _fail, _ledger, app, out
from ledger.integrity import Report, export_bundle, verify, verify_bundle


def _show(report: Report) -> None:
    if report.ok:
        out.print(f"[green]verified[/]: {report.events} events; log head {report.head.hex()}")
        return
    out.print(f"[red]NOT VERIFIED[/] after {report.events} good events: {report.problem}")
    raise typer.Exit(1)


@app.command("verify")
def verify_command(
    case: Annotated[str | None, typer.Option(help="Only this case (number or id).")] = None,
    bundle: Annotated[Path | None, typer.Option(help="Verify an exported bundle instead.")] = None,
) -> None:
    """Check every stored event against its seals; name the first that does not match."""
    if bundle is not None:
        try:
            with bundle.open(encoding="utf-8") as lines:
                report = verify_bundle(lines)
        except (OSError, ValueError, KeyError) as e:
            _fail(f"{bundle}: {e}")
        _show(report)
        return
    with _ledger() as ledger:
        aggregate = ledger.find_case_id(case) if case else None
        report = verify(ledger.engine, aggregate)
    _show(report)


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Argument(help="The bundle file to write (JSON lines).")],
) -> None:
    """Write the whole log with its seals to a self-contained, verifiable bundle."""
    with _ledger() as ledger, output.open("w", encoding="utf-8") as f:
        report = export_bundle(ledger.engine, f)
    out.print(f"wrote {report.events} events to {output}; log head {report.head.hex()}")
    if not report.ok:
        out.print(f"[red]warning[/]: the log does not verify: {report.problem}")
        raise typer.Exit(1)


db_app = typer.Typer(help="Database administration (run as the owner role).")
app.add_typer(db_app, name="db")


@db_app.command("protect")
def protect_command(
    app_role: Annotated[str, typer.Option(help="The role the application connects as.")],
) -> None:
    """Make events and seals append-only for the application role (PostgreSQL)."""
    from ledger.protection import protect

    with _ledger() as ledger:
        try:
            statements = protect(ledger.engine, app_role)
        except ValueError as e:
            _fail(str(e))
    out.print(f"{len(statements)} statements applied; {app_role} can append, never edit")


@app.command("restore")
def restore_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `petition export`.")],
) -> None:
    """Load a bundle into an empty store (backup → restore); the views are then rebuilt by
    the projector from the restored log."""
    from ledger.integrity import restore_bundle

    with _ledger() as ledger:
        try:
            with bundle.open(encoding="utf-8") as lines:
                report = restore_bundle(ledger.engine, lines)
        except (OSError, ValueError, KeyError) as e:
            _fail(f"{bundle}: {e}")
    _show(report)


@app.command("forget")
def forget_command(
    petitioner: Annotated[str, typer.Argument(help="The petitioner's id.")],
    reason: Annotated[str, typer.Option(help="Why: e.g. the retention period has ended.")],
    by: Annotated[
        str | None, typer.Option(help="The operator's person id (default: this OS user).")
    ] = None,
) -> None:
    """Erase a petitioner's personal data everywhere: their key is destroyed, the events and
    statistics stay, and the erasure is recorded on each case."""
    import getpass
    from datetime import UTC, datetime
    from uuid import NAMESPACE_URL, UUID, uuid5

    from ledger.application import Actor

    try:
        petitioner_id = UUID(petitioner)
        operator = UUID(by) if by else uuid5(NAMESPACE_URL, f"operator:{getpass.getuser()}")
    except ValueError:
        _fail("petitioner and --by must be ids")
    with _ledger() as ledger:
        cases = ledger.forget_petitioner(
            petitioner_id,
            actor=Actor(operator, None),
            reason=reason,
            command_id=f"forget:{petitioner_id.hex}:{datetime.now(UTC).isoformat()}",
        )
    out.print(f"erased; recorded on {len(cases)} case(s)")
