"""The seed quality criteria of the LAB skills notebooks, as deterministic checks.

Each family maps to one criterion: `context/` a clear task context, `input/` a realistic,
natural input, `output/` a complete, correct, well-formatted output, `ambiguity/` minimal
ambiguity, `diversity/` diversity across examples; `budget/` the size limits the taxonomy guide
and the teacher's context window set. The checks are cheap text heuristics chosen so that a
clean, human-written seed passes them and the mistakes seen in real contributions do not.
Where a heuristic can only guess (does the task description name an audience and an output
form? a word list decides), the finding is `info`, never a warning.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lab_tui.seeds.model import Finding, Skill
from lab_tui.seeds.similarity import first_near_duplicates, similarity, words

WORD_BUDGET = 2300
"""The taxonomy guide's budget for a skill's seed Q&A, in words."""
DEFAULT_TOKEN_LIMIT = 4096
"""Teacher context window an example must fit in (with room for the prompt around it)."""
CHARS_PER_TOKEN = 4
"""Token estimate without a tokenizer: ~4 characters a token for English text."""

Locate = Callable[[int | None, str | None], int | None]


@dataclass
class Check:
    skill: Skill
    locate: Locate
    token_limit: int
    findings: list[Finding]

    def add(self, rule: str, severity: str, message: str, example: int | None = None,
            field: str | None = None, fix: str | None = None) -> None:
        self.findings.append(Finding(rule, severity, message, example=example, field=field,
                                     line=self.locate(example, field), fix=fix))


PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z _-]{1,30}>|\{\{?\s*[A-Za-z_]\w*\s*\}?\}|\[(?:insert|your|placeholder)[^\]]*\]"
                         r"|\bTODO\b|\bTBD\b|\bFIXME\b|lorem ipsum|\bXXX+\b", re.IGNORECASE)
CODE = re.compile(r"```.*?(```|$)|`[^`\n]+`", re.DOTALL)
"""Code is exempt from the placeholder check: `{name}` and `<T>` are real syntax there."""
DANGLING = re.compile(r"\b(this|the above|the following|the given|the provided|the attached) "
                      r"(text|passage|paragraph|article|document|context|sentence|email|report|table)\b", re.IGNORECASE)
HEDGE = re.compile(r"\b(it depends|could mean|depending on (what|how) you mean|if you mean|not sure (what|whether)|"
                   r"ambiguous|(two|several|multiple) (possible )?interpretations)\b", re.IGNORECASE)
DANGLING_END = re.compile(r"(,|:|;|\(|\band|\bor|\bthe|\ba|\bto|\bof|\bwith|\.\.\.|…)\s*$", re.IGNORECASE)
ASKS_LIST = re.compile(r"\b(list|bullet(ed)? points?|bullets|enumerate|steps)\b", re.IGNORECASE)
ASKS_TABLE = re.compile(r"\btable\b", re.IGNORECASE)
ASKS_JSON = re.compile(r"\bjson\b", re.IGNORECASE)
LIST_LINE = re.compile(r"^\s*([-*•+]|\d+[.)])\s+", re.MULTILINE)
NUMBERED_LINE = re.compile(r"^(\s*)(\d{1,3})[.)]\s+")
VAGUE_TASK_WORDS = 6
DETERMINER = r"(a|an|the|our|their|your|my|each|every|all)"
AUDIENCE = re.compile(rf"\bfor ({DETERMINER} )?\w+|\bto {DETERMINER} \w+|\b(users?|customers?|clients?|"
                      r"employees?|staff|colleagues?|readers?|writers?|audiences?|students?|learners?|beginners?|"
                      r"children|people|teams?|managers?|developers?|stakeholders?|recipients?|you)\b", re.IGNORECASE)
FORM = re.compile(r"\b(emails?|letters?|lists?|tables?|json|yaml|summar(y|ies|ise|ize)|paragraphs?|sentences?|"
                  r"bullets?|reports?|poems?|limericks?|bios?|answers?|repl(y|ies)|responses?|rewrites?|tone|"
                  r"format(ted)?|words?|short|concise|brief|steps?|code|posts?|messages?|headlines?|titles?|"
                  r"synonyms?|questions?)\b", re.IGNORECASE)


def check_task_context(c: Check) -> None:
    task = c.skill.task_description.strip()
    if task and len(words(task)) < VAGUE_TASK_WORDS:
        c.add("context/vague-task", "warning",
              f"The task description has only {len(words(task))} words. Say what the model should do, for "
              "whom, and in what form (the teacher reads it in every prompt).", field="task_description")
    elif task:
        missing = [part for part, pattern in (("for whom", AUDIENCE), ("in what form", FORM))
                   if not pattern.search(task)]
        if missing:
            c.add("context/task-incomplete", "info",
                  f"The task description does not say {' or '.join(missing)} (e.g. \"for new employees\", "
                  "\"as a short email\"); the teacher generates better data when it knows.", field="task_description")
    with_context = [i for i, e in enumerate(c.skill.examples) if e.context is not None and e.context.strip()]
    if not with_context and c.skill.examples and c.skill.path is not None \
            and "grounded" in Path(c.skill.path).parts[:-1]:
        c.add("context/missing-context", "warning",
              "This skill sits under a `grounded` folder but no example has a context; a grounded skill "
              "needs the text each answer is based on.", example=0, field="context")
    if with_context and len(with_context) < len(c.skill.examples):
        grounded = set(with_context)
        for i in (i for i in range(len(c.skill.examples)) if i not in grounded):
            c.add("context/mixed-grounding", "warning",
                  "This example has no context while others have one: a grounded skill needs a context in "
                  "every example, a freeform skill in none.", example=i, field="context")


def check_inputs(c: Check) -> None:
    for i, example in enumerate(c.skill.examples):
        for field in ("context", "question", "answer"):
            text = getattr(example, field) or ""
            match = PLACEHOLDER.search(CODE.sub(" ", text))
            if match:
                c.add("input/placeholder", "warning",
                      f"`{match.group(0)}` looks like a template placeholder left in; write the real text.",
                      example=i, field=field)
        question = example.question.strip()
        if question and len(words(question)) <= 2:
            c.add("input/keyword-question", "warning",
                  f"The question is only {len(words(question))} word(s); write it as a user would ask it.",
                  example=i, field="question")
        context = (example.context or "").strip()
        if context and question and len(words(question)) >= 4 and (
            question.lower() in context.lower() or similarity(question, context) >= 0.8
        ):
            c.add("input/copied-from-context", "warning",
                  "The question is copied from the context; ask about the context instead.",
                  example=i, field="question")


def check_outputs(c: Check) -> None:
    for i, example in enumerate(c.skill.examples):
        answer = example.answer
        if not answer.strip():
            c.add("output/empty", "warning", "The answer is empty.", example=i, field="answer")
            continue
        stripped = answer.rstrip()
        if DANGLING_END.search(stripped) and not stripped.endswith("```"):
            c.add("output/truncated", "warning",
                  "The answer seems cut off (it ends mid-sentence); finish it.", example=i, field="answer")
        if example.question.strip() and similarity(answer, example.question) >= 0.8:
            c.add("output/restates-question", "warning",
                  "The answer mostly repeats the question instead of answering it.", example=i, field="answer")
        if answer.count("```") % 2:
            c.add("output/unbalanced-fence", "warning",
                  "The answer opens a ``` code block that it never closes.", example=i, field="answer")
        gap = _numbering_gap(answer)
        if gap:
            c.add("output/broken-list", "warning",
                  f"The answer's numbered list goes from {gap[0]} to {gap[1]}; renumber it so no item looks lost.",
                  example=i, field="answer")
        question = example.question
        if ASKS_TABLE.search(question) and "|" not in answer and "\t" not in answer:
            c.add("output/format-ignored", "warning",
                  "The question asks for a table but the answer has none.", example=i, field="answer")
        elif ASKS_JSON.search(question) and not _has_json(answer):
            c.add("output/format-ignored", "warning",
                  "The question asks for JSON but the answer contains no JSON that parses.", example=i, field="answer")
        elif ASKS_LIST.search(question) and not LIST_LINE.search(answer) and answer.count("\n") < 2:
            c.add("output/format-ignored", "info",
                  "The question asks for a list but the answer is a single paragraph.", example=i, field="answer")


def _numbering_gap(text: str) -> tuple[int, int] | None:
    """The first place a numbered list (at one indentation) skips or repeats a number."""
    last: dict[int, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = NUMBERED_LINE.match(line)
        if in_code or not match:
            continue
        indent, number = len(match.group(1)), int(match.group(2))
        previous = last.get(indent)
        if previous is not None and number != previous + 1 and number != 1:
            return previous, number
        last[indent] = number
    return None


def _has_json(text: str) -> bool:
    for opening, closing in (("{", "}"), ("[", "]")):
        start, end = text.find(opening), text.rfind(closing)
        if 0 <= start < end:
            try:
                json.loads(text[start:end + 1])
                return True
            except ValueError:
                pass
    return False


def check_ambiguity(c: Check) -> None:
    for i, example in enumerate(c.skill.examples):
        question = example.question
        has_context = bool((example.context or "").strip())
        inline_material = ":" in question or "\n" in question.strip() or '"' in question
        if not has_context and not inline_material and DANGLING.search(question):
            c.add("ambiguity/dangling-reference", "warning",
                  f"The question refers to \"{DANGLING.search(question).group(0)}\" but the example has no "
                  "context and the question quotes nothing.", example=i, field="question")
        if question.count("?") >= 2:
            c.add("ambiguity/several-questions", "info",
                  f"The question asks {question.count('?')} things at once; one clear request per example "
                  "is easier to learn from.", example=i, field="question")
        if HEDGE.search(example.answer):
            c.add("ambiguity/hedging", "info",
                  "The answer hedges between interpretations; make the question precise instead.",
                  example=i, field="answer")


def check_diversity(c: Check) -> None:
    examples = c.skill.examples
    for field in ("context", "question", "answer"):
        texts = [(getattr(e, field) or "") for e in examples]
        for i, j, score in first_near_duplicates(texts):  # each repeat once, against the first example it repeats
            exact = texts[i].strip() == texts[j].strip()
            c.add(f"diversity/{'duplicate' if exact else 'near-duplicate'}-{field}", "warning",
                  f"This {field} is {'the same as' if exact else f'nearly the same ({score:.0%} overlap) as'} "
                  f"example {i + 1}'s; vary the examples so the teacher generalises.", example=j, field=field)
    if len(examples) >= 3:
        openings = {" ".join(words(e.question)[:3]) for e in examples}
        if len(openings) == 1 and openings != {""}:
            c.add("diversity/same-opening", "info",
                  f"Every question opens with \"{openings.pop()}\"; vary the phrasing.", field="question")
        lengths = [len(words(e.answer)) for e in examples]
        if min(lengths) > 0 and statistics.pstdev(lengths) / statistics.mean(lengths) < 0.1:
            c.add("diversity/same-length", "info",
                  "All answers have about the same length; include shorter and longer ones.", field="answer")


def check_budget(c: Check) -> None:
    total = sum(len(words(" ".join(filter(None, (e.context, e.question, e.answer))))) for e in c.skill.examples)
    if total > WORD_BUDGET:
        c.add("budget/too-many-words", "warning",
              f"The seed examples total {total} words, over the taxonomy's budget of {WORD_BUDGET}; shorten them.",
              field="seed_examples")
    for i, example in enumerate(c.skill.examples):
        chars = sum(len(text or "") for text in (example.context, example.question, example.answer))
        tokens = chars // CHARS_PER_TOKEN
        if tokens > c.token_limit:
            c.add("budget/example-too-long", "warning",
                  f"This example is about {tokens} tokens, over the {c.token_limit}-token limit set for the "
                  "teacher's context window.", example=i, field="context" if example.context else "answer")


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters (escape sequences start with one); newlines and tabs are ordinary text."""


def check_control_characters(c: Check) -> None:
    """A seed with an escape sequence retitles terminals and ends up in every prompt made from it."""
    fields = [(None, "task_description", c.skill.task_description)] + [
        (i, field, getattr(e, field) or "") for i, e in enumerate(c.skill.examples) for field in EXAMPLE_FIELDS]
    for example, field, text in fields:
        found = CONTROL.search(text)
        if found:
            c.add("text/control-character", "warning",
                  f"The {field.replace('_', ' ')} holds a control character (U+{ord(found.group()):04X}, e.g. the "
                  "start of a terminal escape sequence); remove it.", example=example, field=field)


EXAMPLE_FIELDS = ("context", "question", "answer")
CHECKS = (check_task_context, check_inputs, check_outputs, check_ambiguity, check_diversity, check_budget,
          check_control_characters)


def quality_findings(skill: Skill, locate: Locate, token_limit: int = DEFAULT_TOKEN_LIMIT) -> list[Finding]:
    check = Check(skill, locate, token_limit, [])
    for run in CHECKS:
        run(check)
    return check.findings
