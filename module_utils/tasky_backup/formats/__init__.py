"""The formats of a backup, one file each (targz.py, archive.py): how a backup of it is
produced, read through, given room and restored; base.py says what a format offers,
registry.py which one a run or a stored key uses."""
