"""archive-builder: a static open-data archive of donated, de-identified imaging studies.

The package is laid out along the pipeline a donation travels:
``intake`` (read and check a package) -> ``deid`` (DICOM PS3.15 Annex E) ->
``store`` (one DataLad dataset per donation) -> ``catalog`` (Parquet) ->
``fair`` (descriptors, licence, citation) -> ``site`` (static website) ->
``release``. ``pipeline`` strings the stages together; ``cli`` is a thin
command-line layer over it.
"""

__version__ = "0.1.0"
