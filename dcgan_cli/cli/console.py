"""Everything the CLI shows: results, errors, and progress while work runs.

- `emit` shows a command's result: its files written, its lines printed (or its JSON).
- Errors the user can fix (DcganError, Typer's usage errors, OS errors) leave as one line on
  stderr with exit code 2 (usage) or 1 (failure); never a traceback.
- Progress is a rich bar on a terminal, plain lines elsewhere: logs, CI and `nohup` get one line
  per report (training: every --log-every steps; other work: about every 10%).
The library never prints; it calls the `on_progress` / `on_step` callbacks these objects provide.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typer.core import TyperGroup

from ..core.errors import DcganError
from ..core.results import Result, shown

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
# In a data-parallel run only rank 0 reports; the others stay quiet but for their errors.
_follower = {"rank": None}


def follow(rank: int) -> None:
    """Quiet this process (a rank other than 0): no lines, no bars; errors name the rank."""
    _follower["rank"] = rank


def error_prefix() -> str:
    return f"rank {_follower['rank']}: " if _follower["rank"] is not None else ""


def say(text: str) -> None:
    """One plain line on stdout: no markup (paths may hold brackets), control characters escaped
    (a stranger's metadata must not move the cursor or retitle the terminal)."""
    if _follower["rank"] is None:
        out.print(shown(text), markup=False, soft_wrap=True)


def note(text: str) -> None:
    if _follower["rank"] is None:
        err.print(shown(text), markup=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    if seconds < 0.5:
        return "<1 s"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class Reporter:
    """Progress of one piece of work, `update(done, total, info)`; a bar or plain lines."""

    def __init__(self, bar: Progress | None, description: str):
        self.bar, self.description = bar, description
        self.task = bar.add_task(description, total=None, info="") if bar is not None else None
        self._last_tenth, self._done, self._info, self._estimated = -1, 0, "", False
        self._t0 = time.perf_counter()
        self._start: int | None = None  # where this phase began: a resumed run starts at its saved step

    def update(self, done: int, total: int | None, info: str = "", *, line: bool | None = None,
               detail: str | None = None) -> None:
        """`info` names the phase (a new one starts its own clock and estimate); `detail` is text shown
        after it that changes every call without starting a phase (training's losses)."""
        shown_info = info if detail is None else " ".join(t for t in (info, detail) if t)
        if self.bar is not None:
            if self._start is None:  # the bar's rate from this process's work, not from a resumed run's step 0
                self._start = done
                self.bar.reset(self.task, completed=done, total=total, info=shown_info)
            self.bar.update(self.task, completed=done, total=total, info=shown_info)
            return
        if self._start is None or info != self._info or done < self._done:  # a new phase: its own clock and estimate
            self._t0, self._last_tenth, self._info, self._estimated = time.perf_counter(), -1, info, False
            self._start = done
        self._done = done
        elapsed = time.perf_counter() - self._t0
        # How long is left, by the rate of the work done in this phase of this process (a resumed run's
        # saved steps took no time here), once there is one to tell it by: 5% of what is left, or 2 s.
        ran = done - self._start
        can_estimate = (bool(total) and 0 < ran and done < total and (ran >= (total - self._start) / 20 or elapsed >= 2)
                        and elapsed > 0.5)
        if line is None:  # by default a plain line about every 10%, at the end, and once the time left is known
            tenth = int(10 * done / total) if total else 0
            line = tenth != self._last_tenth or done == total or (can_estimate and not self._estimated)
            self._last_tenth = tenth
        if line:
            of = f"/{total}" if total else ""
            left = f", ~{_duration(elapsed * (total - done) / ran)} left" if can_estimate else ""
            self._estimated = self._estimated or bool(left)
            note(f"{self.description}: {done}{of} ({_duration(elapsed)}{left}){' ' + shown_info if shown_info else ''}")

    def __call__(self, done: int, total: int | None, what: str = "") -> None:  # the library's Progress
        self.update(done, total, what)


@contextmanager
def progress(description: str) -> Iterator[Reporter]:
    if err.is_terminal and _follower["rank"] is None:
        bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=err, transient=False,
        )
        with bar:
            yield Reporter(bar, description)
    else:
        yield Reporter(None, description)


def training_line(s: dict[str, Any]) -> str:
    m = s["metrics"]
    if not m:
        return ""
    return (f"epoch {s['epoch']} loss_d {m['loss_d']:.3f} loss_g {m['loss_g']:.3f} "
            f"D(x) {m['d_x']:.2f} D(G(z)) {m['d_g_z']:.2f} {m['img_per_s']:.0f} img/s")


def _did_you_mean(message: str) -> str:
    """Click's "'mnsit' is not one of 'shapes', 'mnist', ..." with the nearest choice named."""
    import difflib
    import re

    m = re.search(r"'([^']*)' is not one of ((?:'[^']*'(?:, )?)+)", message)
    if not m:
        return message
    choices = re.findall(r"'([^']*)'", m.group(2))
    close = difflib.get_close_matches(m.group(1).lower(), choices, n=1, cutoff=0.6)
    return f"{message.rstrip('.')}; did you mean '{close[0]}'?" if close else message


class OneLineErrors(TyperGroup):
    """Typer's own usage errors (a bad choice, a missing value) as one line, like ours, exit code 2;
    and `--help` type columns that say what goes there (help.py)."""

    def get_command(self, ctx, cmd_name: str):
        from .help import describe_flags

        command = super().get_command(ctx, cmd_name)
        if command is not None:
            describe_flags(command, ctx)
        return command

    def format_help(self, ctx, formatter) -> None:
        from .help import describe_flags

        describe_flags(self, ctx)
        super().format_help(ctx, formatter)

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        from typer import _click
        from typer.exceptions import Abort

        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _click.exceptions.ClickException as e:
            if not standalone_mode:
                raise
            if type(e).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                ctx = getattr(e, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                name = getattr(e, "option_name", "") or ""
                message = _did_you_mean(e.format_message().replace("Value error, ", ""))
                if type(e).__name__ == "NoSuchOption" and (" " in name or name in ("-", "--")):
                    message = "an argument that starts with '-' was read as an option"
                    hint = f"; put `--` before it, e.g. `{ctx.command_path if ctx else 'dcgan'} RUN -- \"- red + blue\"`"
                _print_error(f"{message}{hint}")
            sys.exit(e.exit_code)
        except Abort:
            if not standalone_mode:
                raise
            note("aborted")
            sys.exit(130)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def cli_errors(fn):
    """Turn DcganError (and OS errors such as a full disk) into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DcganError as e:
            if getattr(e, "said_on_rank0", False):
                raise typer.Exit(e.exit_code) from None
            _fail(str(e), e.exit_code)
        except MemoryError:
            _fail("ran out of memory; ask for fewer or smaller images, or a smaller --batch-size", 1)
        except BrokenPipeError:
            _quiet_stdout()  # `dcgan info --json | head`: the reader has all it wanted
            raise typer.Exit(0) from None
        except OSError as e:
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            _fail(f"{e.strerror or e}{':' + where if where else ''}", 1)

    return wrapper


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so Python's own flush at exit does not fail on the closed pipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


MAX_ERROR = 600  # an error that quotes a huge input shows its start and end, not 15,000 characters


def _print_error(message: str) -> None:
    if len(message) > MAX_ERROR:
        message = f"{message[:400]} [... {len(message) - 550:,} characters ...] {message[-150:]}"
    err.print(shown(f"{error_prefix()}error: {message}"), markup=False, highlight=False, soft_wrap=True)


def _fail(message: str, code: int):
    _print_error(message)
    raise typer.Exit(code)


def emit(result: Result, *, out: Path | None = None, json_path: Path | None = None, as_json: bool = False,
         to_stderr: bool = False) -> None:
    """The one way a command shows its result: JSON on stdout (--json flags that print), or its
    files written (picture at --out or its default path, JSON report) and its lines printed
    (on stderr with `to_stderr`: a run that stopped early)."""
    if as_json:
        from ..core.files import to_json

        print(to_json(result.to_dict()))
        return
    written = result.write(out, json_path)
    show = note if to_stderr else say
    for line in result.lines():
        show(line)
    if written:
        show("wrote " + ", ".join(str(p) for p in written))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def training_reporter(bar: Reporter) -> Callable[[dict[str, Any]], None]:
    """The training loop's on_step: the bar (or a line per --log-every), warnings, evaluations."""

    def on_step(s: dict[str, Any]) -> None:
        bar.update(s["step"], s["total_steps"], line=s["logged"] or s["step"] == s["total_steps"], detail=training_line(s))
        for w in s.get("warnings") or []:
            note(f"warning: {w}")
        for n in s.get("notes") or []:
            note(f"note: {n}")
        if s.get("eval"):
            from ..evaluation.evaluate import metric_name

            best = s.get("best")
            space = (best or {}).get("features")
            note(f"step {s['step']}: " + ", ".join(f"{metric_name(k, space)} {v:.4g}" for k, v in s["eval"].items())
                 + (f" (best {metric_name(best['metric'], space)} {best['value']:.4g} at step {best['step']})" if best else ""))

    return on_step
