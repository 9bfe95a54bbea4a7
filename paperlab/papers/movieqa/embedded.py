"""An embedded MovieQA-like set that runs offline, written in the release's own files (qa.json,
movies.json, splits.json, story/plot/*.wiki, story/split_plot/*.split.wiki, story/subtt/*.srt)
so that `release.MovieQARelease` reads it exactly as the real data (Tapaswi et al. 2016, Sec. 3).

Each movie is a small plot: five or six characters (with a role: "the journalist"), places and
objects, and seven to nine events "<agent> <action> <object> <at place> <by means> <for motive>".
Questions ask who / what / where / why / how about one event, and the four wrong answers are the
other characters, objects, places, motives or means *of the same movie*, as MovieQA's deceiving
answers are plausible within the story. What keeps plain word overlap from solving it:

- paraphrase: story, question and answer each pick a form of a thing ("the ledger" / "the
  account book", "hides" / "conceals", "to pay off a gambling debt" / "because of the money owed
  to gamblers"); only the answer is always canonical;
- reference: an event is often split over sentences that say "she" or "the journalist";
- confusers: objects, places and agents recur across events, and sentences mention entities
  outside any event.

The subtitle form tells the same events as dialogue, in the past tense and first person, with
vocatives instead of speaker names (some "who" answers are then not in the subtitles at all, as
in the real subtitles), split over cues so that the dialogue merging matters. Splits are by movie
(about 66 / 14 / 20 %, as 269 / 56 / 83 of 408); test answers are withheld (null).
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from paperlab.errors import UserError
from paperlab.papers.movieqa import embedded_lexicon as lex
from paperlab.papers.movieqa.release import MovieQARelease

FORMAT_VERSION = 1  # bump when the generator changes: a cached folder is rebuilt
SPLIT_FRACTIONS = (("val", 56 / 408), ("test", 83 / 408))  # the real split sizes, by movie
QTYPES = ("who", "what", "where", "why", "how")


def forms(entry: str) -> list[str]:
    return entry.split("|")


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Character:
    name: str
    he: str  # the subject pronoun
    role: str


@dataclass
class Event:
    agent: Character
    action: list[list[str]]  # forms, each [base, third person, past]
    obj: list[str]
    prep: str
    place: list[str]
    motive: list[str]
    means: list[str]
    plot_lines: list[int] = field(default_factory=list)


@dataclass
class Movie:
    key: str
    title: str
    year: int
    genre: str
    cast: list[Character]
    objects: list[list[str]]
    places: list[tuple[str, list[str]]]
    events: list[Event]
    plot: list[list[str]] = field(default_factory=list)  # scenes of sentences
    dialogue: list[str] = field(default_factory=list)


def _cover(rng: random.Random, pool: list, n: int) -> list:
    """n draws from pool in which every member occurs at least once."""
    out = list(pool) + [rng.choice(pool) for _ in range(n - len(pool))]
    rng.shuffle(out)
    return out


def make_movie(rng: random.Random, key: str) -> Movie:
    names = rng.sample([(n, "he") for n in lex.MALE] + [(n, "she") for n in lex.FEMALE],
                       rng.randint(5, 6))
    cast = [Character(n, he, r) for (n, he), r in zip(names, rng.sample(lex.ROLES, len(names)),
                                                      strict=True)]
    objects = [forms(o) for o in rng.sample(lex.OBJECTS, rng.randint(5, 6))]
    places = [(p[0], p[1:]) for p in (forms(e) for e in rng.sample(lex.PLACES, rng.randint(5, 6)))]
    n = rng.randint(7, 9)
    motives, means = rng.sample(lex.MOTIVES, n), rng.sample(lex.MEANS, n)
    agents, objs, locs = _cover(rng, cast, n), _cover(rng, objects, n), _cover(rng, places, n)
    events, used = [], set()
    for i in range(n):
        # (action, object) and (agent, action) unique: "who <action> <object>?" and "what does
        # <agent> <action>?" then have one answer
        choices = [a for a in lex.ACTIONS if (a, objs[i][0]) not in used
                   and (a, agents[i].name) not in used]
        action = rng.choice(choices)
        used |= {(action, objs[i][0]), (action, agents[i].name)}
        events.append(Event(agents[i], [f.split("/") for f in forms(action)], objs[i],
                            locs[i][0], locs[i][1], forms(motives[i]), forms(means[i])))
    title = f"The {rng.choice(lex.TITLE_WORDS)} {rng.choice(lex.TITLE_WORDS)}"
    return Movie(key, title, rng.randint(1950, 2015), rng.choice(lex.GENRES), cast, objects,
                 places, events)


def write_plot(rng: random.Random, movie: Movie) -> None:
    """Scenes of plot sentences; records each event's split_plot line numbers."""
    intro = [f"{a.name} is a {a.role}, and {b.name} is a {b.role}."
             for a, b in zip(movie.cast[::2], movie.cast[1::2], strict=False)]
    if len(movie.cast) % 2:
        intro.append(f"{movie.cast[-1].name} is a {movie.cast[-1].role}.")
    scenes, line, prev = [intro], len(intro), None
    for i, ev in enumerate(movie.events):
        if i == 0 or rng.random() < 0.45:
            scenes.append([])
        if ev.agent is prev and rng.random() < 0.6:
            subj = cap(ev.agent.he)
        else:
            subj = f"The {ev.agent.role}" if rng.random() < 0.3 else ev.agent.name
        act = rng.choice(ev.action)
        core = f"{subj} {act[1]} {rng.choice(ev.obj)} {ev.prep} {rng.choice(ev.place)}"
        if rng.random() < 0.35:
            sents = [f"{core} {rng.choice(ev.means)} {rng.choice(ev.motive)}."]
        else:
            tails = [f"{cap(ev.agent.he)} does this {rng.choice(ev.motive)}.",
                     f"{cap(ev.agent.he)} manages it {rng.choice(ev.means)}."]
            rng.shuffle(tails)
            sents = [f"{core}."] + tails
        ev.plot_lines = list(range(line, line + len(sents)))
        scenes[-1].extend(sents)
        line += len(sents)
        prev = ev.agent
        if rng.random() < 0.3:  # a confuser or a filler, never inside an event
            prep, place = rng.choice(movie.places)
            extra = rng.choice(lex.SIGHTINGS).format(
                s=rng.choice(movie.cast).name, o=rng.choice(rng.choice(movie.objects)),
                p=f"{prep} {rng.choice(place)}") if rng.random() < 0.7 else rng.choice(lex.FILLERS)
            scenes[-1].append(extra)
            line += 1
            prev = None
    movie.plot = scenes


def write_dialogue(rng: random.Random, movie: Movie) -> None:
    """The same events as dialogue sentences (no speaker names, as in subtitles)."""
    lines: list[str] = []
    for ev in rng.sample(movie.events, len(movie.events)):
        past = rng.choice(ev.action)[2]
        obj, place = rng.choice(ev.obj), f"{ev.prep} {rng.choice(ev.place)}"
        motive, means = rng.choice(ev.motive), rng.choice(ev.means)
        style = rng.randrange(3)
        if style == 0:  # the agent confides in someone, who is the one named
            other = rng.choice([c for c in movie.cast if c is not ev.agent])
            lines += [f"{other.name}, I have to tell you something.", f"I {past} {obj} {place}.",
                      "But why?", f"{cap(motive)}.", "And how did you manage?",
                      f"I did it {means}."]
        elif style == 1:  # someone asks the agent
            lines += [f"{ev.agent.name}, what did you do {place}?", f"I {past} {obj}.",
                      "Why would you do that?", f"{cap(motive)}.", "How?", f"{cap(means)}."]
        else:  # gossip about the agent
            lines += [f"Did you hear about {ev.agent.name}?",
                      f"{cap(ev.agent.he)} {past} {obj} {place}.",
                      f"They say {ev.agent.he} did it {motive}.", f"Apparently {means}."]
        lines += rng.sample(lex.CHATTER, rng.randint(0, 2))
    movie.dialogue = lines


def srt(rng: random.Random, dialogue: list[str]) -> str:
    """SubRip cues; long sentences are broken over two lines or two cues, some in <i> tags."""
    cues: list[list[str]] = []
    for sent in dialogue:
        words = sent.split()
        if len(words) > 6 and rng.random() < 0.5:
            half = len(words) // 2
            parts = [" ".join(words[:half]), " ".join(words[half:])]
            cues += [parts] if rng.random() < 0.5 else [[parts[0]], [parts[1]]]
        else:
            cues.append([sent])
    out, t = [], 1000 * rng.randint(60, 300)
    for i, cue in enumerate(cues, 1):
        start, t = t, t + 1000 * rng.randint(2, 4)
        text = [f"<i>{c}</i>" if rng.random() < 0.1 else c for c in cue]
        out.append(f"{i}\n{_timecode(start)} --> {_timecode(t - 200)}\n" + "\n".join(text) + "\n")
        t += 1000 * rng.randint(0, 20)
    return "\n".join(out)


def _timecode(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def questions(rng: random.Random, movie: Movie) -> list[dict]:
    """who / what / where / why / how questions, the wrong answers from the same movie."""
    pool = [(ev, t) for ev in movie.events for t in QTYPES]
    out = []
    for ev, qtype in rng.sample(pool, rng.randint(12, 16)):
        base, third = rng.choice(ev.action)[:2]
        obj, place = rng.choice(ev.obj), f"{ev.prep} {rng.choice(ev.place)}"
        where = f" {place}" if rng.random() < 0.5 else ""
        if qtype == "who":
            q, right = f"Who {third} {obj}{where}?", ev.agent.name
            wrong = [c.name for c in movie.cast if c is not ev.agent]
        elif qtype == "what":
            q, right = f"What does {ev.agent.name} {base}{where}?", cap(ev.obj[0])
            wrong = [cap(o[0]) for o in movie.objects if o is not ev.obj]
        elif qtype == "where":
            q, right = f"Where does {ev.agent.name} {base} {obj}?", cap(f"{ev.prep} {ev.place[0]}")
            wrong = [cap(f"{p} {f[0]}") for p, f in movie.places if f is not ev.place]
        else:
            attr = "motive" if qtype == "why" else "means"
            q = f"{cap(qtype)} does {ev.agent.name} {base} {obj}?"
            right = cap(getattr(ev, attr)[0])
            wrong = [cap(getattr(e, attr)[0]) for e in movie.events if e is not ev]
        answers = [right] + rng.sample(wrong, 4)
        rng.shuffle(answers)
        out.append({"imdb_key": movie.key, "question": q, "answers": answers,
                    "correct_index": answers.index(right), "plot_alignment": ev.plot_lines,
                    "video_clips": []})
    return out


def _split_movies(rng: random.Random, keys: list[str]) -> dict[str, list[str]]:
    order = rng.sample(keys, len(keys))
    splits = {}
    for name, frac in SPLIT_FRACTIONS:
        n = max(1, round(frac * len(keys)))
        splits[name], order = order[:n], order[n:]
    return {"train": order, **splits}


def generate(folder: Path, seed: int, n_movies: int) -> None:
    """Write the whole release into `folder`."""
    movies = []
    for i in range(n_movies):
        rng = random.Random(f"movieqa-embedded:{seed}:{i}")  # a movie does not depend on n_movies
        movie = make_movie(rng, f"tt9{i:06d}")
        write_plot(rng, movie)
        write_dialogue(rng, movie)
        movies.append((rng, movie))
    splits = _split_movies(random.Random(f"movieqa-embedded-splits:{seed}"),
                           [m.key for _, m in movies])
    by_key = {m.key: (rng, m) for rng, m in movies}
    for sub in ("data", "story/plot", "story/split_plot", "story/subtt"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    qa_json, movies_json = [], []
    for split in ("train", "val", "test"):
        for key in splits[split]:
            rng, movie = by_key[key]
            for qa in questions(rng, movie):
                qa_json.append({"qid": f"{split}:{len(qa_json)}", **qa})
                if split == "test":
                    qa_json[-1]["correct_index"] = None
    for _, movie in movies:
        story = folder / "story"
        (story / "plot" / f"{movie.key}.wiki").write_text(
            "\n".join(" ".join(s) for s in movie.plot) + "\n", encoding="utf-8")
        (story / "split_plot" / f"{movie.key}.split.wiki").write_text(
            "\n".join(s for scene in movie.plot for s in scene) + "\n", encoding="utf-8")
        (story / "subtt" / f"{movie.key}.srt").write_text(srt(by_key[movie.key][0],
                                                               movie.dialogue), encoding="utf-8")
        movies_json.append({"imdb_key": movie.key, "name": movie.title, "year": str(movie.year),
                            "genre": movie.genre,
                            "text": {"plot": f"story/plot/{movie.key}.wiki",
                                     "subtitle": f"story/subtt/{movie.key}.srt",
                                     "dvs": None, "script": None}})
    for name, obj in (("qa", qa_json), ("movies", movies_json), ("splits", splits)):
        (folder / "data" / f"{name}.json").write_text(json.dumps(obj, indent=1) + "\n",
                                                      encoding="utf-8")


def write_embedded(cache_dir: str | Path, seed: int = 0, n_movies: int = 200) -> Path:
    """Write the embedded set into a folder under `cache_dir` (once) and return that folder."""
    if n_movies < 3:
        raise UserError(f"n_movies={n_movies} is too few for train / val / test movies",
                        "use n_movies >= 3")
    root = Path(cache_dir) / f"movieqa-embedded-s{seed}-m{n_movies}-v{FORMAT_VERSION}"
    if (root / ".complete").is_file():
        return root
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    generate(tmp, seed, n_movies)
    (tmp / ".complete").write_text(f"{FORMAT_VERSION}\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def load_embedded(cache_dir: str | Path, seed: int = 0, n_movies: int = 200) -> MovieQARelease:
    """The embedded set, through the same loader as the real release."""
    return MovieQARelease(write_embedded(cache_dir, seed, n_movies))
