"""`python -m mmrec_tf.cli`: the `mmrec-tf` command line."""

import sys

from mmrec_tf.cli import main

if __name__ == "__main__":
    sys.exit(main())
