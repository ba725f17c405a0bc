"""``flask addon ...``: run the worker, migrate the tables, read the log, rotate the key.

Every command runs inside the host app (Flask's CLI pushes its app context), so each uses the
app's own config, database and Redis. One module per command group; this one gathers them.
"""

from __future__ import annotations

from flask.cli import AppGroup

from .database import db_group
from .keys import rotate_key_command
from .logs import logs_command
from .simulator import sandbox_command
from .worker import run_worker, sweep_command, worker_command

__all__ = ["addon_cli", "run_worker"]

addon_cli = AppGroup(
    "addon",
    help="The iContact Integration Engine: its worker, database tables, log and keys.\n\n"
    "Run them with your app, as you run 'flask run': flask --app yourapp addon COMMAND.",
)
for _command in (
    worker_command,
    sweep_command,
    db_group,
    sandbox_command,
    logs_command,
    rotate_key_command,
):
    addon_cli.add_command(_command)
