"""``airflow standalone`` for the embedded stack, with nothing listening beyond loopback.

Standalone starts the scheduler and the triggerer with their log servers, which
bind every interface on a fixed port and have no setting for the address. The
embedded stack does not need them: its tasks run on this machine and the API
server reads their log files from disk. So the two components are started with
``--skip-serve-logs``; everything else is standalone as Airflow ships it.

Run as ``python -m fieldhouse.airflow_standalone`` (see ``localstack.start_airflow``).
"""

from __future__ import annotations

SKIP_LOG_SERVER = ("scheduler", "triggerer")


def main() -> None:
    from airflow.cli.commands import standalone_command

    class LocalSubCommand(standalone_command.SubCommand):
        def __init__(self, parent, name: str, command: list[str], env: dict[str, str]):
            if name in SKIP_LOG_SERVER:
                command = [*command, "--skip-serve-logs"]
            super().__init__(parent, name=name, command=command, env=env)

    # Standalone builds its components from this name when it runs.
    standalone_command.SubCommand = LocalSubCommand
    standalone_command.StandaloneCommand().run()


if __name__ == "__main__":
    main()
