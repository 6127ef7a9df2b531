"""English nicknames and diminutives, each mapped to one canonical given name.

Why: "Bob Smith" and "Robert Smith" at the same address are one person, but no string distance
says so (Jaro-Winkler of bob/robert is 0.0). Comparing canonical(first_name) lets the linkage
treat a nickname as an exact match, and lets the synthetic generator plant nicknames whose
truth is known.

A nickname shared by two names (chris: christopher/christina, alex, sam, pat, jo...) maps to one
of them only: a lookup table cannot choose, and the linkage still has surname, dob, email and
phone to tell the two apart. Where it is ambiguous the more common name in US records wins.
"""
from __future__ import annotations

NICKNAMES: dict[str, str] = {
    # men
    "bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert", "bert": "robert",
    "bill": "william", "billy": "william", "will": "william", "willie": "william",
    "liam": "william",
    "jim": "james", "jimmy": "james", "jamie": "james",
    "mike": "michael", "mikey": "michael", "mick": "michael", "mickey": "michael",
    "dave": "david", "davy": "david",
    "chris": "christopher", "kit": "christopher",
    "tony": "anthony",
    "joe": "joseph", "joey": "joseph",
    "tom": "thomas", "tommy": "thomas",
    "dan": "daniel", "danny": "daniel",
    "matt": "matthew", "matty": "matthew",
    "steve": "steven", "stevie": "steven",
    "andy": "andrew", "drew": "andrew",
    "nick": "nicholas", "nicky": "nicholas",
    "ed": "edward", "eddie": "edward", "ned": "edward", "ted": "edward", "teddy": "edward",
    "rick": "richard", "ricky": "richard", "dick": "richard", "rich": "richard",
    "chuck": "charles", "charlie": "charles",
    "tim": "timothy", "timmy": "timothy",
    "ken": "kenneth", "kenny": "kenneth",
    "ben": "benjamin", "benny": "benjamin",
    "sam": "samuel", "sammy": "samuel",
    "greg": "gregory",
    "jon": "jonathan",
    "larry": "lawrence",
    "jerry": "gerald",
    "ron": "ronald", "ronnie": "ronald",
    "don": "donald", "donnie": "donald",
    "pat": "patrick", "paddy": "patrick",
    "pete": "peter",
    "doug": "douglas",
    "fred": "frederick", "freddie": "frederick",
    "frank": "francis",
    "hank": "henry", "harry": "henry",
    "jack": "john", "johnny": "john",
    "jeff": "jeffrey",
    "josh": "joshua",
    "alex": "alexander", "al": "alexander",
    "ray": "raymond",
    "gene": "eugene",
    "vince": "vincent",
    "phil": "phillip",
    "walt": "walter", "wally": "walter",
    "zach": "zachary",
    "nate": "nathan",
    "ernie": "ernest",
    "stan": "stanley",
    "leo": "leonard", "len": "leonard", "lenny": "leonard",
    "gabe": "gabriel",
    "abe": "abraham",
    "russ": "russell",
    "marty": "martin",
    "vic": "victor",
    "terry": "terrence",
    "jake": "jacob",
    "ollie": "oliver",
    # women
    "liz": "elizabeth", "lizzie": "elizabeth", "beth": "elizabeth", "betty": "elizabeth",
    "eliza": "elizabeth", "betsy": "elizabeth",
    "kate": "katherine", "katie": "katherine", "kathy": "katherine", "kat": "katherine",
    "kitty": "katherine",
    "peggy": "margaret", "maggie": "margaret", "meg": "margaret", "marge": "margaret",
    "madge": "margaret",
    "jenny": "jennifer", "jen": "jennifer", "jenn": "jennifer",
    "patty": "patricia", "trish": "patricia", "tricia": "patricia", "patsy": "patricia",
    "sue": "susan", "susie": "susan",
    "debbie": "deborah", "deb": "deborah",
    "barb": "barbara", "barbie": "barbara",
    "cindy": "cynthia",
    "vicky": "victoria", "tori": "victoria",
    "becky": "rebecca", "becca": "rebecca",
    "mandy": "amanda",
    "abby": "abigail",
    "jess": "jessica", "jessie": "jessica",
    "sandy": "sandra",
    "pam": "pamela",
    "cathy": "catherine",
    "dot": "dorothy", "dottie": "dorothy",
    "annie": "ann", "nancy": "ann",
    "molly": "mary", "polly": "mary", "mae": "mary",
    "kim": "kimberly",
    "chrissy": "christina", "tina": "christina",
    "steph": "stephanie",
    "val": "valerie",
    "nikki": "nicole",
    "sally": "sarah", "sadie": "sarah",
    "jackie": "jacqueline",
    "ginny": "virginia",
    "judy": "judith",
    "connie": "constance",
    "fran": "frances",
    "gwen": "gwendolyn",
    "theresa": "teresa", "tess": "teresa", "tessa": "teresa",
    "lou": "louise",
    "ellie": "eleanor", "nora": "eleanor",
    "millie": "mildred",
    "bev": "beverly",
    "carrie": "caroline",
    "sophie": "sophia",
    "allie": "allison",
    "jo": "joanne",
    "rosie": "rose",
    "lexi": "alexandra", "sasha": "alexandra",
    "emmy": "emily",
    "nat": "natalie",
}


def canonical(name: str | None) -> str | None:
    """The canonical given name for `name` (itself when it is no known nickname), lower-cased;
    None stays None so nulls survive a vectorised map."""
    if name is None:
        return None
    n = name.strip().lower()
    return NICKNAMES.get(n, n)


def as_rows() -> list[tuple[str, str]]:
    """(nickname, canonical) rows, sorted, to load as a DuckDB/Arrow lookup table."""
    return sorted(NICKNAMES.items())
