"""The add-on's schema revisions, ``NNNN_<what changed>.py``, oldest first."""
