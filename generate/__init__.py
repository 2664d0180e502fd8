"""Generated data sets at scale: a province's 信访 case work, planned from a seed and recorded
in bulk through the ledger's own rules (``ledger.bulk``).

- ``hierarchy``: about a thousand units (province → cities → counties → townships, with their
  petition offices, supervision offices, discipline commissions and functional departments)
  and the people who work in them;
- ``matters``: what petitions are about and how often (channels, kinds, categories, outcomes,
  ratings), as data;
- ``stories``: the life of each case, told as the commands a clerk, a handler, a leader or the
  petitioner would give;
- ``run``: the stories merged into one log in the order things were written down, recorded in
  batches.
"""
