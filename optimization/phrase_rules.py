"""The phrase rules used by optimization.compression, kept apart as data.

Patterns are lowercase regex fragments matched whole-word and
case-insensitively; a leading ``^`` limits a rule to sentence openers.
"""

from __future__ import annotations

# (pattern, replacement). Patterns are plain words (a few allow an optional
# trailing comma); matched whole-word and case-insensitively. None contains a
# negation, a digit or an identifier: tests enforce that.
_CLAUSE = "[^.!?;:\n]+?"  # the rest of one clause: it never crosses a sentence or clause end

PHRASE_RULES: list[tuple[str, str]] = [
    # A second "that"-clause in parallel with a first one loses its "that": the
    # rules below delete or relabel the first ("keep in mind that" -> "Note:",
    # "reported that the" -> "reported the") and would orphan the second.
    (r"((?:reported|felt|agreed|said|noted|mentioned|stated|confirmed|believed|thought|found|realized|decided"
     r"|keep in mind|bear in mind|note) that " + _CLAUSE + r") and that(?= [a-z])", r"\1 and"),
    # "It is important that you stay calm and that you are polite" -> "Stay calm and be polite".
    (r"((?:important|essential|crucial|critical|vital) that you " + _CLAUSE + r") and that you are", r"\1 and be"),
    (r"((?:important|essential|crucial|critical|vital) that you " + _CLAUSE + r") and that you", r"\1 and"),
    # "There was a general feeling among the engineers that" -> "Engineers generally felt that".
    (r"there (?:is|was) (?:a )?general (?:feeling|sense) among (?:the )?([a-z]+) that", r"\1 generally felt that"),
    (r"there (?:is|was) (?:a )?general (?:consensus|agreement) among (?:the )?([a-z]+) that",
     r"\1 generally agreed that"),
    # A relative clause in the perfect passive shrinks to its participle:
    # "the progress that had been made" -> "the progress made". The determiner
    # makes "that" a relative pronoun ("said that had been fixed" keeps it).
    (r"((?:the|a|an|this|these|those|any|all|every|each) [a-z]+) that (?:has|have|had) been (made|done|given"
     r"|taken|shown|seen|written|built|known|found|sent|set|paid|spent|kept|left|[a-z][a-z]+ed)(?= )", r"\1 \2"),
    (r"(?:has|have) provided to you", "provided"),
    # "Use only the context below to answer the question" -> "Answer only from the context below".
    (r"use only ((?:the |this )?(?:retrieved |provided |given |following |supplied )?(?:context|documents|sources"
     r"|passages|excerpts)(?: below| above| provided)?) to answer (?:the |this |each )?questions?",
     r"answer only from \1"),
    # "Based on the context above, why ..." -> "From the context above, why ...".
    (r"^based on(?= (?:the |this )?(?:retrieved |provided |given |supplied )?(?:context|documents|records|sources"
     r"|passages|excerpts)(?: above| below| provided)?,)", "from"),
    # RAG boilerplate: "Answer the question using the retrieved context" -> "Answer from the retrieved context".
    (r"answer (?:the |this |each )?questions? (?:using|based on)(?= (?:the |this )?(?:retrieved |provided |given "
     r"|following |supplied )?(?:context|documents|sources|passages|excerpts)\b)", "answer from"),
    # After a verb of feeling or belief, "that" before a plain word opens a
    # clause ("felt that communication improved"), unless a verb follows, when
    # it is the subject ("thought that was odd" keeps it).
    (r"(felt|believed|hoped|assumed|realized) that(?= [a-z])(?! (?:is|are|was|were|will|would|can|could|should"
     r"|might|may|must|has|have|had|does|did|seems|seemed|makes|made|sounds|sounded|works|worked)\b)", r"\1"),
    # Whole stock sentences and multi-word openers; longest first, since a
    # shorter rule below would otherwise eat part of them.
    (r"i was wondering if you could help me(?: out)? with something[.!]", ""),
    (r"(?:could|can) you (?:please )?help me(?: out)? with something[.!?]", ""),
    (r"i would like you to help me with the following task[.:]", ""),
    (r"your task is to do the following:", "Task:"),
    (r"here are (?:some )?examples that show (?:you )?(?:exactly )?how (?:you should|to) do it:",
     "Examples:"),
    (r"here are (?:some )?examples:", "Examples:"),
    (r"thank you (?:so |very )?much for your (?:help|time|assistance)(?:, it is (?:really |greatly )?"
     r"appreciated)?[.!]*", ""),
    (r"thank you for your (?:help|time|assistance)[.!]*", ""),
    (r"thanks (?:so much |a lot )?for your (?:help|time|assistance)[.!]*", ""),
    (r"it is (?:really |greatly |much )?appreciated[.!]", ""),
    (r"(?:please )?let me know if you (?:need|have) any (?:additional|more|further) (?:information|questions)"
     r"(?: from me)?[.!]?", ""),
    (r"i hope (?:this|that) makes sense[.!]", ""),
    (r"i hope this helps[.!]", ""),
    (r"it is (?:also )?worth (?:mentioning|noting) that", ""),
    (r"it should be mentioned that", ""),
    (r"needless to say,", ""),
    (r"as a matter of fact,", ""),
    (r"to be honest,", ""),
    (r"in general,", ""),
    (r"generally speaking,", ""),
    (r"^overall,", ""),
    (r"all in all,", ""),
    (r"at the end of the day,", ""),
    (r"for what it's worth,", ""),
    (r"as you (?:may |might )?know,", ""),
    (r"as (?:previously |already )?mentioned(?: above| before| earlier)?,", ""),
    (r"it is (?:very |extremely |really |absolutely )?(?:important|essential|crucial|critical|vital) "
     r"that you", ""),
    (r"it is (?:very |extremely |really |absolutely )?(?:important|essential|crucial|critical|vital) "
     r"for you to", ""),
    (r"^please make sure (?:that )?you", ""),
    (r"^make sure (?:that )?you", ""),
    (r"^(?:please )?ensure (?:that )?you", ""),
    (r"^(?:please )?be sure (?:that )?you", ""),
    (r"each and every one of(?: the)?", "all"),
    (r"every single one of(?: the)?", "all"),
    (r"every one of the", "all"),
    (r"(?:the )?same language (?:that|as) the user is using", "the user's language"),
    (r"just get to the point", "be direct"),
    (r"get (?:straight )?to the point", "be direct"),
    (r"taking into (?:account|consideration)", "considering"),
    (r"take a (?:quick |close )?look at", "review"),
    (r"have a (?:quick |close )?look at", "review"),
    (r"(?:please )?look at the examples below (?:very )?carefully before you answer[.!]?",
     "Study the examples."),
    (r"the examples below (?:demonstrate|show) the expected format[.!]?", "Examples show the format."),
    (r"(?:very |extremely )?helpful and (?:highly |very )?(?:capable|knowledgeable)", "helpful"),
    (r"there (?:is|was) a general (?:feeling|consensus|sense) that", "most felt"),
    (r"in spite of", "despite"),
    (r"in addition to", "besides"),
    (r"in addition,", "also,"),
    (r"with the exception of", "except"),
    (r"for the reason that", "because"),
    (r"on the grounds that", "because"),
    (r"in light of the fact that", "because"),
    (r"given the fact that", "because"),
    (r"until such time as", "until"),
    (r"at the moment(?! of)", "now"),
    (r"in today's world,", ""),
    (r"on the other hand,", "however,"),
    (r"in the case of", "in case of"),
    (r"in the case that", "if"),
    (r"in a situation where", "when"),
    (r"in cases where", "when"),
    (r"in the form of", "as"),
    (r"by means of", "by"),
    (r"by way of", "via"),
    (r"as a result of", "due to"),
    (r"as a consequence of", "due to"),
    (r"in accordance with", "per"),
    (r"in conjunction with", "with"),
    (r"on behalf of", "for"),
    (r"with the aim of", "to"),
    (r"with the goal of", "to"),
    (r"in an effort to", "to"),
    (r"in an attempt to", "to"),
    (r"for the sake of", "for"),
    (r"in close proximity to", "near"),
    (r"a sufficient (?:amount|number) of", "enough"),
    (r"a (?:significant|considerable|substantial) number of", "many"),
    (r"a (?:significant|considerable|substantial) amount of", "much"),
    (r"the vast majority of", "most"),
    (r"an adequate (?:amount|number) of", "enough"),
    (r"a wide (?:range|variety) of", "many"),
    (r"a variety of", "various"),
    (r"is indicative of", "indicates"),
    (r"is in need of", "needs"),
    (r"are in need of", "need"),
    (r"has the capacity to", "can"),
    (r"have the capacity to", "can"),
    (r"(?:is|are) in a position to", "can"),
    (r"it is possible that", "maybe"),
    (r"make an attempt to", "try to"),
    (r"make an effort to", "try to"),
    (r"give consideration to", "consider"),
    (r"give an indication of", "indicate"),
    (r"have a tendency to", "tend to"),
    (r"has a tendency to", "tends to"),
    (r"make use of", "use"),
    (r"makes use of", "uses"),
    (r"take action", "act"),
    (r"reach a conclusion", "conclude"),
    (r"provide an answer to", "answer"),
    (r"provide a response to", "answer"),
    (r"give a response to", "answer"),
    (r"provide (?:a )?(?:description|explanation) of", "explain"),
    (r"come up with", "suggest"),
    (r"find out", "determine"),
    (r"help me out", "help me"),
    (r"explain to me", "explain"),
    (r"tell me about", "describe"),
    (r"under any circumstances", "ever"),
    (r"help (?:the )?users? with (?:their|any|all) questions", "answer user questions"),
    (r"within the scope of", "within"),
    (r"in any way,? shape,? or form", "at all"),
] + [
    # "before you answer" -> "before answering"
    (rf"{when} you {verb}", f"{when} {ing}")
    for when in ("before", "after", "while")
    for verb, ing in (
        ("answer", "answering"), ("respond", "responding"), ("reply", "replying"), ("provide", "providing"),
        ("start", "starting"), ("begin", "beginning"), ("write", "writing"), ("make", "making"),
        ("send", "sending"), ("submit", "submitting"), ("use", "using"), ("give", "giving"),
    )
] + [
    (r"and then", "then"),
    (r"so that", "so"),
    (r"for example", "e.g."),
    (r"for instance", "e.g."),
    (r"a lot(?! of)", "much"),
    # Politeness and preambles.
    (r"please could you", ""),
    (r"could you please", ""),
    (r"can you please", ""),
    (r"would you please", ""),
    (r"would you kindly", ""),
    (r"would it be possible for you to", ""),
    (r"i was wondering if you could", ""),
    (r"i was hoping (?:that )?you could", ""),
    (r"i would (?:really )?like you to", ""),
    (r"i'd like you to", ""),
    (r"i want you to", ""),
    (r"i need you to", ""),
    (r"i would like to ask you to", ""),
    (r"i am asking you to", ""),
    (r"your help (?:with this )?(?:would be|is) (?:greatly|much|really) appreciated[.!]?", ""),
    (r"thank you (?:so |very )?much(?: in advance)?[.!]*", ""),
    (r"thanks (?:so much )?in advance[.!]*", ""),
    (r"thank you in advance[.!]*", ""),
    (r"(?:hello|hi|hey)(?: there)?[,!]", ""),
    (r"please,?", ""),
    (r"kindly", ""),
    # Role and task framing.
    (r"your task is to", "Task:"),
    (r"your job is to", "Task:"),
    (r"the task is to", "Task:"),
    (r"you are tasked with", "Task:"),
    (r"your goal is to", "Goal:"),
    (r"your role is to", "Role:"),
    (r"it is (?:very |extremely |really )?important to note that", "Note:"),
    (r"it should be noted that", "Note:"),
    (r"please note that", "Note:"),
    (r"keep in mind that", "Note:"),
    (r"bear in mind that", "Note:"),
    (r"it is (?:very |extremely |really |absolutely )?(?:important|essential|crucial|critical) that",
     "Important:"),
    (r"make sure that", "ensure"),
    (r"make sure to", ""),
    (r"be sure to", ""),
    (r"ensure that", "ensure"),
    (r"^you should", ""),
    (r"^you need to", ""),
    (r"^you will need to", ""),
    (r"^(?:it is|it's) (?:very |really |extremely )?important to", ""),
    (r"^always remember to", "always"),
    (r"^remember to", ""),
    (r"^now it is your turn[.!]?", ""),
    (r"^(?:so,? )?basically,? what i (?:want|need) is for you to", ""),
    (r"^what i (?:want|need) is for you to", ""),
    (r"(?:i would|i'd) (?:really |greatly )?appreciate it if you could", ""),
    (r"it would be (?:very |really |extremely )?(?:helpful|great|nice) if you could", ""),
    (r"i hope you are (?:doing )?well(?: today)?[.!]?", ""),
    (r"good (?:morning|afternoon|evening)[,!.]", ""),
    (r"whenever it is possible to do so", "when possible"),
    (r"whenever possible", "when possible"),
    (r"if it is possible", "if possible"),
    (r"as well as possible", "well"),
    (r"could you also", "also"),
    (r"can you also", "also"),
    (r"a list of", ""),
    # Format requests.
    (r"in (?:a |valid )?json format:", "JSON:"),
    (r"in (?:a |valid )?json format", "as JSON"),
    (r"formatted as json", "as JSON"),
    (r"in a clear and concise manner", "concisely"),
    (r"in a concise manner", "concisely"),
    (r"in a clear manner", "clearly"),
    (r"in a detailed manner", "in detail"),
    (r"in the following format", "in this format"),
    # Wordy phrases.
    (r"in order to", "to"),
    (r"so as to", "to"),
    (r"due to the fact that", "because"),
    (r"owing to the fact that", "because"),
    (r"in spite of the fact that", "although"),
    (r"despite the fact that", "although"),
    (r"at this point in time", "now"),
    (r"at the present time", "now"),
    (r"at the end of the day", "ultimately"),
    (r"in the event that", "if"),
    (r"in the near future", "soon"),
    (r"as soon as possible", "ASAP"),
    (r"prior to", "before"),
    (r"subsequent to", "after"),
    (r"with regards? to", "about"),
    (r"in regard to", "about"),
    (r"with respect to", "about"),
    (r"in relation to", "about"),
    (r"for the purpose of", "for"),
    (r"in the process of", ""),
    (r"in the context of", "in"),
    (r"on a daily basis", "daily"),
    (r"on a weekly basis", "weekly"),
    (r"on a monthly basis", "monthly"),
    (r"on a regular basis", "regularly"),
    (r"a large number of", "many"),
    (r"a great deal of", "much"),
    (r"a lot of", "many"),
    (r"lots of", "many"),
    (r"a majority of", "most"),
    (r"the majority of", "most"),
    (r"a small number of", "few"),
    (r"a number of", "several"),
    (r"each and every", "every"),
    (r"first and foremost", "first"),
    (r"any and all", "all"),
    # Before "all of the" eats its article: "the following" goes whole, as it does alone.
    (r"all of the following", "all"),
    (r"all of the", "all"),
    (r"some of the", "some"),
    (r"both of the", "both"),
    (r"will be able to", "can"),
    (r"(?:is|are) able to", "can"),
    (r"has the ability to", "can"),
    (r"have the ability to", "can"),
    (r"(?:is|are) going to", "will"),
    # "Always stay calm and be polite at all times" keeps one "always".
    (r"(always " + _CLAUSE + r") at all times", r"\1"),
    (r"at all times", "always"),
    (r"along with", "with"),
    (r"as well as", "and"),
    (r"such as", "like"),
    (r"for example,", "e.g.,"),
    (r"for instance,", "e.g.,"),
    (r"in other words,", "i.e.,"),
    (r"that is to say,", "i.e.,"),
    (r"additionally,", "also,"),
    (r"furthermore,", "also,"),
    (r"moreover,", "also,"),
    (r"provide me with", "give"),
    (r"(?:provide|give me|write) a (?:brief |short )?summary of", "summarize"),
    (r"(?:provide|give) an explanation of", "explain"),
    (r"(?:perform|conduct|carry out) an analysis of", "analyze"),
    (r"make a decision", "decide"),
    (r"take into (?:account|consideration)", "consider"),
    (r"come to a conclusion", "conclude"),
    (r"the following", ""),
    (r"utilizes", "uses"),
    (r"utilize", "use"),
    (r"utilization", "use"),
    (r"approximately", "about"),
    (r"additional", "more"),
    (r"sufficient", "enough"),
    (r"numerous", "many"),
    (r"demonstrate", "show"),
    (r"assistance", "help"),
    (r"commence", "start"),
    # Intensifiers and fillers that carry no instruction.
    (r"basically", ""),
    (r"essentially", ""),
    (r"actually", ""),
    (r"really", ""),
    (r"very", ""),
    (r"extremely", ""),
    (r"highly", ""),
    (r"incredibly", ""),
    (r"quite", ""),
    (r"simply", ""),
    (r"literally", ""),
    (r"certainly", ""),
    (r"definitely", ""),
    (r"totally", ""),
    (r"carefully", ""),
    (r"thoroughly", ""),
    (r"rather(?= \w+ly\b| long| short| large| small| slow| fast| big| high| low)", ""),
    (r"pretty much", ""),
    (r"absolutely", ""),
    (r"completely", ""),
    (r"entirely", ""),
    (r"truly", ""),
    (r"obviously", ""),
    (r"clearly,", ""),
    (r"of course,?", ""),
    (r"specifically,", ""),
    (r"whenever", "when"),
    (r"in order for", "for"),
    (r"the user's", "user's"),
] + [
    # "that" after a verb of saying or thinking is a complementizer when a
    # pronoun or determiner follows ("reported that the team" -> "reported the
    # team"); before a noun it is a determiner ("know that function") and stays.
    (verb + r" that(?= (?:the|a|an|we|you|i|it|they|he|she|there|this|these|our|their|his|her|my|its|"
     r"all|most|many|some|every|each|everyone))", verb)
    for verb in (
        "reported", "felt", "feel", "agreed", "agree", "said", "say", "says", "noted", "mentioned", "stated",
        "explained", "confirmed", "believe", "believed", "think", "thought", "hope", "suggested", "suggests",
        "showed", "shows", "found", "realized", "assume", "decided", "argued", "claimed", "expect",
        "expected",
    )
]

# Rules whose pattern holds a negation: each one sits in a group that the
# replacement puts back, so the negation itself always survives (tests check).
NEGATION_KEEPING_RULES: list[tuple[str, str]] = [
    (r"^you are (not) allowed to", r"do \1"),
    (r"^you are (never) allowed to", r"\1"),
]

# Articles go at balanced level: dropping them is the cheapest telegraphic
# saving and models read the result the same way.
ARTICLE_RULES: list[tuple[str, str]] = [
    (r"the", ""), (r"an?", ""), (r"just", ""), (r"also", ""), (r"any", ""),
]

# Aggressive only: function words whose loss leaves a telegraphic prompt.
# Modals that carry obligation or permission (must, may, can, should) and
# all negations stay, and so do words whose loss changes what is asked:
# "be" ("should be no longer than" is not "should no longer than"), "it" as an
# object ("make it sound"), "which" as a question word ("tell me which one"),
# "then", "here", "some" (a quantifier: "some users" are not all users),
# "would" and "could" (a hypothesis is not a fact: "this could break prod"),
# "of" ("owners of each item" is not "owners each item"; it saved 0.2 points),
# "in detail", and "do"/"have" as main verbs ("do the same", "has 5 apples").
FUNCTION_WORDS = (
    "that",
    "this",
    "these",
    "those",
    "is",
    "are",
    "was",
    "were",
    "its",
    "there",
    "you",
    "your",
    "i",
    "me",
    "my",
    "we",
    "our",
    "us",
    "also",
    "so",
    "just",
    "will",
    "any",
    "very",
    "note:",
    "remember:",
)
AGGRESSIVE_RULES: list[tuple[str, str]] = [
    # Auxiliaries go with the participle they carry: "has been upgraded" -> "upgraded".
    (r"(?:has|have|had) been", ""),
    (r"(?:is|are|was|were) being", ""),
    (r"(?:has|have|had)(?= [a-z]+ed\b)", ""),
    # Future "will be" goes whole ("beta will be limited" -> "beta limited"), never leaving a bare "be".
    (r"will be", ""),
    # "It is located near ..." -> "Located near ..."; "it" elsewhere is an object and stays.
    (r"it (?:is|was)", ""),
    # A relative "which" after a comma: ", which runs daily" -> ", runs daily".
    (r"(?<=,[ ])which", ""),
] + [(w, "") for w in FUNCTION_WORDS]

# Aggressive only, and like NEGATION_KEEPING_RULES the negation is put back:
# "do not reveal" -> "not reveal"; "do" elsewhere is a verb ("do the same") and stays.
AGGRESSIVE_NEGATION_KEEPING_RULES: list[tuple[str, str]] = [
    (r"(?:do|does|did) (not)", r"\1"),
]
