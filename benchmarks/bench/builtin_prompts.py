"""A small prompt set written for this project (no third-party data): short everyday requests of mixed
kinds, for `stellwerk bench --dataset builtin`. Answers' lengths come from `--output-tokens`."""

from __future__ import annotations

__all__ = ["BUILTIN_PROMPTS"]

BUILTIN_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "Explain in two sentences why the sky is blue.",
    "Write a short poem about a railway signal box at night.",
    "List three uses of copper in electrical engineering.",
    "Translate 'good morning, how are you?' into German.",
    "Summarise the plot of a detective story in which the butler is innocent.",
    "What is 17 multiplied by 23? Show the steps.",
    "Give me a recipe for a simple tomato soup.",
    "Write a Python function that reverses a string.",
    "Why do trains run on steel rails rather than on rubber tyres?",
    "Describe the water cycle to a ten-year-old.",
    "What are the advantages of renewable energy over coal?",
    "Suggest five names for a bakery by the harbour.",
    "Explain what a hash table is and when to use one.",
    "Write a polite email asking a colleague to review a document by Friday.",
    "Which planets in the solar system have rings?",
    "How does a bicycle stay upright while moving?",
    "Compose a haiku about autumn leaves.",
    "What is the difference between weather and climate?",
    "Explain recursion with a simple example.",
    "Give three tips for a good night's sleep.",
    "Write a SQL query that counts orders per customer.",
    "What causes the tides in the ocean?",
    "Describe a lighthouse to someone who has never seen the sea.",
    "Convert 100 degrees Fahrenheit to Celsius and explain the formula.",
    "Write the opening line of a fantasy novel.",
    "Why is the Roman Empire said to have fallen in 476?",
    "Explain how a vaccine trains the immune system.",
    "List the steps to change a flat tyre on a car.",
    "What is a prime number? Give the first ten.",
    "Write a limerick about a cat who loves violins.",
    "How do bees make honey?",
)
