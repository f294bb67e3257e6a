"""The pure core: text normalisation, the query language, matching, URLs, dates, digest selection.

Pure: standard library only, no I/O, no clock (``now`` is always a parameter).
"""
