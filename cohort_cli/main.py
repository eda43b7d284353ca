"""`cohort`: import CSV files, export contacts and list them, against any Cohort deployment.

    cohort import clients.csv --group "Salon 2026" --tag salon
    cohort export --tag vip -o vip.csv
    cohort contacts list --q dupont

The deployment and key come from COHORT_URL / COHORT_API_KEY or ~/.config/cohort/config.toml
(cohort_cli.settings). Progress bars and messages go to stderr, data (CSV, tables, JSON) to
stdout, so `cohort export > all.csv` works.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cohort_cli.client import ApiFailure, CohortClient
from cohort_cli.settings import MissingSettings, load
from cohort_cli.transport import Transport, UrllibTransport

app = typer.Typer(
    help="Cohort from the terminal: import CSV files, export contacts, list them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
contacts_app = typer.Typer(help="Contacts of the workspace.", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")

FINISHED = ("COMPLETED", "FAILED")
SHOWN_ERRORS = 10


@dataclass
class State:
    """What every command needs; the client is made on first use (so --help needs no key)."""

    url: str | None
    api_key: str | None
    transport: Transport
    poll_seconds: float
    out: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))
    _client: CohortClient | None = None

    def client(self) -> CohortClient:
        if self._client is None:
            try:
                settings = load(self.url, self.api_key)
            except MissingSettings as error:
                self.err.print(f"[red]{error}[/red]")
                raise typer.Exit(2) from None
            self._client = CohortClient(settings.url, settings.api_key, self.transport)
        return self._client


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="The API's base URL (default: $COHORT_URL)")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="The workspace's key (default: $COHORT_API_KEY)")
    ] = None,
    poll_seconds: Annotated[float, typer.Option(hidden=True)] = 1.0,
) -> None:
    # A Transport given as the context object (tests: the Chalice app in-process) replaces HTTP.
    transport = ctx.obj if ctx.obj is not None else UrllibTransport()
    ctx.obj = State(url, api_key, transport, poll_seconds)


def _state(ctx: typer.Context) -> State:
    state = ctx.obj
    assert isinstance(state, State)
    return state


def _fail(state: State, error: ApiFailure) -> typer.Exit:
    state.err.print(f"[red]error:[/red] {error}")
    return typer.Exit(1)


# ---- import -------------------------------------------------------------------------------


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV file")],
    group: Annotated[
        str | None,
        typer.Option("--group", "-g", help="Every row's contact joins this group (made if missing)"),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Add this tag to every contact")
    ] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help='"CSV header=field" (field: email, phone, ..., ignore)')
    ] = None,
    update_existing: Annotated[
        bool, typer.Option(help="Update existing contacts' fields (default: only group and tags)")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Wait for the import to finish")] = True,
    errors: Annotated[Path | None, typer.Option(help="Save the error report (CSV) there")] = None,
) -> None:
    """Import a CSV file: any encoding, delimiter and size; English or French headers."""
    state = _state(ctx)
    client = state.client()
    try:
        options: dict[str, Any] = {"fileName": file.name, "updateExisting": update_existing}
        if group:
            options["groupId"], created = client.group_id(group, create=True)
            if created:
                state.err.print(f"created the group [bold]{group}[/bold]")
        if tag:
            options["tags"] = tag
        if mapping:
            options["mapping"] = _mapping(mapping)
        started = client.start_import(options)
        _upload(state, client, started["uploadUrl"], file)
        if not wait:
            state.out.print(started["id"])
            return
        view = _follow(state, lambda: client.import_status(started["id"]))
        _report(state, view)
        if errors is not None and view["errorCount"]:
            errors.write_bytes(client.import_errors(view["id"]))
            state.err.print(f"error report: {errors}")
    except ApiFailure as error:
        raise _fail(state, error) from None
    if view["status"] == "FAILED":
        raise typer.Exit(1)


def _mapping(pairs: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for pair in pairs:
        header, sep, target = pair.rpartition("=")
        if not sep or not header:
            raise typer.BadParameter(f"{pair!r}: write it as 'CSV header=field'", param_hint="--map")
        found[header] = target or None
    return found


def _upload(state: State, client: CohortClient, url: str, file: Path) -> None:
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=state.err,
        transient=True,
    ) as progress:
        task = progress.add_task("upload", total=file.stat().st_size)
        client.upload(url, file, lambda sent: progress.advance(task, sent))


def _follow(state: State, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Poll the import, with a bar of rows once the file has been counted."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=state.err,
        transient=True,
    ) as progress:
        task = progress.add_task("waiting for the file", total=None)
        while True:
            view = read()
            if view["totalRows"] is not None:
                progress.update(
                    task, description="importing", total=view["totalRows"], completed=view["processedRows"]
                )
            elif view["status"] == "RUNNING":
                progress.update(task, description="reading the file")
            if view["status"] in FINISHED:
                return view
            time.sleep(state.poll_seconds)


def _report(state: State, view: dict[str, Any]) -> None:
    if view["status"] == "FAILED":
        state.err.print(f"[red]import failed:[/red] {view['failureReason']}")
    table = Table(title=f"import {view['id']}: {view['status']}")
    counters = ("totalRows", "created", "updated", "skipped", "failed")
    for name in counters:
        table.add_column(name, justify="right")
    table.add_row(*(str(view[name] if view[name] is not None else "-") for name in counters))
    state.out.print(table)
    ignored = (view.get("columns") or {}).get("ignored") or []
    if ignored:
        state.err.print(f"columns ignored: {', '.join(ignored)}")
    if view["errors"]:
        errors = Table(title=f"first rows not imported as given ({view['errorCount']} in all)")
        columns = ("row", "line", "result", "value", "reason")
        for name in columns:
            errors.add_column(name)
        for error in view["errors"][:SHOWN_ERRORS]:
            errors.add_row(*(str(error[name] if error[name] is not None else "") for name in columns))
        state.out.print(errors)


# ---- export -------------------------------------------------------------------------------


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write there (default: stdout)")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only contacts with this tag")] = None,
    status: Annotated[
        str | None, typer.Option(help="ACTIVE, UNSUBSCRIBED, BOUNCED, REPLIED or BLOCKED")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="Only this group's members (name)")
    ] = None,
    stage: Annotated[str | None, typer.Option(help="Only this pipeline stage")] = None,
    q: Annotated[str | None, typer.Option(help="Prefix of an email or a name")] = None,
) -> None:
    """Export contacts as CSV (UTF-8 with BOM: Excel opens it right)."""
    state = _state(ctx)
    client = state.client()
    try:
        filters = {"tag": tag, "status": status, "pipelineStage": stage, "q": q}
        if group:
            filters["groupId"] = client.group_id(group, create=False)[0]
        data = client.export(filters, lambda path: _wait_export(state, client, path))
    except ApiFailure as error:
        raise _fail(state, error) from None
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    import csv
    import io

    # Records, not line breaks: a quoted value may hold a line break of its own.
    rows = max(0, sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1)
    state.err.print(f"wrote {rows} contacts to {output}")


def _wait_export(state: State, client: CohortClient, path: str) -> dict[str, Any]:
    with state.err.status("the export is being written..."):
        while True:
            view = dict(client.json("GET", path))
            if view["status"] == "COMPLETED":
                return view
            if view["status"] == "FAILED":
                raise ApiFailure(500, f"the export failed: {view.get('failureReason')}")
            time.sleep(state.poll_seconds)


# ---- contacts -----------------------------------------------------------------------------


@contacts_app.command("list")
def list_contacts(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 50,
    tag: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option("--group", "-g", help="A group's name")] = None,
    q: Annotated[str | None, typer.Option(help="Prefix of an email or a name")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line")] = False,
) -> None:
    """List contacts (newest first), with the filters of the API."""
    state = _state(ctx)
    client = state.client()
    try:
        filters = {"tag": tag, "status": status, "q": q}
        if group:
            filters["groupId"] = client.group_id(group, create=False)[0]
        contacts = list(client.pages("/api/v1/contacts", limit=limit, **filters))
    except ApiFailure as error:
        raise _fail(state, error) from None
    if as_json:
        for contact in contacts:
            state.out.print(
                json.dumps(contact, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True
            )
        return
    table = Table(title=f"{len(contacts)} contacts")
    for name in ("email", "phone", "name", "company", "status", "tags"):
        table.add_column(name)
    for c in contacts:
        name = " ".join(part for part in (c.get("firstName"), c.get("lastName")) if part)
        table.add_row(
            c.get("email") or "",
            c.get("phone") or "",
            name,
            c.get("company") or "",
            c["status"],
            ", ".join(c["tags"]),
        )
    state.out.print(table)
