"""The `mmrec-tf` command line: `main` runs it (the `mmrec-tf` console script).

`program` parses and runs a command; each other module holds a group of commands,
each command's parser (`add_<command>_command`) just above its handler.
"""

from mmrec_tf.cli.program import main

__all__ = ["main"]
