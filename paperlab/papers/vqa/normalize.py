"""The official VQA answer normalisation (Antol et al. 2015, Sec. 4; the evaluation code of
GT-Vision-Lab/VQA, `vqaEval.py`), reproduced with all of its quirks:

* punctuation: each of 21 characters is deleted when it touches a space anywhere in the answer
  (or when the answer holds a digit-comma-digit), else replaced by a space. The decision is taken
  per character on the *original* answer. Apostrophes, colons and periods are not in the list.
* periods: the pattern `(?!<=\\d)(\\.)(?!\\d)` (a mistyped look-behind that in effect removes every
  period not followed by a digit) is applied with `count=re.UNICODE`, i.e. at most **32** periods
  are removed: the official call passes the flag where `re.sub` takes its count.
* words: lower-cased and split on whitespace; number words `none`, `zero` ... `ten` become digits;
  the articles `a`, `an`, `the` are dropped; then contractions missing their apostrophe are
  restored (`dont` -> `don't`). Words are re-joined with single spaces.

`normalize_answer` is `process_digit_article(process_punctuation(answer))`, the full official
normalisation; callers strip newlines/tabs/outer spaces first (`strip_answer`), as the evaluator does.
"""

from __future__ import annotations

import re

PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
# re.sub(pattern, repl, string, count): the official code passes re.UNICODE (32) as the count.
PERIOD_STRIP_COUNT = int(re.UNICODE)

NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = frozenset({"a", "an", "the"})

# The official contraction table, "word-as-typed:restored" pairs. Its oddities are kept on purpose
# (`somebody'd` maps to `somebodyd`; the capitalised keys can never match lower-cased words).
_CONTRACTIONS = """
aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't couldn'tve:couldn't've
couldnt've:couldn't've didnt:didn't doesnt:doesn't dont:don't hadnt:hadn't hadnt've:hadn't've
hadn'tve:hadn't've hasnt:hasn't havent:haven't hed:he'd hed've:he'd've he'dve:he'd've hes:he's
howd:how'd howll:how'll hows:how's Id've:I'd've I'dve:I'd've Im:I'm Ive:I've isnt:isn't itd:it'd
itd've:it'd've it'dve:it'd've itll:it'll let's:let's maam:ma'am mightnt:mightn't
mightnt've:mightn't've mightn'tve:mightn't've mightve:might've mustnt:mustn't mustve:must've
neednt:needn't notve:not've oclock:o'clock oughtnt:oughtn't ow's'at:'ow's'at 'ows'at:'ow's'at
'ow'sat:'ow's'at shant:shan't shed've:she'd've she'dve:she'd've she's:she's shouldve:should've
shouldnt:shouldn't shouldnt've:shouldn't've shouldn'tve:shouldn't've somebody'd:somebodyd
somebodyd've:somebody'd've somebody'dve:somebody'd've somebodyll:somebody'll somebodys:somebody's
someoned:someone'd someoned've:someone'd've someone'dve:someone'd've someonell:someone'll
someones:someone's somethingd:something'd somethingd've:something'd've something'dve:something'd've
somethingll:something'll thats:that's thered:there'd thered've:there'd've there'dve:there'd've
therere:there're theres:there's theyd:they'd theyd've:they'd've they'dve:they'd've theyll:they'll
theyre:they're theyve:they've twas:'twas wasnt:wasn't wed've:we'd've we'dve:we'd've weve:we've
werent:weren't whatll:what'll whatre:what're whats:what's whatve:what've whens:when's whered:where'd
wheres:where's whereve:where've whod:who'd whod've:who'd've who'dve:who'd've wholl:who'll whos:who's
whove:who've whyll:why'll whyre:why're whys:why's wont:won't wouldve:would've wouldnt:wouldn't
wouldnt've:wouldn't've wouldn'tve:wouldn't've yall:y'all yall'll:y'all'll y'allll:y'all'll
yall'd've:y'all'd've y'alld've:y'all'd've y'all'dve:y'all'd've youd:you'd youd've:you'd've
you'dve:you'd've youll:you'll youre:you're youve:you've
"""
CONTRACTIONS: dict[str, str] = dict(pair.split(":") for pair in _CONTRACTIONS.split())

# One pass over the answer finds which of the listed characters occur at all: most answers have
# none, and the per-character decisions only matter for those that do.
_ANY_PUNCT = re.compile("[" + re.escape("".join(PUNCT)) + "]")


def strip_answer(answer: str) -> str:
    """Newlines and tabs to spaces, outer whitespace removed (done to every answer first)."""
    return answer.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """The official `processPunctuation` (see the module docstring for its rules)."""
    if _ANY_PUNCT.search(text) is not None:
        delete_all = COMMA_STRIP.search(text) is not None
        out = text
        for p in set(_ANY_PUNCT.findall(text)):
            # decided on the original text, so the order of the characters does not matter
            touches_space = delete_all or (p + " " in text) or (" " + p in text)
            out = out.replace(p, "" if touches_space else " ")
        text = out
    if "." in text:
        text = PERIOD_STRIP.sub("", text, PERIOD_STRIP_COUNT)
    return text


def process_digit_article(text: str) -> str:
    """The official `processDigitArticle`: lower-case, number words to digits, articles dropped,
    missing apostrophes of contractions restored, single spaces."""
    words = []
    for word in text.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def normalize_answer(answer: str) -> str:
    """The whole official normalisation of one (already stripped) answer."""
    return process_digit_article(process_punctuation(answer))
