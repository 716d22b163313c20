"""Natural phrases for each sound class, and a second, hand-written table kept for testing.

`PHRASES` is what training captions are built from: for every class a few clauses ("a dog
barks") and matching noun phrases ("a dog barking", for "followed by"), and whether the sound
is a countable event ("barks twice") or a continuous one ("rain falls").

`REWORDINGS` is a held-out table for the third kind of test query: other words for every class,
count and relation. No training caption and no paraphrase prompt uses its content words (a test
checks that), so a model can only match them through what it learnt from paraphrases.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassPhrases:
    countable: bool
    clauses: tuple[str, ...]  # "a dog barks"
    nouns: tuple[str, ...]  # "a dog barking" (same order as clauses)


def _p(countable: bool, spec: str) -> ClassPhrases:
    clauses, nouns = [], []
    for pair in spec.split(";"):
        clause, noun = (x.strip() for x in pair.split("|"))
        clauses.append(clause)
        nouns.append(noun)
    return ClassPhrases(countable, tuple(clauses), tuple(nouns))


C, S = True, False  # countable events, continuous (steady) sounds

PHRASES: dict[str, ClassPhrases] = {
    "airplane": _p(S, "an airplane flies overhead | an airplane flying overhead;"
                      "a plane passes overhead | a plane passing overhead"),
    "breathing": _p(S, "someone breathes heavily | someone breathing heavily;"
                       "a person is breathing | a person breathing"),
    "brushing_teeth": _p(S, "someone brushes their teeth | someone brushing their teeth"),
    "can_opening": _p(C, "a can is opened | a can being opened;"
                         "someone opens a can | someone opening a can"),
    "car_horn": _p(C, "a car horn honks | a car horn honking;"
                      "a car honks its horn | a car honking its horn"),
    "cat": _p(C, "a cat meows | a cat meowing"),
    "chainsaw": _p(S, "a chainsaw runs | a chainsaw running;"
                      "a chainsaw is cutting | a chainsaw cutting"),
    "chirping_birds": _p(S, "birds chirp | birds chirping;"
                            "birds are singing | birds singing"),
    "church_bells": _p(C, "a church bell rings | a church bell ringing"),
    "clapping": _p(S, "people clap | people clapping;"
                      "an audience applauds | an audience applauding"),
    "clock_alarm": _p(C, "an alarm clock rings | an alarm clock ringing"),
    "clock_tick": _p(S, "a clock ticks | a clock ticking"),
    "coughing": _p(C, "someone coughs | someone coughing;"
                      "a person coughs | a person coughing"),
    "cow": _p(C, "a cow moos | a cow mooing"),
    "crackling_fire": _p(S, "a fire crackles | a fire crackling;"
                            "wood burns in a fire | wood burning in a fire"),
    "crickets": _p(S, "crickets chirp | crickets chirping"),
    "crow": _p(C, "a crow caws | a crow cawing"),
    "crying_baby": _p(S, "a baby cries | a baby crying;"
                         "an infant is crying | an infant crying"),
    "dog": _p(C, "a dog barks | a dog barking"),
    "door_wood_creaks": _p(C, "a door creaks | a door creaking;"
                              "a wooden door squeaks | a wooden door squeaking"),
    "door_wood_knock": _p(C, "someone knocks on a door | someone knocking on a door;"
                             "a knock on a wooden door | a knock on a wooden door"),
    "drinking_sipping": _p(S, "someone drinks | someone drinking;"
                              "a person sips a drink | a person sipping a drink"),
    "engine": _p(S, "an engine runs | an engine running;"
                    "a motor is idling | a motor idling"),
    "fireworks": _p(C, "fireworks explode | fireworks exploding;"
                       "a firework bangs | a firework banging"),
    "footsteps": _p(S, "someone walks | someone walking;"
                       "footsteps are heard | footsteps"),
    "frog": _p(C, "a frog croaks | a frog croaking"),
    "glass_breaking": _p(C, "glass breaks | glass breaking;"
                            "a glass shatters | a glass shattering"),
    "hand_saw": _p(S, "someone saws wood | someone sawing wood;"
                      "a hand saw cuts wood | a hand saw cutting wood"),
    "helicopter": _p(S, "a helicopter flies by | a helicopter flying by"),
    "hen": _p(C, "a hen clucks | a hen clucking;"
                 "a chicken clucks | a chicken clucking"),
    "insects": _p(S, "insects buzz | insects buzzing;"
                     "a fly is buzzing | a fly buzzing"),
    "keyboard_typing": _p(S, "someone types on a keyboard | someone typing on a keyboard;"
                             "keys are typed | typing on a keyboard"),
    "laughing": _p(C, "someone laughs | someone laughing;"
                      "a person laughs | a person laughing"),
    "mouse_click": _p(C, "a mouse clicks | a mouse clicking;"
                         "a computer mouse is clicked | a computer mouse being clicked"),
    "pig": _p(C, "a pig oinks | a pig oinking;"
                 "a pig grunts | a pig grunting"),
    "pouring_water": _p(S, "water is poured | water being poured;"
                           "someone pours water | someone pouring water"),
    "rain": _p(S, "rain falls | rain falling;"
                  "it is raining | rain"),
    "rooster": _p(C, "a rooster crows | a rooster crowing"),
    "sea_waves": _p(S, "waves crash on the shore | waves crashing on the shore;"
                       "the sea washes in | the sea washing in"),
    "sheep": _p(C, "a sheep bleats | a sheep bleating"),
    "siren": _p(S, "a siren wails | a siren wailing;"
                   "an ambulance siren sounds | an ambulance siren sounding"),
    "sneezing": _p(C, "someone sneezes | someone sneezing;"
                      "a person sneezes | a person sneezing"),
    "snoring": _p(S, "someone snores | someone snoring;"
                     "a person is snoring | a person snoring"),
    "thunderstorm": _p(S, "thunder rumbles | thunder rumbling;"
                          "a thunderstorm rages | a thunderstorm raging"),
    "toilet_flush": _p(C, "a toilet flushes | a toilet flushing;"
                          "someone flushes a toilet | someone flushing a toilet"),
    "train": _p(S, "a train passes | a train passing;"
                   "a train rolls by | a train rolling by"),
    "vacuum_cleaner": _p(S, "a vacuum cleaner runs | a vacuum cleaner running;"
                            "someone vacuums | someone vacuuming"),
    "washing_machine": _p(S, "a washing machine runs | a washing machine running;"
                             "a washing machine spins | a washing machine spinning"),
    "water_drops": _p(S, "water drips | water dripping;"
                         "drops of water fall | drops of water falling"),
    "wind": _p(S, "wind blows | wind blowing;"
                  "the wind is howling | the wind howling"),
    # the CC0 BigSoundBank animals not in ESC-50 (the others share an ESC-50 class)
    "duck": _p(C, "a duck quacks | a duck quacking"),
    "horse": _p(C, "a horse neighs | a horse neighing"),
    "owl": _p(C, "an owl hoots | an owl hooting"),
}

# counted repeats: the training grammar's words, and the held-out ones
COUNT_WORDS = {1: "", 2: "twice", 3: "three times"}
COUNT_REWORDINGS = {1: "", 2: "a couple of times", 3: "thrice"}

# relations: sequence ("A, then B" / "A, followed by B-ing") and overlap ("A while B")
SEQUENCE_TEMPLATES = ("{a}, then {b}", "{a}, followed by {b_noun}")
OVERLAP_TEMPLATES = ("{a} while {b}",)
# held out: other connectives for the same two relations (no prompt uses these words)
SEQUENCE_REWORDINGS = ("{a}, and subsequently {b}",)
OVERLAP_REWORDINGS = ("{a} simultaneously with {b_noun}",)

# other words for each class; clause and noun phrase, as in PHRASES
REWORDINGS: dict[str, tuple[str, str]] = {
    "airplane": ("a jet screams across the sky", "a jet screaming across the sky"),
    "breathing": ("somebody inhales and exhales", "somebody inhaling and exhaling"),
    "brushing_teeth": ("somebody scrubs their molars", "somebody scrubbing their molars"),
    "can_opening": ("a canister gets popped", "a canister getting popped"),
    "car_horn": ("an automobile beeps", "an automobile beeping"),
    "cat": ("a kitty mews", "a kitty mewing"),
    "chainsaw": ("a power tool rips through timber", "a power tool ripping through timber"),
    "chirping_birds": ("finches warble", "finches warbling"),
    "church_bells": ("a chapel chime tolls", "a chapel chime tolling"),
    "clapping": ("a crowd gives applause", "a crowd giving applause"),
    "clock_alarm": ("a wake-up buzzer goes off", "a wake-up buzzer going off"),
    "clock_tick": ("a timepiece tocks", "a timepiece tocking"),
    "coughing": ("somebody hacks", "somebody hacking"),
    "cow": ("cattle low", "cattle lowing"),
    "crackling_fire": ("flames pop and hiss", "flames popping and hissing"),
    "crickets": ("grasshoppers trill", "grasshoppers trilling"),
    "crow": ("a raven squawks", "a raven squawking"),
    "crying_baby": ("a newborn sobs in distress", "a newborn sobbing in distress"),
    "dog": ("a puppy woofs", "a puppy woofing"),
    "door_wood_creaks": ("hinges groan", "hinges groaning"),
    "door_wood_knock": ("somebody raps at an entrance", "somebody rapping at an entrance"),
    "drinking_sipping": ("somebody slurps a beverage", "somebody slurping a beverage"),
    "engine": ("a combustion unit hums", "a combustion unit humming"),
    "fireworks": ("pyrotechnics detonate", "pyrotechnics detonating"),
    "footsteps": ("somebody strides along", "somebody striding along"),
    "frog": ("a toad ribbits", "a toad ribbiting"),
    "glass_breaking": ("a windowpane smashes", "a windowpane smashing"),
    "hand_saw": ("a blade rasps through lumber", "a blade rasping through lumber"),
    "helicopter": ("a chopper whirs past", "a chopper whirring past"),
    "hen": ("poultry cackles", "poultry cackling"),
    "insects": ("bugs drone", "bugs droning"),
    "keyboard_typing": ("somebody clacks at a keypad", "somebody clacking at a keypad"),
    "laughing": ("somebody giggles", "somebody giggling"),
    "mouse_click": ("a pointer button snaps", "a pointer button snapping"),
    "pig": ("a hog snorts", "a hog snorting"),
    "pouring_water": ("a jug empties into a tumbler", "a jug emptying into a tumbler"),
    "rain": ("showers drum down", "showers drumming down"),
    "rooster": ("a cockerel calls at dawn", "a cockerel calling at dawn"),
    "sea_waves": ("surf pounds a beach", "surf pounding a beach"),
    "sheep": ("a lamb baas", "a lamb baaing"),
    "siren": ("an emergency klaxon blares", "an emergency klaxon blaring"),
    "sneezing": ("somebody goes achoo", "somebody going achoo"),
    "snoring": ("a sleeper rasps through the night", "a sleeper rasping through the night"),
    "thunderstorm": ("a tempest growls", "a tempest growling"),
    "toilet_flush": ("a lavatory drains", "a lavatory draining"),
    "train": ("a locomotive chugs along", "a locomotive chugging along"),
    "vacuum_cleaner": ("a hoover whines", "a hoover whining"),
    "washing_machine": ("a laundry appliance churns", "a laundry appliance churning"),
    "water_drops": ("a leak plinks steadily", "a leak plinking steadily"),
    "wind": ("a gale gusts", "a gale gusting"),
    "duck": ("a mallard gabbles", "a mallard gabbling"),
    "horse": ("a stallion whinnies", "a stallion whinnying"),
    "owl": ("a nocturnal raptor calls hoo-hoo", "a nocturnal raptor calling hoo-hoo"),
}

# ESC-50 category or BigSoundBank label -> class name used here
BIGSOUNDBANK_CLASSES = {"cat": "cat", "cow": "cow", "dog": "dog", "duck": "duck",
                        "frog": "frog", "horse": "horse", "owl": "owl", "pig": "pig",
                        "rooster": "rooster", "sheep": "sheep"}
