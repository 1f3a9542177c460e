"""Challenges: tools that wrap any task's data, split or training through the protocol layer.

* :mod:`genotx.challenges.shift`: in-distribution vs shifted score and domain adaptation
  (``genotx shift TASK``; ``from genotx.challenges.shift import shift``);
* :mod:`genotx.challenges.fewshot`: score vs k labelled rows of a new entity
  (``genotx fewshot TASK``; ``from genotx.challenges.fewshot import fewshot``);
* :mod:`genotx.challenges.fairness`: per-group scores (fairlearn ``MetricFrame``), the largest gap
  with a bootstrap interval, reweighting; a polygenic score across simulated ancestries
  (``genotx fairness TASK --by COLUMN``, ``genotx fairness prs``);
* :mod:`genotx.challenges.privacy`: DP-SGD (Opacus) privacy-utility curves and federated training
  (Flower) over real sites (``genotx privacy TASK``);
* :mod:`genotx.challenges.explain`: attributions -> motifs matched to references, or ranked features
  (SHAP), with randomisation checks (``genotx explain TASK [--input FILE]``).

Each writes one JSON result (``<out>/challenges/<tool>_<task>*.json``, with a ``challenge`` key
naming the tool) and draws its figures from that JSON; ``report_section(payload)`` is what the report
shows of it (:class:`genotx.challenges._results.Section`).
Submodules are imported on use: importing this package loads nothing.
"""
