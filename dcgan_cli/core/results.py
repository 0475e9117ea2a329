"""What every command returns: one result object that knows how to show itself.

A result carries what the command found, and renders it for each consumer the same way: its
JSON (`to_dict`), its terminal text (`lines`), its picture (`figure`, where it has one) and the
name its picture gets in the run folder when no --out is given. The CLI, the Python API and a
web page all render the same object, so none of them decides anything the others lack: the
CLI writes with `write` and prints `lines`, and a test checks the API gives exactly that.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .files import write_json
from .runs import output_path

if TYPE_CHECKING:
    from PIL import Image

# C0 and C1 controls, the line and paragraph separators (U+2028, U+2029: a terminal or page breaks the line
# there), the Unicode bidi and zero-width controls (U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF:
# a folder named green\u202etxt.exe must not show as greenexe.txt) and lone surrogates, which is how Python
# holds the bytes of a file name that is not UTF-8 (a terminal cannot print them at all).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _escaped(char: str) -> str:
    if "\udc80" <= char <= "\udcff":  # a byte of a name that is not UTF-8 (os.fsdecode's surrogateescape): show the byte
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def shown(text: Any) -> str:
    """Text from a file (metadata, labels, paths) made safe for a terminal and the page: control characters
    (escape sequences that could retitle the window or fake lines) and bidi overrides become visible escapes."""
    return _CONTROL.sub(lambda m: _escaped(m.group()), str(text))


class Result:
    """Base of every command's result. Subclasses set `command` and fill in what they have."""

    command: ClassVar[str] = ""
    # Results with a picture also hold `checkpoint_path` and `step`: by default the picture goes
    # into RUN/<command>/step-N-<name>. (No class defaults here: they would become dataclass defaults.)

    def to_dict(self) -> dict[str, Any]:
        return {}

    @property
    def exit_code(self) -> int:
        """0 when the command did what it was asked; a result that could not (a picture it failed
        to write, an interrupted run) says so with the code the CLI exits with."""
        return 0

    def lines(self) -> list[str]:
        return []

    def figure(self) -> Image.Image | None:
        return None

    def default_name(self) -> str | None:
        """File name of the picture (or folder/file for other formats) under RUN/<command>/."""
        return None

    def default_path(self) -> Path | None:
        name, ckpt = self.default_name(), getattr(self, "checkpoint_path", None)
        if name is None or ckpt is None:
            return None
        return output_path(ckpt, getattr(self, "step", 0), self.command, name)

    def save(self, target: Path) -> list[Path]:
        """Write the picture to `target`; results with more to write extend this."""
        from .images import save_pil

        img = self.figure()
        return [] if img is None else [save_pil(img, target)]

    def write(self, out: Path | None = None, json_path: Path | None = None) -> list[Path]:
        """Everything the command writes: its picture (at `out`, or its default path) and its JSON."""
        written: list[Path] = []
        target = Path(out) if out is not None else self.default_path()
        if target is not None:
            written += self.save(target)
        if json_path is not None:
            written.append(write_json(json_path, self.to_dict()))
        return written
