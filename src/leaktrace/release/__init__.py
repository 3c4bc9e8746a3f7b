"""Traceable releases (可追溯的数据发布): what makes every exported copy unique and recorded.

- :mod:`leaktrace.release.export` — ``leaktrace export``: read, match, sample, mark, mask, add
  decoys, write, record (release row, members, decoy tokens, ledger entry), and recover
  interrupted exports.
- :mod:`leaktrace.release.policy` — per-role policies from ``leaktrace.toml``.
- :mod:`leaktrace.release.subset` — keyed subsets: two recipients of the same request overlap as
  little as possible.
- :mod:`leaktrace.release.marks` — keyed marks: per record and field, one of q equivalent forms
  (address suffixes, the last digit of non-round amounts, the order of listed items), picked by
  a PRF keyed by (mark key, release, record token, field), and read back with a binomial test.
- :mod:`leaktrace.release.decoys` — decoy customers unique to one release: realistic,
  checksum-valid, with phone numbers only from the institution's own pool, at keyed positions.
- :mod:`leaktrace.release.writers` — the output formats, each hashed as written.
"""
