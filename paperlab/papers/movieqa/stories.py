"""Story readers for the MovieQA text sources (Tapaswi et al. 2016, Sec. 3.1 "plots, subtitles,
scripts, DVS"), following the benchmark's `story_loader.py` (makarandtapaswi/MovieQA_benchmark):

- plot, split_plot, script: one story "sentence" per non-empty line (a .wiki plot has a
  paragraph per line, a .split.wiki plot one sentence per line);
- subtitle (.srt): the text of all cues, tags such as <i> removed, merged into dialogue
  sentences: a line that does not end in . ! ? : ) continues into the next line;
- dvs (.srt-like): one description per cue, with the "0001-01" index prefix and {...} notes
  removed.

The reference reads .srt with pysrt; here a few lines parse the SubRip format instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from paperlab.errors import UserError

TAG = re.compile(r"<.+?>")
DVS_INDEX = re.compile(r"^\d+-\d+")
DVS_NOTE = re.compile(r"\{.+?\}")
TIMECODE = re.compile(r"^\d+:\d+:\d+[,.]\d+\s*-->\s*\d+:\d+:\d+[,.]\d+")
# story_loader._read_subtitle: a dialogue ends on a line whose last character is one of these
DIALOGUE_END = (".", "!", "?", ":", ")")

StoryReader = Callable[[Path], list[str]]


def read_text(path: Path) -> str:
    """UTF-8 when it decodes, else ISO-8859-1 (the encoding the reference opens every .srt with)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def read_lines(path: Path) -> list[str]:
    """plot / split_plot / script: the stripped, non-empty lines."""
    return [line.strip() for line in read_text(path).splitlines() if line.strip()]


def srt_cues(path: Path) -> list[list[str]]:
    """The text lines of each SubRip cue (number line and time-code line dropped)."""
    cues: list[list[str]] = []
    for block in re.split(r"\n\s*\n", read_text(path).replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.split("\n")]
        while lines and not TIMECODE.match(lines[0]):
            lines.pop(0)  # the cue number (and any stray line before the time code)
        if lines:
            cues.append([line for line in lines[1:] if line])
    return cues


def read_subtitle(path: Path) -> list[str]:
    """Subtitle lines merged into dialogue sentences, as story_loader._read_subtitle does."""
    lines = [TAG.sub("", line).strip() for cue in srt_cues(path) for line in cue]
    dialogues: list[list[str]] = []
    new_dialogue = True
    for line in lines:
        if not line:
            continue
        if new_dialogue:
            dialogues.append([line])
        else:
            dialogues[-1].append(line)
        new_dialogue = line.endswith(DIALOGUE_END)
    return [" ".join(d) for d in dialogues]


def read_dvs(path: Path) -> list[str]:
    """One description per cue, cleaned as story_loader._read_dvs does."""
    out = []
    for cue in srt_cues(path):
        text = " ".join(TAG.sub("", line).strip() for line in cue)
        text = DVS_NOTE.sub("", DVS_INDEX.sub("", text).strip()).strip()
        if text:
            out.append(text)
    return out


STORY_READERS: dict[str, StoryReader] = {
    "plot": read_lines,
    "split_plot": read_lines,
    "subtitle": read_subtitle,
    "script": read_lines,
    "dvs": read_dvs,
}


def story_reader(source: str) -> StoryReader:
    """The reader of one story source, by name."""
    if source not in STORY_READERS:
        raise UserError(f"unknown story source '{source}'",
                        f"choose one of: {', '.join(sorted(STORY_READERS))}")
    return STORY_READERS[source]
