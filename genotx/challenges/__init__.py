"""Challenges: tools that wrap any task's data, split or training through the protocol layer.

* :mod:`genotx.challenges.shift`: in-distribution vs shifted score and domain adaptation
  (``genotx shift TASK``; ``from genotx.challenges.shift import shift``);
* :mod:`genotx.challenges.fewshot`: score vs k labelled rows of a new entity
  (``genotx fewshot TASK``; ``from genotx.challenges.fewshot import fewshot``).

Each writes one JSON result (``<out>/challenges/<tool>_<task>*.json``, with a ``challenge`` key
naming the tool) and draws its figures from that JSON (``shift_figures``, ``fewshot_figures``).
Submodules are imported on use: importing this package loads nothing.
"""
