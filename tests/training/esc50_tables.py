"""CAPTIONS and CORPUS tables for real ESC-50 clips, written by hand (no LLM involved).

Each class has one caption and two level-1 paraphrases (same words, new structure) and two
level-2 paraphrases (new words). Splits are deterministic per class: of each class's clips in
file-name order, positions 0-2 mod 5 are train, 3 is val, 4 is test.

Also a script for the end-to-end CLI demo:
    .venv/bin/python tests/training/esc50_tables.py ../shared/data/esc50 OUT_DIR
writes OUT_DIR/captions.parquet and OUT_DIR/corpus/accepted.parquet.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

# class: (caption, (level-1, level-1), (level-2, level-2))
TEXTS: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "airplane": ("an airplane flies overhead", ("overhead an airplane flies",
                 "flying overhead is an airplane"), ("a jet passes in the sky above",
                 "an aircraft roars high up")),
    "breathing": ("a person is breathing heavily", ("heavily a person is breathing",
                  "breathing heavily is a person"), ("someone pants and inhales hard",
                  "loud gasps of air from a man")),
    "brushing_teeth": ("someone brushes their teeth", ("teeth are brushed by someone",
                       "their teeth someone brushes"), ("a toothbrush scrubs back and forth",
                       "a person cleans the mouth with bristles")),
    "can_opening": ("a can is opened with a hiss", ("with a hiss a can is opened",
                    "opened with a hiss is a can"), ("a soda tab pops and fizzes",
                    "a drink tin cracks open")),
    "car_horn": ("a car horn honks", ("honking from a car horn", "a horn of a car honks"),
                 ("a vehicle beeps loudly", "a motorist sounds the klaxon")),
    "cat": ("a cat meows", ("meowing from a cat", "a cat is meowing"),
            ("a kitten mews", "a feline cries out")),
    "chainsaw": ("a chainsaw cuts wood", ("wood is cut by a chainsaw",
                 "cutting wood is a chainsaw"), ("a power saw buzzes through logs",
                 "a motor blade slices timber")),
    "chirping_birds": ("birds are chirping", ("chirping birds are heard",
                       "there are birds chirping"), ("small songbirds tweet",
                       "a flock whistles in the trees")),
    "church_bells": ("church bells ring", ("bells of a church ring",
                     "ringing church bells"), ("a chapel chime tolls",
                     "a steeple peals repeatedly")),
    "clapping": ("people are clapping", ("clapping by people", "there are people clapping"),
                 ("an audience applauds", "hands slap together in applause")),
    "clock_alarm": ("a clock alarm rings", ("ringing of a clock alarm",
                    "an alarm clock rings"), ("a wake-up buzzer goes off",
                    "a bedside timer beeps")),
    "clock_tick": ("a clock ticks", ("ticking of a clock", "a clock is ticking"),
                   ("a watch tocks steadily", "a pendulum counts the seconds")),
    "coughing": ("a person is coughing", ("coughing from a person", "a person coughs"),
                 ("someone hacks and clears the throat", "a man splutters")),
    "cow": ("a cow moos", ("mooing of a cow", "a cow is mooing"),
            ("cattle low in a field", "a bovine bellows")),
    "crackling_fire": ("a fire is crackling", ("crackling of a fire", "a crackling fire"),
                       ("logs pop in a campfire", "flames snap and hiss")),
    "crickets": ("crickets chirp at night", ("at night crickets chirp",
                 "chirping crickets at night"), ("insects trill in the dark",
                 "a nocturnal buzzing of bugs")),
    "crow": ("a crow caws", ("cawing of a crow", "a crow is cawing"),
             ("a raven croaks harshly", "a black bird squawks")),
    "crying_baby": ("a baby is crying", ("crying of a baby", "a crying baby"),
                    ("an infant wails", "a newborn sobs loudly")),
    "dog": ("a dog barks", ("barking from a dog", "a dog is barking"),
            ("a puppy yaps", "a hound woofs loudly")),
    "door_wood_creaks": ("a wooden door creaks", ("creaking of a wooden door",
                         "a door of wood creaks"), ("old hinges squeak as a gate swings",
                         "a timber panel groans open")),
    "door_wood_knock": ("someone knocks on a wooden door", ("on a wooden door someone knocks",
                        "knocking on a wooden door"), ("a visitor raps at the entrance",
                        "knuckles tap on timber")),
    "drinking_sipping": ("a person is sipping a drink", ("sipping a drink is a person",
                         "a drink is sipped by a person"), ("someone slurps a beverage",
                         "a man gulps liquid")),
    "engine": ("an engine is running", ("running is an engine", "an engine runs"),
               ("a motor idles and rumbles", "a vehicle powerplant hums")),
    "fireworks": ("fireworks explode", ("exploding fireworks", "fireworks are exploding"),
                  ("rockets burst in the sky", "pyrotechnics bang and crackle")),
    "footsteps": ("footsteps walk on the floor", ("on the floor footsteps walk",
                  "walking footsteps on the floor"), ("a person strides across the room",
                  "shoes tread on boards")),
    "frog": ("a frog croaks", ("croaking of a frog", "a frog is croaking"),
             ("a toad ribbits", "an amphibian calls by the pond")),
    "glass_breaking": ("glass is breaking", ("breaking glass", "glass breaks"),
                       ("a window shatters", "a bottle smashes into shards")),
    "hand_saw": ("a hand saw cuts wood", ("wood is cut by a hand saw",
                 "cutting wood with a hand saw"), ("a manual blade rasps through a plank",
                 "someone saws lumber by hand")),
    "helicopter": ("a helicopter flies by", ("flying by is a helicopter",
                   "by flies a helicopter"), ("rotor blades chop the air",
                   "a chopper passes over")),
    "hen": ("a hen clucks", ("clucking of a hen", "a hen is clucking"),
            ("a chicken cackles", "poultry squawk in a coop")),
    "insects": ("insects are buzzing", ("buzzing insects", "insects buzz"),
                ("flies hum around", "bees drone nearby")),
    "keyboard_typing": ("someone is typing on a keyboard", ("on a keyboard someone is typing",
                        "typing on a keyboard"), ("fingers tap computer keys",
                        "a person writes on a laptop")),
    "laughing": ("people are laughing", ("laughing people", "there are people laughing"),
                 ("a group giggles", "friends chuckle loudly")),
    "mouse_click": ("a mouse clicks", ("clicking of a mouse", "a mouse is clicking"),
                    ("a computer button taps", "a pointer device snaps")),
    "pig": ("a pig oinks", ("oinking of a pig", "a pig is oinking"),
            ("a hog grunts", "a swine snorts in the mud")),
    "pouring_water": ("water is poured into a glass", ("into a glass water is poured",
                      "pouring water into a glass"), ("liquid splashes into a cup",
                      "someone fills a jug from a tap")),
    "rain": ("rain is falling", ("falling rain", "rain falls"),
             ("a downpour patters on a roof", "showers drizzle steadily")),
    "rooster": ("a rooster crows", ("crowing of a rooster", "a rooster is crowing"),
                ("a cockerel calls at dawn", "a farm bird announces the morning")),
    "sea_waves": ("sea waves crash", ("crashing sea waves", "waves of the sea crash"),
                  ("surf breaks on a beach", "the ocean swells and splashes")),
    "sheep": ("a sheep bleats", ("bleating of a sheep", "a sheep is bleating"),
              ("a lamb baas", "an ewe calls in a meadow")),
    "siren": ("a siren wails", ("wailing of a siren", "a siren is wailing"),
              ("an ambulance alarm howls", "a police car warns loudly")),
    "sneezing": ("a person sneezes", ("sneezing of a person", "a person is sneezing"),
                 ("someone goes achoo", "a man blows out a sudden sneeze")),
    "snoring": ("a person is snoring", ("snoring is a person", "a person snores"),
                ("a sleeper rumbles through the nose", "someone saws logs in bed")),
    "thunderstorm": ("thunder rumbles in a storm", ("in a storm thunder rumbles",
                     "rumbling thunder in a storm"), ("lightning cracks and booms",
                     "a tempest roars overhead")),
    "toilet_flush": ("a toilet is flushed", ("flushing a toilet", "a toilet flushes"),
                     ("a lavatory drains with a whoosh", "a cistern empties")),
    "train": ("a train passes by", ("passing by is a train", "by passes a train"),
              ("a locomotive rattles on rails", "railway cars clatter past")),
    "vacuum_cleaner": ("a vacuum cleaner is running", ("running is a vacuum cleaner",
                       "a vacuum cleaner runs"), ("a hoover whirs over a carpet",
                       "a suction machine drones")),
    "washing_machine": ("a washing machine spins", ("spinning is a washing machine",
                        "a washing machine is spinning"), ("a laundry appliance churns",
                        "a washer rumbles through its cycle")),
    "water_drops": ("water drops drip", ("dripping water drops", "drops of water drip"),
                    ("a leaky tap plinks", "droplets fall into a basin")),
    "wind": ("wind is blowing", ("blowing wind", "the wind blows"),
             ("a gale howls", "a breeze gusts past")),
}

SOURCE = "esc50-handwritten"


def _id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]


def read_meta(esc50_dir: Path) -> list[dict[str, str]]:
    with (esc50_dir / "meta.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def split_of(position: int) -> str:
    return {3: "val", 4: "test"}.get(position % 5, "train")


def build_rows(meta: list[dict[str, str]], per_class: int | None = None
               ) -> tuple[list[dict], list[dict]]:
    """(captions rows, corpus rows) for the clips in `meta` (optionally the first N per
    class). clip_id is the file stem."""
    captions, corpus = [], []
    by_class: dict[str, list[str]] = {}
    for row in sorted(meta, key=lambda r: r["filename"]):
        by_class.setdefault(row["category"], []).append(row["filename"])
    for category, files in sorted(by_class.items()):
        caption, l1, l2 = TEXTS[category]
        for pos, filename in enumerate(files[:per_class]):
            clip = Path(filename).stem
            split = split_of(pos)
            cid = _id(SOURCE, clip, caption)
            captions.append({"caption_id": cid, "clip_id": clip, "split": split,
                             "caption": caption, "source": SOURCE, "source_file": "meta.csv",
                             "source_row": pos})
            for level, texts in ((1, l1), (2, l2)):
                for rank, text in enumerate(texts):
                    corpus.append({"caption_id": cid, "clip_id": clip, "split": split,
                                   "source": SOURCE, "caption": caption, "level": level,
                                   "candidate": rank, "paraphrase": text, "rank": rank,
                                   "gate_version": "handwritten"})
    return captions, corpus


def write_tables(esc50_dir: Path, out_dir: Path, per_class: int | None = None
                 ) -> tuple[Path, Path]:
    from robustclap.contracts.schema import CAPTIONS, CORPUS, write_table

    captions, corpus = build_rows(read_meta(esc50_dir), per_class)
    cap_path = write_table(CAPTIONS, captions, out_dir / "captions.parquet")
    write_table(CORPUS, corpus, out_dir / "corpus" / "accepted.parquet")
    return cap_path, out_dir / "corpus"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: esc50_tables.py ESC50_DIR OUT_DIR")
    cap, corp = write_tables(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {cap} and {corp}/accepted.parquet")
