"""The lexicon of the embedded MovieQA-like set (`embedded.py`): characters, places, objects,
actions, motives and means, each with paraphrases so that the story, the question and the answer
name the same thing in different words (as MovieQA's annotators paraphrase the plot, Sec. 3.2).

Entries are "canonical|paraphrase|...": answers use the canonical form, stories and questions
draw any form.
"""

from __future__ import annotations

MALE = ["Boris", "Victor", "Hugo", "Felix", "Oscar", "Marco", "Tobias", "Anton", "Julian", "Silas", "Elliot", "Rafael", "Dmitri", "Lionel", "Caspar", "Milo", "Gregor", "Henrik", "Ivan", "Lucas"]
FEMALE = ["Anna", "Clara", "Vera", "Irene", "Nadia", "Sofia", "Lena", "Mira", "Greta", "Helena", "Ingrid", "Rosa", "Celia", "Dora", "Eliza", "Frida", "Judith", "Lydia", "Marta", "Olga"]
ROLES = ["journalist", "detective", "baker", "smuggler", "nurse", "banker", "priest", "mechanic", "painter", "sailor", "teacher", "gambler", "violinist", "lawyer", "pilot", "gardener", "pharmacist", "locksmith", "photographer", "chef"]

# preposition | canonical place | paraphrases
PLACES = (
    "at|the harbor|the docks|the waterfront",
    "at|the old mill|the abandoned mill",
    "at|the train station|the railway platform",
    "in|the library|the reading room",
    "in|the cellar|the basement",
    "on|the rooftop|the roof",
    "at|the casino|the gambling hall",
    "in|the chapel|the little church",
    "at|the lighthouse|the beacon tower",
    "at|the hospital|the clinic",
    "in|the bakery|the bread shop",
    "in|the warehouse|the storage depot",
    "in|the hotel lobby|the hotel entrance hall",
    "in|the forest cabin|the hut in the woods",
    "at|the police station|the precinct",
    "in|the museum|the gallery",
    "on|the market square|the marketplace",
    "in|the theater|the playhouse",
    "at|the farmhouse|the farm",
    "in|the cemetery|the graveyard",
    "on|the bridge|the river crossing",
    "in|the garage|the workshop",
)

OBJECTS = (
    "the ledger|the account book", "the letter|the note|the message",
    "the pistol|the gun|the revolver", "the necklace|the pendant", "the map|the chart",
    "the suitcase|the luggage|the bag", "the photograph|the picture|the photo",
    "the diary|the journal", "the painting|the canvas", "the ring|the wedding band",
    "the pocket watch|the timepiece", "the medicine|the pills", "the money|the cash",
    "the tape recording|the cassette", "the passport|the travel papers",
    "the violin|the fiddle", "the knife|the blade", "the camera|the film camera",
    "the contract|the signed agreement", "the statue|the figurine", "the will|the testament",
)

# each form: base / third person / past, e.g. "hide/hides/hid"
ACTIONS = (
    "steal/steals/stole|take/takes/took|snatch/snatches/snatched|pocket/pockets/pocketed",
    "hide/hides/hid|conceal/conceals/concealed|stash/stashes/stashed",
    "find/finds/found|discover/discovers/discovered|uncover/uncovers/uncovered",
    "burn/burns/burned|destroy/destroys/destroyed|set fire to/sets fire to/set fire to",
    "sell/sells/sold|pawn/pawns/pawned|trade away/trades away/traded away",
    "deliver/delivers/delivered|bring/brings/brought|hand over/hands over/handed over",
    "buy/buys/bought|purchase/purchases/purchased|acquire/acquires/acquired",
    "repair/repairs/repaired|fix/fixes/fixed|mend/mends/mended",
    "copy/copies/copied|duplicate/duplicates/duplicated|reproduce/reproduces/reproduced",
    "examine/examines/examined|inspect/inspects/inspected|study/studies/studied",
    "discard/discards/discarded|throw away/throws away/threw away|dump/dumps/dumped",
    "return/returns/returned|give back/gives back/gave back",
    "lose/loses/lost|misplace/misplaces/misplaced",
)

# canonical answer | ways the story says it (they follow "does this" or stand alone in dialogue)
MOTIVES = (
    "to pay off a gambling debt|because of the money owed to gamblers|since the gamblers want "
    "their money back",
    "to protect a younger brother|so that the younger brother stays safe|to keep the little "
    "brother out of danger",
    "to win back a lost love|hoping to reconquer an old sweetheart|in order to regain the "
    "affection of a former lover",
    "to frame a rival|so that suspicion falls on a competitor|to put the blame on an enemy",
    "to escape the country|because of a plan to flee abroad|in order to leave the country for good",
    "to expose a corrupt mayor|so that the crooked mayor is revealed|to show everyone the mayor "
    "is dishonest",
    "to save the family farm|so that the farm of the family is not lost|to keep the old farm "
    "from foreclosure",
    "to take revenge for a betrayal|out of vengeance after being betrayed|to get even with a "
    "traitor",
    "to pay for an operation|because a surgery must be paid for|to cover the cost of surgery",
    "to impress a wealthy family|hoping to charm some rich relatives|so that the rich in-laws "
    "are impressed",
    "to keep a dark secret|so that nobody learns about a hidden past|to cover up a shameful "
    "episode",
    "to blackmail a banker|in order to extort money from a banker|so that the banker can be "
    "squeezed for cash",
    "to warn the police|to alert the officers|so that the authorities are tipped off",
    "to cure a sick child|because a little one is ill and needs help|so that an ailing kid can "
    "recover",
    "to clear an innocent friend|to clear a wrongly accused name|to show the accusation is false",
    "to start a new life|hoping to begin again somewhere else|for a fresh beginning",
    "to honor a dying wish|because a dying friend asked for it|as a last request demanded",
    "to win a bet|because of a wager with a friend|to collect on a wager",
    "to destroy the evidence|so that no proof remains|to leave no trace of the crime",
    "to get a promotion|hoping to rise at work|to be promoted by the boss",
)

MEANS = (
    "with a copied key|using a duplicate key|by means of a spare key made in secret",
    "by bribing the guard|after paying off the watchman|by slipping the guard some cash",
    "by climbing through a window|through an open window|by sneaking in via a window",
    "disguised as a waiter|dressed as a waiter|wearing the uniform of a waiter",
    "by pretending to be ill|by faking an illness|while feigning sickness",
    "with the help of a child|aided by a little kid|with the assistance of a youngster",
    "during a power cut|while the lights are out|in the middle of a blackout",
    "by picking the lock|by forcing the lock with a hairpin|after jimmying the lock",
    "under cover of a storm|while a storm rages|hidden by the heavy rain",
    "by distracting the owner|while the owner is distracted|after luring the owner away",
    "with forged papers|using fake documents|with counterfeit paperwork",
    "through a secret tunnel|via a hidden passage|through an underground corridor",
    "by posing as a police officer|pretending to be a cop|impersonating an officer",
    "during the wedding party|while the wedding guests dance|in the middle of the wedding "
    "celebration",
    "with a rowing boat|by rowing across the water|in a small boat",
    "by following a stranger|by trailing an unknown man|after shadowing a stranger",
    "in the middle of the night|at midnight|late at night while everyone sleeps",
    "by flattering the clerk|by charming the clerk|with compliments to the clerk",
    "under a false name|under a false identity|with an assumed name",
    "with a borrowed car|in a car taken from a neighbour|driving a loaned car",
)

# sentences that mention an entity without being an event a question asks about
SIGHTINGS = ("{s} notices {o} {p}.", "{s} talks about {o} {p}.", "{s} walks past {p} and "
             "thinks about {o}.", "{s} asks about {o} {p}.")
FILLERS = ("Days pass without news.", "The weather turns cold.", "The town prepares for the "
           "festival.", "A week goes by.", "Rumours spread through the town.",
           "Nobody sleeps well that night.")
CHATTER = ("Good morning.", "Is anyone there?", "Come in, sit down.", "I need a coffee.",
           "We should go.", "Not now!", "What time is it?", "Be careful out there.",
           "Did you eat anything today?", "Close the door, please.", "It is getting late.",
           "Listen to me.")
TITLE_WORDS = ["Silent", "Broken", "Last", "Hidden", "Red", "Cold", "Long", "Midnight", "Quiet", "Bitter", "Golden", "Lost", "Harbor", "Promise", "Winter", "Bridge", "Summer", "Road", "Letter", "Shadow", "Debt", "River", "Secret", "Station"]
GENRES = ("Drama", "Crime, Drama", "Mystery, Thriller", "Comedy, Drama", "Romance, Drama",
          "Crime, Mystery")
