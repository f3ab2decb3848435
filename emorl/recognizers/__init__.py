"""Emotion recognisers, one subpackage per modality.

- ``text``: text emotion recognition (TER)
- ``speech``: speech emotion recognition (SER), IS09 and Whisper-encoder variants
- ``fusion``: the fusion blocks joining the two branches
- ``iemonet``: IEmoNet, the bimodal recogniser on top of the three
- ``training``, ``calibration``, ``threads``: the training loop, temperature scaling and
  torch thread control shared by all of them
- ``experiments``: the paper's experiment runners, apart from the library
"""
