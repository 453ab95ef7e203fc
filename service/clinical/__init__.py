"""Pure clinical evaluation: a PatientRecord in, Findings out.

Nothing in this package imports Flask or does I/O, so every rule is a plain
function that can be tested on a plain record.
"""
