"""The learnt risk classifier (bot/risk.py): its views of a message, its settings, and how it reads
a conversation. A toy model trained here keeps the mechanics testable apart from the real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.risk import RiskClassifier, RiskSettings, _fit, examples, views
from bot.datafiles.yamlfile import ConfigError
from bot.language.detection import LanguageRegistry

SETTINGS = RiskSettings(
    crisis_threshold=0.5,
    unsure_threshold=0.2,
    context_turns=3,
    sure_intent_confidence=0.6,
    intent_agreement_threshold=0.3,
    laughing_crisis_threshold=0.85,
)


def test_views_undo_leetspeak_repeated_letters_and_missing_spaces():
    folded, plain, joined = views("I W4NT T0 D1EEEEE!! took 20 pills")
    assert folded.startswith("i w4nt t0 d1ee!!")  # Arabizi's digits are letters: kept in the first view
    assert plain == "i want to die! tok 20 pils"  # a number alone stays a number
    assert joined == "iwantodietok20pils" == views("iwanttodie tok 20 pils")[2]


def test_settings_errors_name_the_file_the_line_and_the_field(tmp_path):
    path = tmp_path / "risk.yml"
    path.write_text(
        "crisis_threshold: 0.5\nunsure_threshold: 0.7\ncontext_turns: 3\nsure_intent_confidence: 0.6\n"
        "intent_agreement_threshold: 0.3\nlaughing_crisis_threshold: 0.85\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        RiskSettings.load(path)
    assert error.value.line == 2 and error.value.field == "unsure_threshold" and str(path) in str(error.value)
    path.write_text(
        "crisis_threshold: 0.5\nunsure_threshold: 0.1\ncontext_turns: zero\nsure_intent_confidence: 0.6\n"
        "intent_agreement_threshold: 0.3\nlaughing_crisis_threshold: 0.85\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="context_turns"):
        RiskSettings.load(path)


def test_the_projects_settings_load():
    settings = RiskSettings.load()
    assert settings.unsure_threshold <= settings.crisis_threshold


def test_a_broken_examples_file_is_refused_with_its_line(tmp_path):
    (tmp_path / "xx.yml").write_text('language: xx\nself_harm:\n  - "ok"\nsadness:\n  - "meh"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        examples([], risk_folder=tmp_path)
    assert error.value.line == 4 and error.value.field == "sadness"
    (tmp_path / "xx.yml").write_text("language: xx\nnone: just one string\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="none"):
        examples([], risk_folder=tmp_path)
    (tmp_path / "xx.yml").write_text(
        'conversations:\n  none:\n    - ["hi", "bye"]\n  worry:\n    - ["meh"]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        examples([], risk_folder=tmp_path)
    assert error.value.line == 4 and error.value.field == "conversations.worry"


def test_a_conversation_is_learnt_as_its_messages_read_together(tmp_path):
    (tmp_path / "xx.yml").write_text(
        'none:\n  - "hello"\nconversations:\n  self_harm:\n    - ["hi", "tonight i do it"]\n', encoding="utf-8"
    )
    assert set(zip(*examples([], risk_folder=tmp_path), strict=True)) == {
        ("hello", "none"),
        ("hi tonight i do it", "self_harm"),
    }


def test_every_example_file_and_language_is_learnt():
    texts, labels = examples(LanguageRegistry().codes)
    assert {"self_harm", "danger_now", "online_sexual_abuse", "none"} <= set(labels)
    assert len(texts) == len(labels) and all(texts)
    folder = Path(__file__).resolve().parent.parent / "data" / "risk"
    for path in folder.glob("*.yml"):  # every risk file adds examples
        assert len(examples([], risk_folder=folder)[0]) >= len(examples([], risk_folder=path.parent)[0]) > 0


TOY_TEXTS = [
    "i want to end it all tonight",
    "took all the pills",
    "goodbye forever everyone",
    "no reason to live",
    "he is hitting me now",
    "dad is beating me",
    "he says he will post my pics",
    "send nudes or else",
    "hello",
    "homework is hard",
    "i love football",
    "what is your name",
    "my cat is cute",
    "pizza tonight",
    "see you at school",
    "the game was fun",
]
TOY_LABELS = ["self_harm"] * 4 + ["danger_now"] * 2 + ["online_sexual_abuse"] * 2 + ["none"] * 8


def test_the_fast_path_gives_the_pipelines_probabilities():
    pipeline = _fit(TOY_TEXTS, TOY_LABELS)
    classifier = RiskClassifier(pipeline, SETTINGS)
    probes = ["t00k all the p1llsss", "hello there", "他說要殺了我", ""]
    expected = pipeline.predict_proba(probes)[
        :, [list(pipeline.classes_).index(c) for c in ("self_harm", "danger_now", "online_sexual_abuse")]
    ]
    assert abs(classifier.probabilities(probes) - expected).max() < 1e-9


@pytest.fixture(scope="module")
def toy() -> RiskClassifier:
    return RiskClassifier(_fit(TOY_TEXTS, TOY_LABELS), SETTINGS)


def test_a_message_like_the_crisis_examples_is_a_crisis_and_a_calm_one_is_not(toy):
    crisis = toy.assess("i want to end it all").best()
    assert crisis.likeliest == "self_harm" and crisis.probability >= SETTINGS.crisis_threshold
    assert toy.assess("see you at football").best().probability < SETTINGS.crisis_threshold


def test_spelling_noise_is_read_through(toy):
    noisy = toy.assess("t00k all the p1llsss").best()
    assert noisy.likeliest == "self_harm" and noisy.probability >= SETTINGS.crisis_threshold
    joined = toy.assess("iwanttoenditall").best()
    assert joined.likeliest == "self_harm" and joined.probability > toy.assess("iwanttogotoschool").best().probability


def test_earlier_messages_are_read_with_the_last_one(toy):
    alone = toy.assess("tonight")
    assert alone.context is None and alone.best() == alone.alone
    reading = toy.assess("tonight", earlier=["no reason to live", "goodbye forever everyone"])
    after = reading.best()
    assert after.from_context and after.likeliest == "self_harm" and after.probability >= SETTINGS.crisis_threshold
    assert reading.alone.probability == alone.alone.probability < after.probability
    assert reading.best(with_context=False) == reading.alone  # after a crisis answer, the message alone
    # Only the last context_turns - 1 earlier messages count.
    distant = toy.assess("tonight", earlier=["no reason to live", "goodbye forever everyone", "hello", "pizza tonight"])
    assert distant.best().probability < after.probability


def test_the_explanation_has_the_class_and_score_never_the_words(toy):
    score = toy.assess("took all the pills").best()
    assert "pills" not in score.explanation and "self_harm" in score.explanation and "p=" in score.explanation
