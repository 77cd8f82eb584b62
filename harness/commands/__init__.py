"""CLI subcommand families; each module exposes ``register(app: typer.Typer)``."""
