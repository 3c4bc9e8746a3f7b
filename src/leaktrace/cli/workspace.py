"""``leaktrace init``: create a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from leaktrace import keys, store
from leaktrace.cli._common import JsonOption, handle_errors, print_json, stdout


@handle_errors
def init_command(
    folder: Annotated[
        str | None,
        typer.Argument(
            help="Folder of the new workspace (created if missing) [default: the current "
            "folder, or LEAKTRACE_WORKSPACE].",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace: the DuckDB store, leaktrace.toml and a master key file (mode 0600).

    With LEAKTRACE_MASTER_KEY set, that key is used and no key file is written. Keep the key
    apart from backups of the store: without it the register cannot be matched, and with it
    anyone holding the store can test guesses.
    """
    with store.init_workspace(folder) as workspace:
        key_file = workspace.config["workspace"].get("key_file") or None
        info = {
            "workspace": str(workspace.path),
            "database": str(workspace.path / workspace.config["workspace"]["database"]),
            "key": str(workspace.path / key_file) if key_file else keys.ENV_VAR,
            "key_check_value": workspace.keyring.check_value(),
            "schema_version": workspace.schema_version,
        }
    if as_json:
        print_json(info)
        return
    stdout.print(f"Workspace created in {info['workspace']}", highlight=False)
    stdout.print(
        f"master key: {info['key']} (check value {info['key_check_value']}); back it up "
        "apart from the data.",
        highlight=False,
    )
