import sys
from bot.input_text import clean
from bot.language import LanguageDetector, LanguageHints, LanguageRegistry, word_count
import bot.language as L
from scripts.heldout import load
from collections import defaultdict
from pathlib import Path
folder = Path(sys.argv[1]) if len(sys.argv) > 1 else None
ex = load(folder) if folder else load()
reg = LanguageRegistry(); det = LanguageDetector.load(reg)
res = defaultdict(list)
for e in ex:
    t = clean(e.text)
    if e.intent == "change_language" and reg.named_in(t): continue
    if word_count(t) > 3: continue
    res[e.language].append(det.decide(t, LanguageHints(country=e.country)).language == e.language)
print({k: round(sum(v)/len(v),3) for k,v in res.items()}, round(sum(sum(v) for v in res.values())/sum(len(v) for v in res.values()),3))
