"""randomuser.me's vocabulary: its answer's fields, its API version, the nationalities it offers.

Plain data, no Faker: a notebook or a fixture check can use it without loading the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "1.4"
FIELDS = ("gender", "name", "location", "email", "login", "dob", "registered", "phone", "cell", "id", "picture", "nat")


@dataclass(frozen=True)
class Nationality:
    code: str
    country: str
    locale: str  # the Faker locale whose names and places fit
    id_name: str  # "" where randomuser.me gives no national id (value is null)
    id_pattern: str  # Faker bothify pattern: # a digit, ? a letter
    postcode: str  # "int" or a Faker locale's text format ("text")


NATIONALITIES = {
    n.code: n
    for n in [
        Nationality("AU", "Australia", "en_AU", "TFN", "#########", "int"),
        Nationality("BR", "Brazil", "pt_BR", "CPF", "###.###.###-##", "int"),
        Nationality("CA", "Canada", "en_CA", "SIN", "### ### ###", "text"),
        Nationality("CH", "Switzerland", "de_CH", "AVS", "756.####.####.##", "int"),
        Nationality("DE", "Germany", "de_DE", "SVNR", "## ###### ? ###", "int"),
        Nationality("DK", "Denmark", "da_DK", "CPR", "######-####", "int"),
        Nationality("ES", "Spain", "es_ES", "DNI", "########-?", "int"),
        Nationality("FI", "Finland", "fi_FI", "HETU", "######-###?", "int"),
        Nationality("FR", "France", "fr_FR", "INSEE", "############# ##", "int"),
        Nationality("GB", "United Kingdom", "en_GB", "NINO", "?? ## ## ## ?", "text"),
        Nationality("IE", "Ireland", "en_IE", "PPS", "#######?", "text"),
        Nationality("IN", "India", "en_IN", "UIDAI", "#### #### ####", "int"),
        Nationality("IR", "Iran", "fa_IR", "", "", "int"),
        Nationality("MX", "Mexico", "es_MX", "NSS", "## ## ## ####-#", "int"),
        Nationality("NL", "Netherlands", "nl_NL", "BSN", "########", "text"),
        Nationality("NO", "Norway", "no_NO", "FN", "########## #", "int"),
        Nationality("NZ", "New Zealand", "en_NZ", "", "", "int"),
        Nationality("RS", "Serbia", "hr_HR", "SID", "#########", "int"),
        Nationality("TR", "Turkey", "tr_TR", "", "", "int"),
        Nationality("UA", "Ukraine", "uk_UA", "", "", "int"),
        Nationality("US", "United States", "en_US", "SSN", "###-##-####", "int"),
    ]
}
