"""What `--help` shows in the type column: what goes there, not the Python type.

Typer writes every option's type as `<int>`, `<path>`, `<bool>`. A reader wants the shape of the
value (`0-63|3,7,9`, `PSI`, `FILE`), and nothing for an on/off flag. Commands keep their own
flags (one module each); a flag's metavar, when it sets none, comes from its name here or else
from its type, so a new flag reads right without a word added.
"""

from __future__ import annotations

METAVARS = {  # by the flag's long name
    "seeds": "0-63|3,7,9", "device": "auto|cpu|cuda[:N]|mps", "trunc": "PSI", "radius": "R", "around": "SEED",
    "label": "WORDS", "from": "SEED|WORDS|FILE", "to": "SEED|WORDS|FILE", "through": "SEEDS", "define": "PHRASE=SEEDS",
    "out": "PATH", "outdir": "PATH", "json": "FILE.json", "gif": "FILE.gif", "anchor": "FILE", "images": "FOLDER",
    "real": "FOLDER", "data-root": "FOLDER", "cache-dir": "FOLDER", "resume": "RUN|CKPT", "host": "ADDRESS", "port": "PORT",
    "lr": "RATE", "d-lr": "RATE", "seed": "N", "metrics": "fid,kid,pr", "concept": "WORDS", "expression": "EXPRESSION",
}
LONGEST = 26  # characters of choices the type column shows as they are
BY_TYPE = {"<int>": "N", "<float>": "X", "<str>": "TEXT", "<path>": "PATH", "<file>": "FILE", "<directory>": "FOLDER"}


def describe_flags(command, ctx) -> None:
    """Give each option and argument of a Click command (and of a group's commands) a metavar that
    says what goes there; one that already has one keeps it. Idempotent."""
    for sub in getattr(command, "commands", {}).values():
        describe_flags(sub, ctx)
    helper = command.get_help_option(ctx)
    for param in [*getattr(command, "params", []), *([helper] if helper is not None else [])]:
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""  # on or off: the flag's name says it
            continue
        long = next((o[2:] for o in param.opts if o.startswith("--")), param.name or "")
        if param.param_type_name == "argument":  # Typer shows its name, then its type: the type column says what goes there
            text = "RUN|CKPT" if param.name == "ckpt" else METAVARS.get(param.name or "") or BY_TYPE.get(_typer_type(param, ctx))
            if text:
                param.display_type_rich = lambda ctx, text=text: text
            continue
        shown = _typer_type(param, ctx)
        if "|" in shown and len(shown) > LONGEST:  # a long list of choices wraps mid-word in the column: into the help
            param.metavar = long.upper()
            param.help = f"{param.help or ''} One of: {shown.strip('<>').replace('|', ', ')}.".strip()
            continue
        by_type = shown.strip("<>") if "|" in shown else BY_TYPE.get(shown, shown.strip("<>").upper())
        param.metavar = METAVARS.get(long) or by_type


def _typer_type(param, ctx) -> str:
    """Typer's `<int>`, `<path>`, `<a|b>`; a plain Click option (no Typer type) by its type's name."""
    display = getattr(param, "display_type", None)
    return display(ctx) if display is not None else f"<{param.type.name}>"
