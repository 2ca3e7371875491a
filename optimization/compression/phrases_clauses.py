"""Phrase rules that rewrite whole clauses: parallel "that"-clauses, RAG boilerplate, "that" after verbs."""

from __future__ import annotations

CLAUSE = "[^.!?;:\n]+?"  # the rest of one clause: it never crosses a sentence or clause end

CLAUSE_RULES: list[tuple[str, str]] = [
    # A second "that"-clause in parallel with a first one loses its "that": the
    # rules below delete or relabel the first ("keep in mind that" -> "Note:",
    # "reported that the" -> "reported the") and would orphan the second.
    (r"((?:reported|felt|agreed|said|noted|mentioned|stated|confirmed|believed|thought|found|realized|decided"
     r"|keep in mind|bear in mind|note) that " + CLAUSE + r") and that(?= [a-z])", r"\1 and"),
    # "It is important that you stay calm and that you are polite" -> "Stay calm and be polite".
    (r"((?:important|essential|crucial|critical|vital) that you " + CLAUSE + r") and that you are", r"\1 and be"),
    (r"((?:important|essential|crucial|critical|vital) that you " + CLAUSE + r") and that you", r"\1 and"),
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
]

THAT_AFTER_VERB_RULES: list[tuple[str, str]] = [
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
