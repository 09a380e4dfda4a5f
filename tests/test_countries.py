"""Finding a child's country from a phone number or their own words, in many languages."""

import pytest
from babel import Locale

from bot.routing.countries import CountryMatch, CountryNames, from_phone, is_country_code

LOCALES = [
    Locale.parse(tag) for tag in ("en", "fr", "es", "ar", "ru", "zh", "zh_Hant", "pt", "pt_PT", "sw", "hi", "de")
]
NAMES = CountryNames(LOCALES)


# Example mobile numbers of 34 countries (libphonenumber's own examples where the number is not ours),
# including the shared calling codes +1 and +7 that only the number itself resolves.
@pytest.mark.parametrize(
    "number, country",
    [
        ("+14165551234", "CA"),
        ("+16135550123", "CA"),
        ("+12125551234", "US"),
        ("+13105550123", "US"),
        ("+18765551234", "JM"),
        ("+18687001234", "TT"),
        ("+12462501234", "BB"),
        ("+12423591234", "BS"),
        ("+18092345678", "DO"),
        ("+77011234567", "KZ"),
        ("+79161234567", "RU"),
        ("whatsapp:+254712345678", "KE"),
        ("+255621234567", "TZ"),
        ("+256712345678", "UG"),
        ("+250720123456", "RW"),
        ("+2348021234567", "NG"),
        ("+233231234567", "GH"),
        ("+27711234567", "ZA"),
        ("+221701234567", "SN"),
        ("+201001234567", "EG"),
        ("+212650123456", "MA"),
        ("+966512345678", "SA"),
        ("+971501234567", "AE"),
        ("+919876543210", "IN"),
        ("+923001234567", "PK"),
        ("+8613123456789", "CN"),
        ("+886912345678", "TW"),
        ("+85251234567", "HK"),
        ("+5511987654321", "BR"),
        ("+351912345678", "PT"),
        ("+5215512345678", "MX"),
        ("+5491123456789", "AR"),
        ("+447400123456", "GB"),
        ("+4915123456789", "DE"),
        ("+33612345678", "FR"),
        ("+61412345678", "AU"),
    ],
)
def test_country_from_phone(number, country):
    assert from_phone(number) == country


@pytest.mark.parametrize("number", ["", "garbage", "12345", None, 254712345678])
def test_no_country_from_bad_numbers(number):
    assert from_phone(number) is None


# Country names as children write them, in the ten languages: sure when written as the name,
# a guess (confirmed with the child first) for typos and demonyms.
@pytest.mark.parametrize(
    "text, country, sure",
    [
        ("im in kenya", "KE", True),
        ("i live in germny", "DE", False),
        ("unitd kingdom", "GB", False),
        ("im kenyan", "KE", False),
        ("je suis au sénégal", "SN", True),
        ("je suis au senegal", "SN", True),
        ("jsuis sénégalaise", "SN", False),
        ("estoy en méxico", "MX", True),
        ("soy mexicano", "MX", False),
        ("vivo en argentna", "AR", False),
        ("انا في مصر", "EG", True),
        ("انا من المغريب", "MA", False),
        ("я из россии", "RU", False),
        ("россия", "RU", True),
        ("я в казахстане", "KZ", False),
        ("我在台湾", "TW", True),
        ("我住在台灣", "TW", True),
        ("我在肯尼亚", "KE", True),
        ("brasil", "BR", True),
        ("sou brasileira", "BR", False),
        ("moro em portugal", "PT", True),
        ("niko kenya", "KE", True),
        ("niko tanzani", "TZ", False),
        ("मैं भारत में हूँ", "IN", True),
        ("main india me hu", "IN", True),
        ("ich wohne in österreich", "AT", True),
        ("ich bin in deutschlnd", "DE", False),
        ("bin schweizer", "CH", False),
    ],
)
def test_country_from_words(text, country, sure):
    found = NAMES.match(text)
    assert (found.code, found.sure) == (country, sure) if country else found is None


@pytest.mark.parametrize("text", ["nataka msaada", "i need help", "hi", "ok", "je veux parler", "thanks bye"])
def test_no_country_in_ordinary_messages(text):
    assert NAMES.match(text) is None


def test_country_codes():
    assert is_country_code("KE") and is_country_code("ke")
    assert not is_country_code("XX") and not is_country_code("KEN") and not is_country_code(None)


# Names in scripts written without spaces are found inside a longer word; a name inside a longer
# name that is also in the message ("guinea" in "papua new guinea") is not a second country.
WIDER = CountryNames([*LOCALES, *(Locale.parse(tag) for tag in ("ja", "th", "my"))])


@pytest.mark.parametrize(
    "text, country",
    [
        ("ประเทศไทย", "TH"),
        ("อยู่ประเทศลาวค่ะ", "LA"),
        ("日本に住んでる", "JP"),
        ("カナダに住んでます", "CA"),
        ("မြန်မာနိုင်ငံ", "MM"),
        ("i live in papua new guinea", "PG"),
        ("equatorial guinea", "GQ"),
        ("赤道几内亚", "GQ"),
        ("guinea", "GN"),
    ],
)
def test_names_inside_words_and_inside_longer_names(text, country):
    assert WIDER.match(text) == CountryMatch(country, sure=True)


def test_two_countries_named_are_no_answer():
    assert WIDER.match("kenya or uganda") is None
    assert WIDER.match("日本とタイ") is None
