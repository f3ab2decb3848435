"""The paper's recogniser experiments, kept apart from the library they run.

- ``bimodal``: one train/test split of TER + SER + fusion (shared by the runners below)
- ``iemocap``: the IEMOCAP speaker-independent cross-validation
- ``paired``: IEmoNet from separate text and speech corpora paired by label (``emorl train fusion``)
"""
